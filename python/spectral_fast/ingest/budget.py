"""A memory budget for a run: the threads and the largest image that fit in it (``plan_memory``).

A worker thread holds one image at a time: the encoded file, the decoded
pixels and the profile's working arrays, which together come to about
:data:`BYTES_PER_PIXEL` bytes per pixel (measured, ``evaluation/results/memory.md``);
the process itself (Python, pyarrow, the core, a batch of rows) takes about
:data:`RESERVE`. So a run of ``threads`` threads whose images have at most
``max_pixels`` pixels peaks near ``RESERVE + threads * BYTES_PER_PIXEL * max_pixels``.
:func:`plan_memory` picks ``threads`` and ``max_pixels`` to keep that under
the budget; the rules and the default budget are in ``docs/guides/profiling.md``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from spectral_fast import _core
from spectral_fast.errors import InvalidInputError

__all__ = [
    "BYTES_PER_PIXEL",
    "MIN_IMAGE_PIXELS",
    "RESERVE",
    "MemoryPlan",
    "default_budget",
    "parse_size",
    "plan_memory",
]

#: Peak bytes per pixel of the largest image, per worker thread (measured: 22-25 on 8/16-bit PNGs and TIFFs).
BYTES_PER_PIXEL = 26
#: Bytes for the process itself: interpreter, pyarrow, the core, the rows in flight.
RESERVE = 384 << 20
#: The image limit is never lowered below a 4096 x 4096 radiograph; threads are dropped first.
MIN_IMAGE_PIXELS = 4096 * 4096
#: The default budget is half the available memory, at most this.
DEFAULT_CAP = 4 << 30

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str | int) -> int:
    """Bytes of a size such as ``2G``, ``512M``, ``1.5GiB`` or ``1073741824`` (binary units)."""
    if isinstance(text, bool):
        raise InvalidInputError(f"max_memory must be a size such as '2G' or a number of bytes, got {text!r}")
    if isinstance(text, int):
        value = text
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", str(text), flags=re.IGNORECASE)
        if not match:
            raise InvalidInputError(
                f"max_memory must be a size such as '2G', '512M' or a number of bytes, got {text!r}"
            )
        value = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if value <= 0:
        raise InvalidInputError(f"max_memory must be positive, got {text!r}")
    return value


def available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux ``MemAvailable``), or ``None`` if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_budget() -> int:
    """Half the available memory, at most 4 GiB (4 GiB when the available memory is unknown).

    Rounded down to a multiple of 512 MiB (at least 512 MiB), so that runs a
    moment apart (a run and its resume, two runs to merge) choose the same
    image limit although the free memory moves a little.
    """
    available = available_memory()
    if available is None:
        return DEFAULT_CAP
    step = 512 << 20
    return max(step, min(available // 2, DEFAULT_CAP) // step * step)


@dataclass(frozen=True)
class MemoryPlan:
    """What a run may use: ``threads`` workers on images of at most ``max_pixels`` pixels."""

    budget: int
    threads: int
    max_pixels: int
    requested_threads: int

    @property
    def peak_estimate(self) -> int:
        """Bytes the run should stay under: the reserve plus the largest image on every thread."""
        return RESERVE + self.threads * BYTES_PER_PIXEL * self.max_pixels

    def line(self) -> str:
        """One line for the CLI: the budget and what was chosen."""
        text = (
            f"memory budget {_mib(self.budget)}: {self.threads} thread{'s' if self.threads != 1 else ''}, "
            f"images up to {self.max_pixels:,} pixels (estimated peak {_mib(self.peak_estimate)})"
        )
        if self.threads < self.requested_threads:
            text += f"; {self.requested_threads} threads would not fit"
        return text


def plan_memory(budget: int, *, threads: int | None, max_pixels: int | None, default_max_pixels: int) -> MemoryPlan:
    """Threads and image limit for ``budget`` bytes.

    ``threads`` (``None``: ``SPECTRAL_FAST_THREADS`` or all cores) is the most
    used. An explicit ``max_pixels`` is kept and threads are dropped until the
    largest image fits on each; without one the limit is what fits in a
    thread's share (at most ``default_max_pixels``), dropping threads only to
    keep it at or above :data:`MIN_IMAGE_PIXELS`. Raises ``InvalidInputError``
    when one thread cannot hold the largest image.
    """
    requested = _core.resolve_thread_count(threads)
    usable = budget - RESERVE
    per_thread = lambda pixels: BYTES_PER_PIXEL * pixels  # noqa: E731
    floor = max_pixels if max_pixels is not None else min(MIN_IMAGE_PIXELS, default_max_pixels)
    if usable < per_thread(floor):
        need = RESERVE + per_thread(floor)
        what = f"max_pixels={max_pixels:,}" if max_pixels is not None else f"a {floor:,}-pixel image"
        raise InvalidInputError(
            f"max_memory {_mib(budget)} is too small for even one thread with {what}: that needs about "
            f"{_mib(need)} ({_mib(RESERVE)} for the process + {BYTES_PER_PIXEL} bytes per pixel); "
            "raise max_memory (--max-memory) or lower max_pixels (--max-pixels)"
        )
    if max_pixels is not None:
        fit = min(requested, usable // per_thread(max_pixels))
        return MemoryPlan(budget, fit, max_pixels, requested)
    fit = min(requested, usable // per_thread(floor))
    limit = min(default_max_pixels, usable // (fit * BYTES_PER_PIXEL))
    return MemoryPlan(budget, fit, limit, requested)


def _mib(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n >> 20} MiB"


def default_max_pixels(default_max_pixels: int) -> int:
    """The image limit a run gets without ``max_pixels``: what the default budget gives on this machine.

    The same for every engine (local or Ray, whatever its thread count per task), so that their
    runs record the same options and can be resumed and merged across engines.
    """
    return plan_memory(
        default_budget(), threads=None, max_pixels=None, default_max_pixels=default_max_pixels
    ).max_pixels
