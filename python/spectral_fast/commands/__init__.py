"""Subcommands of the ``spectral-fast`` CLI, registered in ``spectral_fast.cli.SUBCOMMANDS``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def positive_int(value: str) -> int:
    """argparse type: an integer >= 1 (argparse shows the message with the option's name)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number


def fraction(value: str) -> float:
    """argparse type: a number in (0, 1]."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {value!r}") from None
    if not 0.0 < number <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {value!r}")
    return number


def add_id_columns(parser: argparse.ArgumentParser, *, predictions: bool, legacy: str) -> None:
    """``--profile-id-col`` (and ``--pred-id-col`` when the command reads predictions), the same in every command.

    ``legacy`` names the dest the old ``--id-col`` filled in this command
    (``"pred_id_col"`` in report, ``"profile_id_col"`` in predict and
    monitor); it still works and warns on stderr with that meaning.
    """
    parser.add_argument("--profile-id-col", default="id", metavar="C", help="id column of the profiles (default: id)")
    if predictions:
        parser.add_argument("--pred-id-col", default="id", metavar="C",
                            help="id column of the predictions (default: id)")  # fmt: skip
    flag = "--" + legacy.replace("_", "-")
    parser.add_argument("--id-col", dest=legacy, action=_LegacyIdCol, metavar="C",
                        help=f"deprecated alias of {flag}")  # fmt: skip


class _LegacyIdCol(argparse.Action):
    """The old ``--id-col``: sets its per-command meaning and warns once, in one line."""

    def __call__(self, parser, namespace, value, option_string=None):
        flag = "--" + self.dest.replace("_", "-")
        what = "predictions'" if self.dest == "pred_id_col" else "profiles'"
        print(f"{parser.prog}: warning: --id-col is deprecated; here it means {flag} (the {what} id column), "
              f"use {flag}", file=sys.stderr)  # fmt: skip
        setattr(namespace, self.dest, value)


def check_output_dir(path: str | Path, overwrite: bool) -> None:
    """Refuse to write into a non-empty existing folder without ``--overwrite`` (or a file in its place)."""
    from spectral_fast.errors import InvalidInputError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"-o {path}: exists and is not a folder")
    if not overwrite and path.is_dir() and any(path.iterdir()):
        raise InvalidInputError(f"-o {path}: the folder exists and is not empty; give --overwrite to replace its files")


def check_images_dir(path: str | Path | None) -> None:
    """A given ``--images`` folder must exist."""
    from spectral_fast.errors import InvalidInputError

    if path is not None and not Path(path).is_dir():
        raise InvalidInputError(f"--images {path}: no such folder (the folder the profile ids are relative to)")
