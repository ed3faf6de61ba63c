"""Subcommands of the ``spectral-fast`` CLI, registered in ``spectral_fast.cli.SUBCOMMANDS``."""

from __future__ import annotations

import argparse


def positive_int(value: str) -> int:
    """argparse type: an integer >= 1 (argparse shows the message with the option's name)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number
