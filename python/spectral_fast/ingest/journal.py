"""Durable output of an archive run: a journal of finished batches, then one Parquet file.

Why a journal: a Parquet file is unreadable until its footer is written, so
a run killed mid-write (SIGKILL included) would lose everything written to a
single file. Instead each finished batch is written to its own small Arrow
IPC file in ``<output>.parts/``: written under a temporary name, fsync'd,
renamed (atomic), and the folder fsync'd, so a part either exists whole or not
at all. A kill therefore loses at most the batches in flight. (IPC, not
Parquet: a part is read back only on resume, and an IPC part costs a tenth of
a Parquet one to write, which matters for batches of thumbnails; parts
written as Parquet by earlier versions are still read.)

Meanwhile the final table streams into ``<output>.tmp`` in row groups; when
the run ends it is closed, fsync'd and renamed over ``<output>`` (a finished
output is never half-written), and only then is the journal removed.

Resume reads the ids already in ``<output>`` and in the parts (the id column
only), skips them, and starts the new ``.tmp`` with those rows, in their
original order. When one id has rows in several of these files, the row of
the latest file wins (the output is the earliest, then the parts in order):
parts of a run killed after its output was renamed repeat that output's last
rows, and parts of a ``--retry-errors`` run hold the new rows of ids whose
error rows are in the output or in earlier parts.

Retrying errors (``retry``) leaves the error rows of the ids to retry out of
the new ``.tmp`` and out of the ids returned as done, so they are profiled
again and their new rows are journalled like any other. The old rows stay in
``<output>`` and the earlier parts until the run finishes, so a run killed
while retrying loses nothing: resuming it finds the old rows and, for the ids
already retried, the newer rows that supersede them.

A journal records the run's options and the package version
(``run.json``): resuming with other options, or another version, is refused
rather than mixing incompatible rows in one table. An exclusive lock on the
journal stops two runs from writing the same output at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from spectral_fast._version import __version__
from spectral_fast.errors import InvalidInputError
from spectral_fast.profiling.metadata import METADATA_KEY, _file_metadata

#: Rows gathered before a row group of the final file is written: small
#: enough to bound memory, large enough for efficient Parquet reads.
ROW_GROUP_ROWS = 4096
#: Options added after files were first written, with the value such files
#: were made with: a run description without the key means this value.
OPTION_DEFAULTS: dict[str, Any] = {"artefacts": True}


class Journal:
    """The output of one run: parts for durability, ``.tmp`` then ``output`` for the result."""

    def __init__(self, output: str | os.PathLike[str], options: dict[str, Any], *, resume: bool, overwrite: bool):
        self.output = Path(output)
        self.parts = self.output.with_name(self.output.name + ".parts")
        self.tmp = self.output.with_name(self.output.name + ".tmp")
        self.options = dict(options)
        self.resume = resume
        self.overwrite = overwrite
        self._lock_fd: int | None = None
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._next_part = 0
        self.previous_ok = 0
        self.previous_rows = 0
        self.retried = 0  # error rows of earlier runs left out to be profiled again

    # ------------------------------------------------------------ start

    def paths(self) -> list[Path]:
        """Files of this run, which input listing must skip."""
        return [self.output, self.parts, self.tmp, self._lock_path()]

    def open(self, schema: pa.Schema, retry: pa.Array | None = None) -> pa.Array:
        """Prepare the output; return the ids already done (empty unless resuming).

        ``retry``: ids (those of the current plan) whose error rows of earlier
        runs are left out, so that they are profiled again; ``None`` keeps
        every earlier row.
        """
        if not self.output.parent.is_dir():
            raise InvalidInputError(f"output folder {str(self.output.parent)!r} does not exist")
        if self.output.is_dir():
            raise InvalidInputError(f"output {str(self.output)!r} is a folder; give a file name")
        exists = self.output.exists() or self.parts.exists()
        if exists and not self.resume:
            if not self.overwrite:
                what = "a partial run (" + self.parts.name + ")" if self.parts.exists() else "the file"
                raise InvalidInputError(
                    f"output {str(self.output)!r} exists ({what}); pass --resume to continue or extend it, "
                    "or --overwrite to start again"
                )
            self._take_lock()
            shutil.rmtree(self.parts, ignore_errors=True)
            self.output.unlink(missing_ok=True)
        self._take_lock()
        meta = self.run_metadata()
        previous_files = self._previous_files(meta)
        self._check_columns(previous_files, schema)
        latest = _latest_rows(previous_files)
        self.parts.mkdir(exist_ok=True)
        _write_atomic_bytes(self.parts / "run.json", json.dumps(meta, indent=1).encode())

        self._writer = pq.ParquetWriter(
            self.tmp,
            schema.with_metadata({METADATA_KEY: json.dumps(meta).encode()}),
            use_dictionary=dictionary_columns(schema),
        )
        done: list[pa.Array] = []
        if previous_files:
            import pyarrow.compute as pc  # here, not at the top: a fresh run's start-up does without it
        for path, keep in zip(previous_files, latest):
            offset = 0
            for batch in _iter_batches(path):
                mask = None if keep is None else keep.slice(offset, batch.num_rows)
                offset += batch.num_rows
                if retry is not None:
                    mask = self._leave_out_errors(batch, mask, retry)
                if mask is not None:
                    batch = batch.filter(mask)
                if batch.num_rows == 0:
                    continue
                batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
                self._append(batch)
                done.append(batch.column("id"))
                self.previous_ok += int(pc.sum(pc.equal(batch.column("status"), "ok")).as_py() or 0)
                self.previous_rows += batch.num_rows
        return pa.concat_arrays(done) if done else pa.nulls(0, pa.string())  # pa.array([]) would import pandas

    def _leave_out_errors(self, batch: pa.RecordBatch, keep: pa.Array | None, retry: pa.Array) -> pa.Array:
        """``keep`` without the error rows of ids in ``retry``; counts them in :attr:`retried`."""
        import pyarrow.compute as pc

        again = pc.and_(pc.equal(batch.column("status"), "error"), pc.is_in(batch.column("id"), value_set=retry))
        if keep is not None:
            again = pc.and_(again, keep)  # a superseded row is not retried, only dropped
        self.retried += int(pc.sum(again).as_py() or 0)
        return pc.invert(again) if keep is None else pc.and_(keep, pc.invert(again))

    def run_metadata(self) -> dict[str, Any]:
        return run_metadata(self.options)

    def _previous_files(self, meta: dict[str, Any]) -> list[Path]:
        files: list[Path] = []
        if self.output.exists():
            self._check_compatible(_file_metadata(self.output), str(self.output))
            files.append(self.output)
        if self.parts.exists():
            run_json = self.parts / "run.json"
            if run_json.exists():
                self._check_compatible(json.loads(run_json.read_text()), str(run_json))
            for stale in self.parts.glob("*.tmp"):
                stale.unlink()  # a part that was being written when the run died
            parts = sorted(
                (p for p in self.parts.glob("part-*") if p.suffix in PART_SUFFIXES), key=lambda p: (_part_number(p), p)
            )
            files.extend(parts)
            if parts:
                self._next_part = _part_number(parts[-1]) + 1
        return files

    def _check_compatible(self, found: dict[str, Any] | None, where: str) -> None:
        expected = self.run_metadata()
        if found is None:
            raise InvalidInputError(f"{where} was not written by spectral-fast profile; cannot resume into it")
        if found.get("version") != expected["version"]:
            raise InvalidInputError(
                f"{where} was made by spectral_fast {found.get('version')}, this is {expected['version']}: "
                "finish it with that version, or pass --overwrite to start again"
            )
        found_options = recorded_options(found)
        if found_options != expected["options"]:
            keys = list(expected["options"]) + [k for k in found_options if k not in expected["options"]]
            diff = {
                k: (found_options.get(k), expected["options"].get(k))
                for k in keys
                if found_options.get(k) != expected["options"].get(k)
            }
            text = ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in diff.items())
            raise InvalidInputError(
                f"cannot resume {where} with different options ({text}); use the same options or --overwrite"
            )

    @staticmethod
    def _check_columns(files: list[Path], schema: pa.Schema) -> None:
        """Refuse to resume files whose columns differ from this build's.

        The version check cannot see this when the columns changed within a
        version (the artefact features were added at 0.1.0).
        """
        for path in files:
            names = _read_schema(path).names
            if names != schema.names:
                missing = [c for c in schema.names if c not in names]
                extra = [c for c in names if c not in schema.names]
                raise InvalidInputError(
                    f"cannot resume {str(path)!r}: its columns differ from what this build writes "
                    f"(missing {missing[:6]}, unexpected {extra[:6]}); it was made by another build, "
                    "pass --overwrite to start again"
                )

    def _lock_path(self) -> Path:
        return self.output.with_name(self.output.name + ".lock")

    def _take_lock(self) -> None:
        if self._lock_fd is not None:
            return
        fd = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InvalidInputError(f"another spectral-fast run is writing {str(self.output)!r}") from None
        self._lock_fd = fd

    # ------------------------------------------------------------ run

    def add(self, batch: pa.RecordBatch) -> None:
        """Record a finished batch durably, then stream it into the output."""
        if batch.num_rows == 0:
            return
        part = self.parts / f"part-{self._next_part:08d}.arrow"
        self._next_part += 1
        tmp = part.with_name(part.name + ".tmp")
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
        _fsync_file(tmp)
        os.replace(tmp, part)
        _fsync_dir(self.parts)
        self._append(batch)

    def _append(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending and self._writer is not None:
            table = pa.Table.from_batches(self._pending)
            self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self._pending, self._pending_rows = [], 0

    def finish(self) -> None:
        """Close, fsync and rename the output into place, then drop the journal."""
        self._flush()
        assert self._writer is not None
        self._writer.close()
        self._writer = None
        _fsync_file(self.tmp)
        os.replace(self.tmp, self.output)
        _fsync_dir(self.output.parent)
        shutil.rmtree(self.parts, ignore_errors=True)
        self._release()

    def abandon(self) -> None:
        """Stop without finishing (error, Ctrl-C): keep the parts for --resume."""
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # the file is discarded anyway
                pass
            self._writer = None
        if self._lock_fd is not None:  # never touch the files of another live run
            self.tmp.unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            self._lock_path().unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None


def run_metadata(options: dict[str, Any]) -> dict[str, Any]:
    """The run description stored under :data:`METADATA_KEY`: package version and options.

    Shared with the Ray engine's shards, so every writer records runs alike.
    """
    return {"version": __version__, "options": dict(options)}


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth a Parquet dictionary: the text ones (status, format, error kinds, DICOM tags).

    Feature values almost never repeat, so a dictionary for them is built
    only to be abandoned: without it the output is written in half the CPU
    (about 2 us less per row) and is a little smaller.
    """
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


