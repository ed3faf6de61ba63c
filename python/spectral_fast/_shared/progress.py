"""Stage lines and progress bars of the long steps, on stderr, only when a person is watching.

Shown when stderr is a terminal and :func:`set_quiet` has not been called
(the CLI's ``--quiet``); pipes, logs and notebooks get nothing, so the
output of a script stays what it prints itself.
"""

from __future__ import annotations

import sys
from typing import Any

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence (True) or allow (False) stage lines and bars for the rest of the process."""
    global _quiet
    _quiet = bool(quiet)


def enabled() -> bool:
    """True when stage lines and bars are shown: stderr is a terminal and not quiet."""
    return not _quiet and sys.stderr.isatty()


def stage(message: str) -> None:
    """One line naming the step that starts, e.g. ``stage("clustering 1,200 images")``."""
    if enabled():
        print(f"spectral-fast: {message}", file=sys.stderr, flush=True)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def bar(total: int, desc: str, unit: str = "it") -> Any:
    """A tqdm bar of ``total`` steps (a no-op object when not :func:`enabled`); use as a context manager."""
    if not enabled() or total <= 0:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, smoothing=0.1, file=sys.stderr, leave=False)
