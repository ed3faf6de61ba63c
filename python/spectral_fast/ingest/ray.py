"""Profile archives on a Ray cluster with Ray Data: the same rows as the local profiler, spread over many machines.

Install with ``pip install "spectral-fast[ray]"``. Three ways in:

* :func:`profile_dataset` turns a Ray Dataset of encoded images (from
  ``ray.data.read_binary_files(..., include_paths=True)`` or
  ``ray.data.read_parquet``), or the inputs the local CLI takes (folders,
  globs, lists of paths, Parquet files), into a lazy Dataset of profile rows.
* :func:`write_profiles` runs it and writes one Parquet shard per block
  (``Dataset.write_parquet``), each with the run's options in its metadata;
  :func:`spectral_fast.ingest.merge.combine_profiles` reads the shards back as one
  table.
* ``spectral-fast profile ... --engine ray [--address ADDR]`` (or
  ``profile_archive(..., engine="ray")``) runs the same plan on Ray and
  writes the same single, resumable Parquet file as a local run: workers
  profile, the driver only journals the (small) profile rows.

How the work is cut
-------------------
Each batch of ``batch_size`` images is one Ray Data ``map_batches`` call in
``pyarrow`` format on a Ray *task* that reserves ``num_cpus`` CPUs; the Rust
core runs exactly that many threads in it (:func:`worker_threads`), read from
the CPUs Ray assigned to the task, never from the machine's core count, so
``N`` tasks on an ``N``-core node never oversubscribe it. Tasks rather than an
actor pool: the core already keeps its FFT plans and thread pool per process
(Ray reuses worker processes), and an actor pool that holds every CPU starves
the read tasks that feed it; tasks fuse with the read instead.

Folder, glob and list inputs are planned on the driver exactly as the local
profiler plans them (:func:`spectral_fast.ingest.sources.plan`), so ids are the same;
only ids and paths travel to the workers, which read the files themselves:
every node must see the paths (shared storage). Parquet inputs are read by
the workers with ``ray.data.read_parquet``.

Failures: a file that cannot be read or decoded is an error row, exactly as
locally. A worker process that dies (killed, node lost) fails its task, and
Ray Data retries the task (by default without limit) on another worker. The
driver of the CLI path only receives a task's rows once it has finished, so
none is lost or doubled; for shards, :func:`spectral_fast.ingest.merge.combine_profiles`
refuses an id found twice rather than counting it twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from spectral_fast.ingest.budget import default_max_pixels

try:  # the top-level Ray package: absolute imports cannot pick this module up
    import ray
    import ray.data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "spectral_fast.ingest.ray needs Ray Data; install it with: pip install 'spectral-fast[ray]'"
    ) from exc

from spectral_fast import _core
from spectral_fast.errors import InvalidInputError, SpectralFastError
from spectral_fast.ingest.batch import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_PIXELS,
    checked_options,
    journal_options,
    process_batch,
)
from spectral_fast.ingest.journal import run_metadata
from spectral_fast.ingest.sources import (
    PARQUET_SUFFIXES,
    FileSource,
    Source,
    TableSource,
    _normalise,
    _relative_id,
    _selected,
    plan,
    table_columns,
)
from spectral_fast.profiling.options import ProfileOptions, resolve_options
from spectral_fast.profiling.tables import METADATA_KEY

__all__ = ["connect", "iter_profiles", "profile_dataset", "worker_threads", "write_profiles"]


# ---------------------------------------------------------------- worker side


def worker_threads() -> int:
    """Threads the Rust core may run in the current Ray task or actor.

    Returns
    -------
    int
        The CPUs Ray assigned to the running task or actor, rounded down, at
        least 1; 1 outside a Ray worker. Never the machine's core count: Ray
        runs other tasks on the remaining cores.
    """
    try:
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 0.0)
    except (AssertionError, RuntimeError):  # the driver, or Ray not initialised
        cpus = 0.0
    return max(1, int(cpus))


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs for one dataset; pickled once per map operator."""

    profile: ProfileOptions  # the run's options; each task sets threads to its CPUs
    max_pixels: int
    dicom_fallback: bool
    schema: pa.Schema  # the output schema, with the run's metadata
    # Blocks of a plan already have ``id`` and ``path``/``bytes``; other
    # datasets name their columns (None: found as for local table inputs).
    planned: bool = True
    id_column: str | None = None
    bytes_column: str | None = None
    root: str | None = None
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] | None = None
    keep: pa.Array | None = None  # ids selected by include / exclude on the driver
    skip: pa.Array | None = None  # ids already done (resume)

    def prepare(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch as :func:`process_batch` reads it: ``id`` + ``path``/``bytes``, filtered."""
        if not self.planned:
            id_col, bytes_col = table_columns(batch.schema, self.id_column, self.bytes_column, "Ray dataset")
            batch = _normalise(batch, id_col, bytes_col, "Ray dataset")
            if self.root is not None:
                root = Path(self.root)
                ids = pa.array([_relative_id(i, root) for i in batch.column("id").to_pylist()], pa.string())
                batch = pa.RecordBatch.from_arrays([ids, batch.column("bytes")], names=["id", "bytes"])
            if self.include or self.exclude:
                mask = [_selected(i, self.include, self.exclude) for i in batch.column("id").to_pylist()]
                batch = batch.filter(pa.array(mask, pa.bool_()))
        if self.keep is not None:
            batch = batch.filter(pc.is_in(batch.column("id"), value_set=self.keep))
        if self.skip is not None and len(self.skip):
            batch = batch.filter(pc.invert(pc.is_in(batch.column("id"), value_set=self.skip)))
        return batch


def _profile_table(table: pa.Table, *, job: _Job) -> pa.Table:
    """The ``map_batches`` function: profile one pyarrow batch on this task's CPUs."""
    threads = worker_threads()
    outs = []
    # Chunk by chunk: no concatenation of encoded bytes (a copy, and binary
    # offsets overflow past 2 GiB).
    for batch in table.to_batches():
        batch = job.prepare(batch)
        if batch.num_rows:
            outs.append(
                process_batch(
                    batch, job.profile, threads=threads, max_pixels=job.max_pixels, dicom_fallback=job.dicom_fallback
                )
            )
    return pa.Table.from_batches(outs, schema=job.schema)


# ---------------------------------------------------------------- driver side


def connect(address: str | None = None) -> bool:
    """Make sure this process is connected to Ray.

    Parameters
    ----------
    address : str or None
        A cluster address (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``).
        ``None`` connects where ``ray.init()`` would: ``RAY_ADDRESS`` if set,
        else a new local instance on this machine's cores.

    Returns
    -------
    bool
        True when this call connected (the caller should ``ray.shutdown()``),
        False when Ray was already initialised (that connection is used as is).
    """
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise InvalidInputError(f"cannot connect to Ray at {address or 'a new local instance'}: {exc}") from exc
    return True


def profile_dataset(
    data: Any,
    *,
    size: int | None = None,
    bands: int = 32,
    spacing: str = "log",
    window: str = "hann",
    artefacts: bool = True,
    max_pixels: int | None = None,
    dicom_fallback: bool = True,
    num_cpus: float = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    root: str | os.PathLike[str] | None = None,
    id_column: str | None = None,
    bytes_column: str | None = None,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> ray.data.Dataset:
    """Profile rows of a Ray Dataset (lazy): one row per image, the local profiler's columns.

    Parameters
    ----------
    data : ray.data.Dataset, path, glob, or a list of paths
        A Dataset with an id column (``id``, else ``path``) and a column of
        encoded images (``bytes``, else the only binary column), e.g.
        ``ray.data.read_binary_files(folder, include_paths=True)`` or
        ``ray.data.read_parquet(...)``; or the inputs of the local profiler
        (folders, image files, lists of paths, globs, Parquet files), planned
        exactly as :func:`spectral_fast.ingest.local.profile_archive` plans them.
    size, bands, spacing, window, artefacts, max_pixels, dicom_fallback
        As in :func:`spectral_fast.ingest.batch.process_batch`.
    num_cpus : float, default 1
        CPUs each Ray task reserves; the core runs that many threads in it
        (rounded down, at least 1). 1 suits clusters (one task per core);
        more makes fewer, larger tasks.
    batch_size : int, default 64
        Images per ``map_batches`` call.
    root : path or None
        Dataset inputs only: make ids relative to this folder, as the local
        profiler does for a folder input. ``read_binary_files`` reports full
        paths, so pass the folder it read to get the local run's ids. A URI's
        scheme is ignored (Ray drops it from the paths it reports).
    id_column, bytes_column : str or None
        Column names, when not ``id``/``path`` and ``bytes``.
    include, exclude : list of glob patterns
        Keep ids matching any ``include`` and none of ``exclude``.

    Returns
    -------
    ray.data.Dataset
        Lazy; columns and ids as in the local profiler's output, the run's
        options and the package version in each block's schema metadata (so
        in every Parquet shard written from it). Rows of planned inputs keep
        the plan's order when read with ``preserve_order``.

    Raises
    ------
    InvalidInputError
        Invalid options, inputs or columns.
    """
    num_cpus = _check_cpus(num_cpus)
    _check_batch_size(batch_size)
    # Validated on the driver: a bad option must fail here, not in every task.
    profile_kwargs = dict(size=size, bands=bands, spacing=spacing, window=window, artefacts=artefacts, threads=1)
    opts = resolve_options(None, profile_kwargs, "profile_dataset")
    if max_pixels is None:  # the limit a local run on this machine records (ingest.budget)
        max_pixels = default_max_pixels(DEFAULT_MAX_PIXELS)
    checked_options(opts, max_pixels=max_pixels)
    base = _base_job(opts, max_pixels, dicom_fallback)
    if isinstance(data, ray.data.Dataset):
        job = _dataset_job(data, base, root, id_column, bytes_column, include, exclude)
        return _map(data, job, num_cpus, batch_size)
    if root is not None:
        raise InvalidInputError(
            "root applies to Ray Dataset inputs; ids of paths are made as the local profiler makes them"
        )
    sources = plan(data, include=include, exclude=exclude, id_column=id_column, bytes_column=bytes_column)
    segments = _segments(sources, base, batch_size, num_cpus, done=None)
    if not segments:
        raise InvalidInputError("no file to profile in the inputs (after include/exclude patterns)")
    out = segments[0]
    return out.union(*segments[1:]) if len(segments) > 1 else out


def write_profiles(
    data: Any,
    output_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    **options: Any,
) -> list[Path]:
    """Profile ``data`` on Ray and write the rows as Parquet shards into ``output_dir``.

    Parameters
    ----------
    data
        As in :func:`profile_dataset`.
    output_dir : path
        Folder for the shards (``Dataset.write_parquet``), written by the
        workers themselves: on a cluster, a folder on storage every node
        mounts. Must be empty or absent unless ``overwrite``.
    overwrite : bool, default False
        Remove the Parquet files already in ``output_dir`` first.
    **options
        Any keyword of :func:`profile_dataset`.

    Returns
    -------
    list of pathlib.Path
        The shards written, sorted. Read them as one table with
        :func:`spectral_fast.ingest.merge.combine_profiles`.
    """
    out = Path(output_dir)
    existing = sorted(out.glob("*.parquet")) if out.is_dir() else []
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"output_dir {str(out)!r} is a file; give a folder")
    if existing and not overwrite:
        raise InvalidInputError(
            f"output_dir {str(out)!r} already holds {len(existing)} Parquet files; "
            "pass overwrite=True or choose an empty folder (shards of two runs must not mix)"
        )
    ds = profile_dataset(data, **options)
    for f in existing:
        f.unlink()
    ds.write_parquet(str(out))
    return sorted(out.glob("*.parquet"))


def iter_profiles(
    sources: list[Source],
    options: ProfileOptions,
    *,
    batch_size: int,
    done: pa.Array | None,
    max_pixels: int,
    dicom_fallback: bool,
    address: str | None,
) -> Iterator[pa.RecordBatch]:
    """Profile planned ``sources`` on Ray; yield output batches in plan order.

    The engine behind ``profile_archive(..., engine="ray")``: the driver
    journals what this yields, exactly as it journals local batches.
    ``options.threads`` is the CPUs per Ray task (and core threads in it), default 1.
    """
    num_cpus = _check_cpus(1 if options.threads is None else options.threads)
    if _remaining(sources, done) <= 0:  # a finished run being resumed: no need for a cluster
        return
    started = connect(address)
    try:
        base = _base_job(options, max_pixels, dicom_fallback)
        # One Dataset per segment, run in turn: Dataset.union interleaves its
        # inputs' blocks, which would reorder the rows.
        for ds in _segments(sources, base, batch_size, num_cpus, done=done):
            ds.context.execution_options.preserve_order = True  # the local run's order
            ds.context.enable_progress_bars = False  # the caller's bar counts images
            try:
                with _quiet_console():
                    for table in ds.iter_batches(batch_format="pyarrow", batch_size=None):
                        assert isinstance(table, pa.Table)  # batch_format="pyarrow"
                        for batch in table.to_batches():
                            yield batch.replace_schema_metadata(None)
            except ray.exceptions.RayError as exc:
                raise _unwrap(exc) from exc
    finally:
        if started:
            ray.shutdown()


# ---------------------------------------------------------------- helpers


def _base_job(options: ProfileOptions, max_pixels: int, dicom_fallback: bool) -> _Job:
    schema = _core.archive_schema(options.bands, artefacts=options.artefacts)
    meta = run_metadata(journal_options(options, max_pixels))
    return _Job(
        profile=options,
        max_pixels=max_pixels,
        dicom_fallback=bool(dicom_fallback),
        schema=schema.with_metadata({METADATA_KEY: json.dumps(meta).encode()}),
    )


def _check_cpus(num_cpus: Any) -> float:
    if isinstance(num_cpus, bool) or not isinstance(num_cpus, (int, float)) or not 0 < num_cpus <= 1024:
        raise InvalidInputError(f"num_cpus (CPUs per Ray task) must be a number in (0, 1024], got {num_cpus!r}")
    return float(num_cpus)


def _check_batch_size(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 1_000_000:
        raise InvalidInputError(f"batch_size must be an integer in [1, 1000000], got {batch_size!r}")


def _map(ds: ray.data.Dataset, job: _Job, num_cpus: float, batch_size: int) -> ray.data.Dataset:
    return ds.map_batches(
        _profile_table,  # type: ignore[arg-type]  # Ray types batches as a union of all formats
        batch_format="pyarrow",
        batch_size=batch_size,
        zero_copy_batch=True,
        num_cpus=num_cpus,
        fn_kwargs={"job": job},
    )


def _dataset_job(
    ds: ray.data.Dataset,
    base: _Job,
    root: str | os.PathLike[str] | None,
    id_column: str | None,
    bytes_column: str | None,
    include: Sequence[str] | None,
    exclude: Sequence[str] | None,
) -> _Job:
    # Check the columns now when the schema is known without running anything
    # (read_binary_files, read_parquet); otherwise the first task checks them.
    schema = ds.schema(fetch_if_missing=False)
    if schema is not None:
        arrow = getattr(schema, "base_schema", schema)
        if isinstance(arrow, pa.Schema):
            table_columns(arrow, id_column, bytes_column, "Ray dataset")
    return _Job(
        profile=base.profile,
        max_pixels=base.max_pixels,
        dicom_fallback=base.dicom_fallback,
        schema=base.schema,
        planned=False,
        id_column=id_column,
        bytes_column=bytes_column,
        root=None if root is None else _root_path(root),
        include=tuple(include) if include else None,
        exclude=tuple(exclude) if exclude else None,
    )


def _root_path(root: str | os.PathLike[str]) -> str:
    text = os.fspath(root)
    m = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text)
    if m:  # Ray reports "bucket/key" for "s3://bucket/key"
        return text[m.end() :].rstrip("/")
    return os.path.abspath(text)


def _is_parquet_file(src: TableSource) -> bool:
    return Path(src.label).suffix.lower() in PARQUET_SUFFIXES and os.path.isfile(src.label)


def _segments(
    sources: list[Source], base: _Job, batch_size: int, num_cpus: float, *, done: pa.Array | None
) -> list[ray.data.Dataset]:
    """Datasets that together profile ``sources`` in plan order.

    Files and in-memory tables become blocks of ``batch_size`` rows built on
    the driver (ids and paths only, for files); consecutive sources of the
    same kind share one Dataset. Parquet files are read by the workers.
    """
    segments: list[ray.data.Dataset] = []
    blocks: list[pa.Table] = []
    kind: str | None = None
    batch_size = _block_rows(sources, batch_size, num_cpus, done)

    def flush() -> None:
        nonlocal blocks
        if blocks:  # plan batches are already filtered by include/exclude and done
            segments.append(_map(ray.data.from_arrow(blocks), base, num_cpus, batch_size))
            blocks = []

    for src in sources:
        if isinstance(src, TableSource) and _is_parquet_file(src):
            flush()
            ds = ray.data.read_parquet(os.path.abspath(src.label)).select_columns([src.id_column, src.bytes_column])
            job = _Job(
                profile=base.profile,
                max_pixels=base.max_pixels,
                dicom_fallback=base.dicom_fallback,
                schema=base.schema,
                planned=False,
                id_column=src.id_column,
                bytes_column=src.bytes_column,
                keep=src.selected,
                skip=done if done is not None and len(done) else None,
            )
            segments.append(_map(ds, job, num_cpus, batch_size))
            continue
        this = "files" if isinstance(src, FileSource) else "bytes"
        if kind is not None and this != kind:
            flush()  # blocks of one Dataset share a schema
        kind = this
        blocks.extend(pa.Table.from_batches([b]) for b in src.batches(batch_size, done))
    flush()
    return segments


def _block_rows(sources: list[Source], batch_size: int, num_cpus: float, done: pa.Array | None) -> int:
    """Rows per task: ``batch_size``, or fewer so that every task slot gets
    about four tasks: with one block per slot, the slowest block (or the
    short last one) would leave the other slots idle at the end."""
    if not ray.is_initialized():  # Ray Data will start a local instance; its size is unknown yet
        return batch_size
    total = _remaining(sources, done)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1) // num_cpus))
    return max(1, min(batch_size, math.ceil(max(total, 1) / (4 * slots))))


class _DropProgressNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Progress bars disabled")


@contextlib.contextmanager
def _quiet_console() -> Iterator[None]:
    """Ray Data's INFO lines (plans, progress) off the console while the
    profiler's own bar and summary speak; they still go to Ray's log files."""
    handlers = [
        h
        for h in logging.getLogger("ray.data").handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    levels = [h.level for h in handlers]
    drop = _DropProgressNotice()
    for h in handlers:
        h.setLevel(max(h.level, logging.WARNING))
        h.addFilter(drop)
    try:
        yield
    finally:
        for h, level in zip(handlers, levels):
            h.setLevel(level)
            h.removeFilter(drop)


def _remaining(sources: list[Source], done: pa.Array | None) -> int:
    return sum(len(s.ids) for s in sources) - (len(done) if done is not None else 0)


def _unwrap(exc: BaseException) -> BaseException:
    """The package's own error inside a Ray task failure, if there is one."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, SpectralFastError):
            return cur
        cur = getattr(cur, "cause", None) or cur.__cause__
    return exc