def recorded_options(meta: dict[str, Any]) -> dict[str, Any]:
    """The options of a run description, with :data:`OPTION_DEFAULTS` for keys it predates."""
    return {**OPTION_DEFAULTS, **meta.get("options", {})}


def _latest_rows(files: list[Path]) -> list[pa.Array | None]:
    """Per file, a mask of the rows whose id no later file repeats (``None``: every row).

    Only the id columns are read; one pass over all ids in file order keeps
    each id's last row, so the cost is linear in the rows however many files.
    """
    if not files:
        return []
    import polars as pl  # only when resuming: a fresh run's start-up does without it

    ids = [_read_ids(path) for path in files]
    chunks = [c for col in ids for c in col.chunks]
    if not chunks:
        return [None] * len(files)
    last = pl.Series(pa.chunked_array(chunks, pa.string())).is_last_distinct().to_arrow()
    masks: list[pa.Array | None] = []
    start = 0
    for col in ids:
        mask = last.slice(start, len(col))
        start += len(col)
        masks.append(None if mask.false_count == 0 else mask)
    return masks


#: Journal parts: Arrow IPC files (this version), Parquet (earlier versions).
PART_SUFFIXES = (".arrow", ".parquet")


def _part_number(path: Path) -> int:
    return int(path.stem.split("-")[1])


def _is_ipc(path: Path) -> bool:
    return path.suffix == ".arrow"


def _read_schema(path: Path) -> pa.Schema:
    """The schema of the output or of a part (IPC or Parquet)."""
    if _is_ipc(path):
        with pa.OSFile(str(path), "rb") as source:
            return pa.ipc.open_file(source).schema
    return pq.read_schema(path)


def _read_ids(path: Path) -> pa.ChunkedArray:
    """The ``id`` column of the output or of a part."""
    if _is_ipc(path):
        with pa.OSFile(str(path), "rb") as source:
            return pa.ipc.open_file(source).read_all().column("id")
    return pq.read_table(path, columns=["id"]).column("id")


def _iter_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """The rows of the output or of a part, in batches of at most :data:`ROW_GROUP_ROWS` rows."""
    if not _is_ipc(path):
        yield from pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS)
        return
    with pa.OSFile(str(path), "rb") as source:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i)
            for start in range(0, batch.num_rows, ROW_GROUP_ROWS):
                yield batch.slice(start, ROW_GROUP_ROWS)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    _fsync_file(tmp)
    os.replace(tmp, path)
