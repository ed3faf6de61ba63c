"""Profile local archives: plan the inputs, stream batches through the core, write them durably (``profile_archive``).

The unit of work is :func:`spectral_fast.ingest.batch.process_batch`; this
driver plans the inputs (:mod:`~spectral_fast.ingest.sources`), streams
batches through it on the core's threads (decode and profile without the
GIL) and writes rows as they finish (:mod:`~spectral_fast.ingest.journal`),
so a killed run can be resumed. ``engine="ray"`` hands the same batches to
:mod:`~spectral_fast.ingest.ray`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from spectral_fast import _core
from spectral_fast.errors import InvalidInputError
from spectral_fast.ingest import budget as _budget
from spectral_fast.ingest.batch import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_PIXELS,
    checked_options,
    process_batch,
)
from spectral_fast.ingest.journal import Journal
from spectral_fast.ingest.pacing import BatchPacer
from spectral_fast.ingest.sources import plan
from spectral_fast.profiling.options import resolve_options

#: Batches in the core at once with two or more threads (see ``profile_archive``). With
#: one thread the core profiles on the calling thread, so one batch at a time keeps it one.
IN_FLIGHT = 2


@dataclass
class ArchiveSummary:
    """What a :func:`profile_archive` run did."""

    output: Path
    ok: int = 0
    errors: int = 0
    skipped: int = 0  # rows already in the output (resume)
    retried: int = 0  # error rows of earlier runs profiled again (retry_errors)
    previous_ok: int = 0
    seconds: float = 0.0
    error_kinds: Counter = field(default_factory=Counter)
    #: Threads and image limit chosen for the memory budget (local engine).
    memory: _budget.MemoryPlan | None = None

    @property
    def processed(self) -> int:
        return self.ok + self.errors

    @property
    def images_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def total_ok(self) -> int:
        """``ok`` rows in the output, including those of earlier runs."""
        return self.ok + self.previous_ok

    def line(self) -> str:
        """One-line summary: counts, time and rate."""
        kinds = ", ".join(f"{n} {k}" for k, n in self.error_kinds.most_common())
        text = f"{self.ok} profiled, {self.errors} errors"
        if kinds:
            text += f" ({kinds})"
        if self.retried:
            text += f", {self.retried} earlier errors retried"
        if self.skipped:
            text += f", {self.skipped} already done"
        return f"{text} in {self.seconds:.1f} s ({self.images_per_second:.1f} images/s) -> {self.output}"


def profile_archive(
    inputs: Sequence[Any] | Any,
    output: str | os.PathLike[str],
    *,
    size: int | None = None,
    bands: int = 32,
    spacing: str = "log",
    window: str = "hann",
    artefacts: bool = True,
    threads: int | None = None,
    batch_size: int | None = None,
    resume: bool = False,
    retry_errors: bool = False,
    overwrite: bool = False,
    max_pixels: int | None = None,
    max_memory: int | str | None = None,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    id_column: str | None = None,
    bytes_column: str | None = None,
    progress: bool | None = None,
    dicom_fallback: bool = True,
    engine: str = "local",
    address: str | None = None,
) -> ArchiveSummary:
    """Profile every image of ``inputs`` into the Parquet file ``output``.

    Parameters
    ----------
    inputs : path, glob, table, or a list of them
        Folders (recursive), image files, text files of paths (``.txt``,
        ``.lst``, ``.list``), glob patterns, Parquet or Arrow IPC files with a
        column of encoded bytes and an id column, or in-memory Arrow tables
        (pyarrow, polars). See :mod:`spectral_fast.ingest.sources` for the ids.
    output : path
        The Parquet file to write. Rows are journalled in ``<output>.parts``
        as batches finish; the file appears, complete, when the run ends.
    size, bands, spacing, window, artefacts, dicom_fallback
        As in :func:`process_batch`. ``artefacts`` is recorded with the other
        options: a resume or a merge must use the same value.
    threads, max_pixels : int or None
        As in :func:`process_batch`, within ``max_memory``: at most
        ``threads`` are used, and ``max_pixels`` (default: what fits in a
        thread's share of the budget, at most 100,000,000) is kept by using
        fewer threads. The value used is recorded with the options.
    max_memory : int, str or None
        Memory budget of the run, bytes or a size such as ``"2G"`` (default:
        half the available memory, at most 4 GiB). Threads and the image
        limit are chosen so that the peak stays under it
        (:mod:`spectral_fast.ingest.budget`, ``docs/guides/profiling.md``);
        ``summary.memory`` says what was chosen. Local engine only.
    batch_size : int or None, default None
        Files per batch; a kill loses at most the two batches in flight.
        ``None`` starts at 64 and sizes later batches to about half a second
        each (up to 4096 files), so that thumbnails do not pay a batch's
        fixed cost every few milliseconds (:mod:`spectral_fast.ingest.pacing`).
        The Ray engine takes 64 for ``None``.
    resume : bool, default False
        Skip the ids already in ``output`` or its journal (a killed or an
        earlier run) and add the rest; options must match that run's.
    retry_errors : bool, default False
        With ``resume``: profile again the files whose rows in the output or
        its journal are error rows (a transient I/O error, a file since
        repaired), replacing each such row by its new result; nothing else
        is recomputed. The new rows follow the earlier ones. Interrupting the
        retry loses nothing: the old rows are only dropped when the run ends.
    overwrite : bool, default False
        Replace an existing output or journal instead of refusing.
    include, exclude : list of glob patterns
        Keep ids matching any ``include`` pattern and none of ``exclude``
        (patterns without ``/`` also match the file name alone).
    id_column, bytes_column : str
        Column names of table inputs (default ``id`` or ``path``; ``bytes``
        or the only binary column).
    progress : bool or None
        Progress bar on stderr; ``None`` shows it when stderr is a terminal.
    engine : {"local", "ray"}, default "local"
        ``"ray"`` profiles the batches on a Ray cluster
        (:mod:`spectral_fast.ingest.ray`, extra ``spectral-fast[ray]``) and writes
        the same file; ``threads`` is then the CPUs (and core threads) per
        Ray task, default 1, and every node must see the input paths.
    address : str or None
        Ray cluster address for ``engine="ray"`` (``None``: ``RAY_ADDRESS``,
        else a new local Ray instance). An existing connection of this
        process is used as is; a new one stays open after the run.

    Returns
    -------
    ArchiveSummary
        Counts, time and rate; ``summary.line()`` is the CLI's summary.

    Raises
    ------
    InvalidInputError
        Invalid options, missing inputs, duplicate ids, an output that exists
        without ``resume``/``overwrite``, or a resume with other options.
    KeyboardInterrupt
        The journal is kept; run again with ``resume=True`` to continue.
    """
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 1_000_000
    ):
        raise InvalidInputError(f"batch_size must be an integer in [1, 1000000], got {batch_size!r}")
    if retry_errors and not resume:
        raise InvalidInputError(
            "retry_errors (--retry-errors) re-profiles the error rows of an earlier run; it needs resume=True (--resume)"
        )
    # Every option is validated in the core before the disk is touched.
    profile_kwargs = dict(size=size, bands=bands, spacing=spacing, window=window, artefacts=artefacts, threads=threads)
    opts = resolve_options(None, profile_kwargs, "profile_archive")
    checked_options(opts, max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels)
    if resume and max_pixels is None:
        max_pixels = _recorded_max_pixels(output)  # a budget-derived limit must not change on resume
    memory = _memory_plan(engine, max_memory, threads, max_pixels)
    if memory is not None:
        opts = dataclasses.replace(opts, threads=memory.threads)
        max_pixels = memory.max_pixels
    elif max_pixels is None:  # Ray: the limit a local run would record, so that runs resume and merge across engines
        max_pixels = _budget.default_max_pixels(DEFAULT_MAX_PIXELS)
    options, schema = checked_options(opts, max_pixels=max_pixels)  # what the journal records
    ray_outputs = _engine(engine, address)
    journal = Journal(output, options, resume=resume, overwrite=overwrite)
    sources = plan(
        inputs,
        include=include,
        exclude=exclude,
        skip_paths=journal.paths(),
        id_column=id_column,
        bytes_column=bytes_column,
    )
    total = sum(len(s.ids) for s in sources)
    if total == 0:
        raise InvalidInputError("no file to profile in the inputs (after include/exclude patterns)")
    if ray_outputs is not None:
        from spectral_fast.ingest.ray import connect

        # Inputs are valid: connect now, so a wrong address fails before the output is touched.
        # Ray stays connected afterwards (as Ray Data leaves it), so later runs skip its start-up.
        connect(address)

    start = time.perf_counter()
    bar = None
    try:
        retry = pa.array([i for s in sources for i in s.ids], pa.string()) if retry_errors else None
        done = journal.open(schema, retry=retry)
        summary = ArchiveSummary(
            output=Path(output),
            skipped=len(done),
            retried=journal.retried,
            previous_ok=journal.previous_ok,
            memory=memory,
        )
        bar = _progress_bar(total - summary.skipped, progress)
        if bar is not None and memory is not None:
            bar.write(memory.line(), file=sys.stderr)
        pacer = BatchPacer(batch_size, start=DEFAULT_BATCH_SIZE)
        in_flight = IN_FLIGHT if _core.resolve_thread_count(opts.threads) > 1 else 1
        # Two batches are in the core at once: the pool's workers take the next
        # batch's images while the last images of this one finish, so no core
        # idles at a batch boundary or while Python handles a result. The
        # journal write of a batch (Parquet + two fsyncs) runs on its own
        # thread meanwhile; the GIL is free in all of them. One write at a time
        # keeps parts in order; a kill loses at most the batches in flight.
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="spectral-fast-journal") as writer,
            ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="spectral-fast-batch") as runner,
        ):
            pending = None
            running: deque[Future[pa.RecordBatch]] = deque()
            try:
                if ray_outputs is not None:
                    outputs = ray_outputs(
                        sources,
                        opts,
                        batch_size=batch_size or DEFAULT_BATCH_SIZE,
                        done=done,
                        max_pixels=max_pixels,
                        dicom_fallback=dicom_fallback,
                        address=address,
                    )
                else:
                    batches = (batch for source in sources for batch in source.batches(pacer, done))
                    outputs = _in_flight(
                        runner,
                        running,
                        in_flight,
                        (
                            lambda b=batch: process_batch(b, opts, max_pixels=max_pixels, dicom_fallback=dicom_fallback)
                            for batch in batches
                        ),
                    )
                for out in outputs:
                    pacer.done(out.num_rows)
                    if pending is not None:
                        pending.result()
                    pending = writer.submit(journal.add, out)
                    _count(summary, out)
                    if bar is not None:
                        bar.update(out.num_rows)
                        bar.set_postfix(errors=summary.errors, refresh=False)
            except BaseException:
                for job in running:
                    job.cancel()
                wait([*running, *([pending] if pending is not None else [])])  # let work end before abandon()
                raise
            if pending is not None:
                pending.result()  # surface an error of the last write
        journal.finish()
    except BaseException:
        journal.abandon()
        raise
    finally:
        if bar is not None:
            bar.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _in_flight(
    runner: ThreadPoolExecutor, running: deque, most: int, jobs: Iterator[Callable[[], pa.RecordBatch]]
) -> Iterator[pa.RecordBatch]:
    """Results of ``jobs`` in order, with up to ``most`` of them running on ``runner`` at once.

    The next job is only taken from ``jobs`` (which builds its batch) once a
    slot is free, so batch sizes chosen from the rate so far stay current.
    """
    for job in jobs:
        running.append(runner.submit(job))
        if len(running) >= most:
            yield running.popleft().result()
    while running:
        yield running.popleft().result()


def _memory_plan(engine: str, max_memory: int | str | None, threads: int | None, max_pixels: int | None):
    """Threads and image limit within the budget (local engine); ``None`` for Ray."""
    if engine != "local":
        if max_memory is not None:
            raise InvalidInputError("max_memory applies to engine='local' only (Ray tasks are sized by Ray)")
        return None
    limit = _budget.default_budget() if max_memory is None else _budget.parse_size(max_memory)
    return _budget.plan_memory(limit, threads=threads, max_pixels=max_pixels, default_max_pixels=DEFAULT_MAX_PIXELS)


def _recorded_max_pixels(output: str | os.PathLike[str]) -> int | None:
    """The ``max_pixels`` of the run being resumed (its journal, else its output), if any."""
    import json

    run = Path(str(output) + ".parts") / "run.json"
    try:
        meta = (
            json.loads(run.read_text()) if run.exists() else (run_options(output) if Path(output).is_file() else None)
        )
    except (OSError, ValueError):
        return None
    value = (meta or {}).get("options", {}).get("max_pixels")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _engine(engine: str, address: str | None):
    """``None`` for the local engine; the Ray engine's batch iterator for ``"ray"``."""
    if engine == "local":
        if address is not None:
            raise InvalidInputError("address applies to engine='ray' only")
        return None
    if engine != "ray":
        raise InvalidInputError(f"engine must be 'local' or 'ray', got {engine!r}")
    try:  # optional extra: checked before any file is touched
        from spectral_fast.ingest.ray import iter_profiles
    except ImportError as exc:
        raise InvalidInputError(f"engine='ray': {exc}") from exc
    return iter_profiles


def _count(summary: ArchiveSummary, out: pa.RecordBatch) -> None:
    ok = out.column("status").to_pylist().count("ok")
    summary.ok += ok
    summary.errors += out.num_rows - ok
    if ok < out.num_rows:
        summary.error_kinds.update(k for k in out.column("error_kind").to_pylist() if k is not None)


def _progress_bar(total: int, progress: bool | None):
    show = sys.stderr.isatty() if progress is None else progress
    if not show or total <= 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="img", desc="profile", dynamic_ncols=True, smoothing=0.1, file=sys.stderr)


def run_options(output: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The version and options stored in a profiles file by :func:`profile_archive`."""
    from spectral_fast.profiling.metadata import read_metadata

    return read_metadata(output)
