"""Subcommands of the ``spectral-fast`` CLI, registered in ``spectral_fast.cli.SUBCOMMANDS``."""
