"""How many files the next batch of a local run takes (``batch_size=None``).

A batch is the unit of durability (a kill loses at most the batches in
flight) and carries a fixed cost: a call into the core, a journal part with
two fsyncs, Arrow conversions. At 1024^2 the default 64 files take a few
tenths of a second, so that cost is noise; at 96^2 they take milliseconds
and the fixed cost would dominate. :class:`BatchPacer` therefore starts at
``DEFAULT_BATCH_SIZE`` files and sizes later batches from the run's measured
rate so that each takes about :data:`TARGET_SECONDS`, between the default and
:data:`MAX_BATCH_FILES` files; it never grows by more than a factor of four
at a time. The rate is the run's own (files done over wall time since the
first batch started), so a loaded machine gives smaller batches, not longer
ones. Why the overhead matters: ``docs/benchmarks.md``.
"""

from __future__ import annotations

import time

#: Wall time a batch should take once the rate is known.
TARGET_SECONDS = 0.5
#: Most files in one adaptive batch (a 96^2 thumbnail archive reaches it).
MAX_BATCH_FILES = 4096


class BatchPacer:
    """Next batch size from the rate so far; a fixed ``size`` when given one.

    Call the instance for the size of the next batch, and :meth:`done` with
    the rows of each batch as it finishes.
    """

    def __init__(self, size: int | None, *, start: int, target_s: float = TARGET_SECONDS) -> None:
        self.fixed = size
        self.size = size if size is not None else start
        self._floor = start
        self._target = target_s
        self._t0: float | None = None
        self._rows = 0

    def __call__(self) -> int:
        if self._t0 is None:
            self._t0 = time.perf_counter()
        return self.size

    def done(self, rows: int) -> None:
        """Record a finished batch of ``rows`` files and resize the next ones."""
        self._rows += rows
        if self.fixed is not None or self._t0 is None:
            return
        elapsed = time.perf_counter() - self._t0
        if elapsed <= 0 or self._rows == 0:
            return
        want = int(self._rows / elapsed * self._target)
        self.size = max(self._floor, min(want, 4 * self.size, MAX_BATCH_FILES))
