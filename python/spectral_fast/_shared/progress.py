"""Stage lines and progress bars of the long steps, on stderr, only when a person is watching.

Shown when stderr is a terminal and :func:`set_quiet` has not been called
(the CLI's ``--quiet``); pipes, logs and notebooks get nothing, so the
output of a script stays what it prints itself.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

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


def counted(items: Iterable[T], total: int, desc: str, unit: str = "it", *, every: int = 0) -> Iterator[T]:
    """``items`` as they are, behind a :func:`bar` of ``total`` steps: wrap a long loop with it.

    The bar advances every ``every`` items (default: about 1 % of
    ``total``), so a loop of cheap steps pays one counter increment per item.
    When bars are off (not :func:`enabled`) the items are returned untouched.
    """
    if not enabled() or total <= 0:
        return iter(items)
    return _counting(items, total, desc, unit, every if every > 0 else max(1, total // 100))


def _counting(items: Iterable[T], total: int, desc: str, unit: str, every: int) -> Iterator[T]:
    with bar(total, desc, unit) as progress:
        pending = 0
        for item in items:
            yield item
            pending += 1
            if pending >= every:
                progress.update(pending)
                pending = 0
        progress.update(pending)
