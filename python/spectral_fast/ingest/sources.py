"""Where archive images come from, as Arrow record batches of ``id`` + ``path`` or ``id`` + ``bytes``.

Every input is planned up front (ids only, no image bytes), so a run knows
its size for the progress bar, refuses duplicate ids before doing any work
(ids are the resume key) and can skip what a previous run finished. Batches
are then produced lazily, one at a time, so memory does not grow with the
archive.

Inputs
------
directory
    Walked recursively in sorted order. Symlinks are followed, but a directory
    reached twice (a symlink loop or a second link to it) is walked once.
    Sockets, FIFOs and devices are listed as error rows, never opened.
text file of paths (``.txt``, ``.lst``, ``.list``)
    One path per line; blank lines and lines starting with ``#`` are skipped;
    relative paths are relative to the list file.
glob pattern (``*``, ``?``, ``[``; ``**`` recurses)
    Expanded in sorted order.
any other file
    One image.
Parquet (``.parquet``, ``.pq``) or Arrow IPC (``.arrow``, ``.feather``, ``.ipc``)
    A column of encoded image bytes and an id column (see ``table_columns``).
in-memory table (pyarrow ``Table``/``RecordBatch``, polars ``DataFrame``,
anything with ``__arrow_c_stream__``; from Python only)
    The same columns as Parquet inputs.

Ids of files are their paths relative to a root, in POSIX form: the input
directory itself, the folder of a single file, the fixed prefix of a glob or
the folder of a list file. With several file inputs the root is their
common folder, so ``profile data/nih data/mhh`` gives ``nih/...`` and
``mhh/...``. A file outside its root (an absolute path in a list) keeps its
absolute path as id.

A file name that is not valid UTF-8 (Python sees its undecodable bytes as
lone surrogates, ``os.fsdecode``'s ``surrogateescape``) gets an id in which
each undecodable byte is written ``\\xNN`` (two lower-case hex digits) and
each backslash ``\\\\``; a Latin-1 ``caf\\xe9.png`` becomes the id
``caf\\xe9.png``. :func:`id_to_fspath` turns such an id back into the
file's bytes. Ids of valid UTF-8 names are never escaped (so they are stable
across versions); should an escaped id equal another file's literal name,
the run refuses the duplicate id. Such files are read by Python, in a batch
of their own with a ``bytes`` column, since the core opens paths given as
UTF-8 text only.
"""

from __future__ import annotations

import array
import fnmatch
import glob
import itertools
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from spectral_fast.errors import InvalidInputError, InvalidTypeError

LIST_SUFFIXES = (".txt", ".lst", ".list")
PARQUET_SUFFIXES = (".parquet", ".pq")
IPC_SUFFIXES = (".arrow", ".feather", ".ipc", ".arrows")
_GLOB_CHARS = set("*?[")
#: Paths are POSIX strings here, so the planner may cut and compare them as text.
_POSIX = os.sep == "/" and not os.altsep


@dataclass
class FileSource:
    """Files on disk: ids, absolute paths, and a message for entries that cannot be read."""

    label: str
    root: Path
    paths: list[str] = field(default_factory=list)
    # path -> why it is listed but will not be opened (e.g. a FIFO)
    problems: dict[str, str] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)

    def select(self, include: Sequence[str] | None, exclude: Sequence[str] | None) -> None:
        keep = [i for i, id_ in enumerate(self.ids) if _selected(id_, include, exclude)]
        self.ids = [self.ids[i] for i in keep]
        self.paths = [self.paths[i] for i in keep]

    def batches(self, batch_size: BatchSize, done: pa.Array | None) -> Iterator[pa.RecordBatch]:
        """Batches of ``batch_size`` rows (an int, or a callable giving each batch's size)."""
        for batch in self._path_batches(_sizer(batch_size), done):
            yield from _split_undecodable(batch, self.problems)

    def _path_batches(self, size: Callable[[], int], done: pa.Array | None) -> Iterator[list[tuple[str, str]]]:
        keep = range(len(self.ids))
        if done is not None and len(done):
            import pyarrow.compute as pc  # resuming only: start-up does without it

            mask = pc.invert(pc.is_in(pa.array(self.ids, pa.string()), value_set=done))
            keep = [i for i, k in enumerate(mask.to_pylist()) if k]
        keep = list(keep)
        start = 0
        while start < len(keep):
            rows = keep[start : start + size()]
            start += len(rows)
            yield [(self.ids[i], self.paths[i]) for i in rows]


#: Rows per batch: a number, or a callable asked before each batch (``pacing.BatchPacer``).
BatchSize = int | Callable[[], int]


def _sizer(batch_size: BatchSize) -> Callable[[], int]:
    return batch_size if callable(batch_size) else lambda: batch_size


def _is_text(path: str) -> bool:
    """Whether ``path`` is valid UTF-8 text (no surrogate-escaped bytes), so Arrow and the core can take it."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _split_undecodable(rows: list[tuple[str, str]], problems: dict[str, str]) -> Iterator[pa.RecordBatch]:
    """One ``id`` + ``path`` batch of ``rows``; rows whose path is not UTF-8 go to a second, ``bytes`` batch."""
    text = [(i, p) for i, p in rows if _is_text(p)]
    other = [(i, p) for i, p in rows if not _is_text(p)]
    if text:
        errors = [problems.get(p) for _, p in text]
        yield pa.RecordBatch.from_arrays(
            [
                string_array([i for i, _ in text]),
                string_array([p for _, p in text]),
                pa.array(errors, pa.string()) if any(errors) else pa.nulls(len(text), pa.string()),
            ],
            names=["id", "path", "read_error"],
        )
    if other:
        data, errors = zip(*(_read_here(p, problems.get(p)) for _, p in other), strict=True)
        yield pa.RecordBatch.from_arrays(
            [pa.array([i for i, _ in other], pa.string()), pa.array(data, pa.binary()), pa.array(errors, pa.string())],
            names=["id", "bytes", "read_error"],
        )


def string_array(values: list[str]) -> pa.Array:
    """A pyarrow string array of ``values`` (valid UTF-8 text), built from its buffers.

    ``pa.array(list)`` asks pandas whether the list is array-like, and so
    imports pandas when it is installed: about 0.35 s of CPU, more than the
    rest of a profile run's start-up (``docs/benchmarks.md``). Strings that
    are not valid UTF-8, or over 2 GiB of them, take ``pa.array``.
    """
    try:
        data = [v.encode("utf-8") for v in values]
    except UnicodeEncodeError:
        return pa.array(values, pa.string())
    offsets = array.array("i", [0])
    offsets.extend(itertools.accumulate(len(d) for d in data))
    if offsets[-1] >= 2**31 - 1 or offsets.itemsize != 4:
        return pa.array(values, pa.string())
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(b"".join(data)))


#: Largest file read on the Python side (undecodable names): as the core's limit at the default pixel limit.
_MAX_READ_BYTES = 100_000_000 * 8 + (64 << 20)


def _read_here(path: str, problem: str | None) -> tuple[bytes | None, str | None]:
    """The bytes of a file the core cannot open by name, or ``(None, why)``; never raises."""
    if problem is not None:
        return None, problem
    try:
        if not os.path.isfile(path):
            return None, "cannot read file: not a regular file"
        if os.path.getsize(path) > _MAX_READ_BYTES:
            return None, f"cannot read file: more than {_MAX_READ_BYTES} bytes"
        with open(path, "rb") as fh:
            return fh.read(_MAX_READ_BYTES + 1), None
    except OSError as exc:
        return None, f"cannot read file: {exc.strerror or exc}"


@dataclass
class TableSource:
    """Encoded images in an Arrow table (in memory, Parquet or IPC on disk)."""

    label: str
    id_column: str
    bytes_column: str
    ids: list[str]
    _open: Any  # () -> Iterator[pa.RecordBatch] with the two columns, any chunking
    # ids kept by include / exclude patterns; None keeps all
    selected: pa.Array | None = None

    def select(self, include: Sequence[str] | None, exclude: Sequence[str] | None) -> None:
        self.ids = [i for i in self.ids if _selected(i, include, exclude)]
        self.selected = pa.array(self.ids, pa.string())

    def batches(self, batch_size: BatchSize, done: pa.Array | None) -> Iterator[pa.RecordBatch]:
        """Batches of ``batch_size`` rows (an int, or a callable giving each batch's size)."""
        import pyarrow.compute as pc

        size = _sizer(batch_size)
        pending: list[pa.RecordBatch] = []
        rows = 0
        want = size()
        for batch in self._open():
            batch = _normalise(batch, self.id_column, self.bytes_column, self.label)
            if self.selected is not None:
                batch = batch.filter(pc.is_in(batch.column("id"), value_set=self.selected))
            if done is not None and len(done):
                batch = batch.filter(pc.invert(pc.is_in(batch.column("id"), value_set=done)))
            pending.append(batch)
            rows += batch.num_rows
            while rows >= want:
                out, pending, rows = _take(pending, want)
                yield out
                want = size()
        if rows:
            out, pending, rows = _take(pending, rows)
            yield out


Source = FileSource | TableSource


def plan(
    inputs: Sequence[Any] | Any,
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    skip_paths: Iterable[str | os.PathLike[str]] = (),
    id_column: str | None = None,
    bytes_column: str | None = None,
) -> list[Source]:
    """Resolve ``inputs`` into sources with their ids; raise on invalid input or duplicate ids.

    ``skip_paths`` (the run's own output, temporary file and journal) are
    never listed, so an output written inside an input folder is not profiled.
    """
    if isinstance(inputs, (str, os.PathLike)) or _is_table(inputs):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise InvalidInputError("inputs is empty: give at least one folder, file, glob, list or table")
    skip = {os.path.realpath(p) for p in skip_paths}
    sources: list[Source] = []
    files: list[FileSource] = []
    for item in inputs:
        if _is_table(item):
            sources.append(_table_source(item, id_column, bytes_column))
            continue
        if not isinstance(item, (str, os.PathLike)):
            raise InvalidTypeError(f"input must be a path, a glob or an Arrow table, got {type(item).__name__}")
        text = os.fspath(item)
        suffix = Path(text).suffix.lower()
        if os.path.isdir(text):
            src = _directory(text, skip)
        elif os.path.isfile(text) and suffix in PARQUET_SUFFIXES + IPC_SUFFIXES:
            sources.append(_table_file(text, id_column, bytes_column))
            continue
        elif os.path.isfile(text) and suffix in LIST_SUFFIXES:
            src = _path_list(text)
        elif os.path.lexists(text):
            real = os.path.realpath(text)
            src = FileSource(label=text, root=Path(os.path.abspath(text)).parent, paths=[os.path.abspath(text)])
            if real in skip:
                src.paths = []
            _note_special(src)
        elif set(text) & _GLOB_CHARS:
            src = _glob(text, skip)
        else:
            raise InvalidInputError(f"input {text!r} does not exist (not a file, folder or glob that matches)")
        files.append(src)
        sources.append(src)
    _assign_ids(files)
    if include or exclude:
        for src in sources:
            src.select(include, exclude)
    _check_unique(sources)
    return _coalesced(sources)


def _coalesced(sources: list[Source]) -> list[Source]:
    """Each run of consecutive file sources as one source; ids and order kept.

    Batches never span sources, so ``profile a.png b.png ...`` (a shell glob,
    or a Python list of paths) would otherwise run one core call, one journal
    part and two fsyncs per file (``docs/benchmarks.md#thumbnail-archives``).
    """
    out: list[Source] = []
    for is_file, group in itertools.groupby(sources, key=lambda src: isinstance(src, FileSource)):
        run = list(group)
        if not is_file or len(run) == 1:
            out.extend(run)
            continue
        out.append(
            FileSource(
                label=f"{run[0].label} and {len(run) - 1} more",
                root=Path(os.path.commonpath([str(src.root) for src in run])),
                paths=[p for src in run for p in src.paths],
                problems={k: v for src in run for k, v in src.problems.items()},
                ids=[i for src in run for i in src.ids],
            )
        )
    return out


# ---------------------------------------------------------------- file inputs


def _directory(path: str, skip: set[str]) -> FileSource:
    root = Path(os.path.abspath(path))
    src = FileSource(label=path, root=root)
    seen: set[tuple[int, int]] = set()

    def walk(folder: str) -> None:
        try:
            st = os.stat(folder)
        except OSError:
            return
        key = (st.st_dev, st.st_ino)
        if key in seen:  # a symlink loop, or a folder linked twice: walk it once
            return
        seen.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            # An unreadable folder is reported as one error row, not skipped silently.
            src.paths.append(folder)
            src.problems[folder] = f"cannot list folder: {exc.strerror or exc}"
            return
        # realpath once per folder: an entry that is not a symlink resolves to
        # the folder's real path plus its name (a realpath per file costs an
        # lstat per path component, more than profiling a thumbnail).
        real_folder = os.path.realpath(folder) if skip else ""
        for entry in entries:
            full = entry.path
            if skip:
                real = os.path.realpath(full) if entry.is_symlink() else os.path.join(real_folder, entry.name)
                if real in skip:
                    continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                walk(full)
                continue
            src.paths.append(full)
            try:
                regular = entry.is_file(follow_symlinks=True)  # the directory's file type: no stat for plain files
            except OSError:
                regular = False
            if not regular:
                _note_special_path(src, full)

    walk(str(root))
    return src


def _glob(pattern: str, skip: set[str]) -> FileSource:
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if set(part) & _GLOB_CHARS:
            break
        fixed.append(part)
    root = Path(os.path.abspath(os.path.join(*fixed))) if fixed else Path.cwd()
    matches = sorted(glob.glob(pattern, recursive=True))
    paths = [os.path.abspath(m) for m in matches if not os.path.isdir(m) and os.path.realpath(m) not in skip]
    if not paths:
        raise InvalidInputError(f"input {pattern!r} matches no file")
    src = FileSource(label=pattern, root=root, paths=paths)
    _note_special(src)
    return src


def _path_list(list_file: str) -> FileSource:
    base = Path(os.path.abspath(list_file)).parent
    try:
        lines = Path(list_file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the list of paths {list_file!r}: {exc}") from exc
    paths = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            # An absolute, already normal path is its own abspath (most lists): skip the join and normpath.
            paths.append(
                line
                if _POSIX and line.startswith("/") and _plain(line[1:])
                else os.path.abspath(os.path.join(base, line))
            )
    src = FileSource(label=list_file, root=base, paths=paths)
    _note_special(src)
    return src


def _note_special(src: FileSource) -> None:
    """Mark FIFOs, sockets and devices among the paths read here: opening them could block forever.

    Only paths that are not UTF-8 are read on the Python side
    (:func:`_read_here`); the core stats the others itself before opening
    them and makes the same error row, so they cost no ``stat`` here.
    """
    for p in src.paths:
        if not _is_text(p):
            _note_special_path(src, p)


def _note_special_path(src: FileSource, p: str) -> None:
    try:
        mode = os.stat(p).st_mode
    except OSError:
        return  # missing, broken link, loop: the reader reports it
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        src.problems[p] = "not a regular file (FIFO, socket or device); not read"


def _assign_ids(files: list[FileSource]) -> None:
    if not files:
        return
    if len(files) == 1:
        root = files[0].root
    else:
        root = Path(os.path.commonpath([str(f.root) for f in files]))
    for src in files:
        src.ids = _relative_ids(src.paths, root)


def _relative_ids(paths: list[str], root: Path) -> list[str]:
    """:func:`_relative_id` of every path; a string prefix cut where that is the same thing.

    The planned paths are absolute and normalised (``os.path.abspath``, or a
    normalised folder joined with entry names), so on POSIX a path under
    ``root`` is ``root/`` plus its relative POSIX path, and a path outside
    ``root`` (a list of absolute paths kept elsewhere) is its own id, as
    ``pathlib`` would give it; the other paths take the ``pathlib`` route,
    which costs more than profiling a thumbnail.
    """
    if not _POSIX:
        return [_relative_id(p, root) for p in paths]
    base = str(root)
    prefix = base if base.endswith("/") else base + "/"
    cut = len(prefix)
    text = _is_text("".join(paths))  # one check for the whole list (the usual case), else one per path
    out = []
    for p in paths:
        if p.startswith(prefix):
            rel = p[cut:]
        elif p.startswith("/") and not p.startswith("//") and p != base:
            rel = p[1:]  # outside root: relative_to fails and the id is the whole path
        else:
            rel = ""
        plain = _plain(rel) and (text or _is_text(rel))
        out.append((rel if p.startswith(prefix) else p) if plain else _relative_id(p, root))
    return out


def _plain(rel: str) -> bool:
    """Whether ``rel`` is a non-empty relative POSIX path without empty, ``.`` or ``..`` parts."""
    s = f"/{rel}/"
    return bool(rel) and "//" not in s and "/./" not in s and "/../" not in s


def _relative_id(path: str, root: Path) -> str:
    try:
        rel = Path(path).relative_to(root)
    except ValueError:
        return escape_id(Path(path).as_posix())
    return escape_id(PurePosixPath(*rel.parts).as_posix())


def escape_id(name: str) -> str:
    """The id of a path: unchanged when it is valid UTF-8, else bytes as ``\\xNN`` and ``\\`` as ``\\\\``.

    ``name`` is a ``str`` as ``os.fsdecode`` gives it (undecodable bytes as
    lone surrogates U+DC80..U+DCFF). See :func:`id_to_fspath` for the inverse.
    """
    if _is_text(name):
        return name
    out = []
    for ch in name:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:  # any other lone surrogate: its code point
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def id_to_fspath(id_: str) -> bytes:
    """The file-system bytes of the relative (or absolute) path an id was made from: the inverse of :func:`escape_id`.

    An id without an escaped byte is its path's UTF-8 encoding.
    """
    if not _ESCAPE.search(id_) or _is_text(_unescape(id_)):
        return id_.encode("utf-8")
    return os.fsencode(_unescape(id_))


def _unescape(id_: str) -> str:
    def one(m: re.Match[str]) -> str:
        tok = m.group(1)
        if tok == "\\":
            return "\\"
        return chr(0xDC00 + int(tok[1:], 16)) if tok[0] == "x" else chr(int(tok[1:], 16))

    return _ESCAPE.sub(one, id_)


def _selected(id_: str, include: Sequence[str] | None, exclude: Sequence[str] | None) -> bool:
    def match(pattern: str) -> bool:
        # "*.png" also matches by base name, as users expect of a recursive walk.
        return fnmatch.fnmatchcase(id_, pattern) or (
            "/" not in pattern and fnmatch.fnmatchcase(id_.rsplit("/", 1)[-1], pattern)
        )

    if include and not any(match(p) for p in include):
        return False
    return not (exclude and any(match(p) for p in exclude))


def _check_unique(sources: list[Source]) -> None:
    owner: dict[str, int] = {}
    for k, src in enumerate(sources):
        for id_ in src.ids:
            first = owner.setdefault(id_, k)
            if first != k:
                raise InvalidInputError(
                    f"two inputs give the same id {id_!r} ({sources[first].label!r} and {src.label!r}); "
                    "ids key the resume, so they must be unique: profile these inputs into separate outputs"
                )
        if len(set(src.ids)) != len(src.ids):
            raise InvalidInputError(
                f"input {src.label!r} has the id {_first_duplicate(src.ids)!r} more than once; ids must be unique"
            )


def _first_duplicate(ids: list[str]) -> str | None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            return i
        seen.add(i)
    return None


# ---------------------------------------------------------------- table inputs


def _is_table(obj: Any) -> bool:
    return isinstance(obj, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)) or hasattr(obj, "__arrow_c_stream__")


def table_columns(schema: pa.Schema, id_column: str | None, bytes_column: str | None, label: str) -> tuple[str, str]:
    """The id and bytes columns of a table: the given names, else ``id`` (or
    ``path``) and ``bytes`` (or the only binary column)."""
    names = schema.names
    if id_column is None:
        id_column = next((c for c in ("id", "path") if c in names), None)
        if id_column is None:
            raise InvalidInputError(f"{label}: no 'id' or 'path' column (columns: {names}); name it with id_column")
    elif id_column not in names:
        raise InvalidInputError(f"{label}: no column {id_column!r} (columns: {names})")
    if bytes_column is None:
        binary = [f.name for f in schema if _is_binary(f.type)]
        if "bytes" in names:
            bytes_column = "bytes"
        elif len(binary) == 1:
            bytes_column = binary[0]
        else:
            raise InvalidInputError(
                f"{label}: cannot tell which column holds the encoded images (binary columns: {binary}); "
                "name it with bytes_column"
            )
    elif bytes_column not in names:
        raise InvalidInputError(f"{label}: no column {bytes_column!r} (columns: {names})")
    if not _is_binary(schema.field(bytes_column).type):
        raise InvalidInputError(
            f"{label}: column {bytes_column!r} must hold binary data, got {schema.field(bytes_column).type}"
        )
    return id_column, bytes_column


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)


def _normalise(batch: pa.RecordBatch, id_column: str, bytes_column: str, label: str) -> pa.RecordBatch:
    """Just ``id`` (as a string) and ``bytes``, zero-copy where the types allow."""
    ids = batch.column(id_column)
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type) or pa.types.is_string_view(ids.type)):
        ids = ids.cast(pa.string())
    if ids.null_count:
        raise InvalidInputError(f"{label}: the id column {id_column!r} has null values; every image needs an id")
    return pa.RecordBatch.from_arrays([ids, batch.column(bytes_column)], names=["id", "bytes"])


def _take(pending: list[pa.RecordBatch], n: int) -> tuple[pa.RecordBatch, list[pa.RecordBatch], int]:
    """The first ``n`` rows of ``pending`` as one batch, and what is left."""
    out, rest, need = [], [], n
    for b in pending:
        if need == 0:
            rest.append(b)
        elif b.num_rows <= need:
            out.append(b)
            need -= b.num_rows
        else:
            out.append(b.slice(0, need))
            rest.append(b.slice(need))
            need = 0
    batch = out[0] if len(out) == 1 else pa.Table.from_batches(out).combine_chunks().to_batches()[0]
    return batch, rest, sum(b.num_rows for b in rest)


def _table_source(obj: Any, id_column: str | None, bytes_column: str | None) -> TableSource:
    if isinstance(obj, pa.RecordBatch):
        table = pa.Table.from_batches([obj])
    elif isinstance(obj, pa.Table):
        table = obj
    else:
        # polars frames, readers and other Arrow streams: read once, keep in memory.
        table = pa.table(obj) if not isinstance(obj, pa.RecordBatchReader) else obj.read_all()
    label = f"<{type(obj).__name__}>"
    id_col, bytes_col = table_columns(table.schema, id_column, bytes_column, label)
    ids = table.column(id_col).cast(pa.string()).to_pylist()
    if any(i is None for i in ids):
        raise InvalidInputError(f"{label}: the id column {id_col!r} has null values; every image needs an id")
    return TableSource(label, id_col, bytes_col, ids, lambda: iter(table.select([id_col, bytes_col]).to_batches()))


def _table_file(path: str, id_column: str | None, bytes_column: str | None) -> TableSource:
    suffix = Path(path).suffix.lower()
    try:
        if suffix in PARQUET_SUFFIXES:
            schema = pq.read_schema(path)
            id_col, bytes_col = table_columns(schema, id_column, bytes_column, path)
            ids = pq.read_table(path, columns=[id_col]).column(0).cast(pa.string()).to_pylist()

            def open_batches() -> Iterator[pa.RecordBatch]:
                # Small reads: a Parquet batch of encoded images is large.
                yield from pq.ParquetFile(path).iter_batches(batch_size=64, columns=[id_col, bytes_col])

        else:
            schema = _ipc_reader(path).schema
            id_col, bytes_col = table_columns(schema, id_column, bytes_column, path)
            ids = [v for b in _ipc_reader(path) for v in b.column(id_col).cast(pa.string()).to_pylist()]

            def open_batches() -> Iterator[pa.RecordBatch]:
                yield from _ipc_reader(path)

    except (OSError, pa.ArrowInvalid) as exc:
        raise InvalidInputError(
            f"cannot read {path!r} as {'Parquet' if suffix in PARQUET_SUFFIXES else 'Arrow IPC'}: {exc}"
        ) from exc
    if any(i is None for i in ids):
        raise InvalidInputError(f"{path}: the id column {id_col!r} has null values; every image needs an id")
    return TableSource(path, id_col, bytes_col, ids, open_batches)


def _ipc_reader(path: str) -> Iterable[pa.RecordBatch]:
    """Record batches of an Arrow IPC file or stream, memory-mapped."""
    source = pa.memory_map(path, "r")
    try:
        reader = pa.ipc.open_file(source)
    except pa.ArrowInvalid:
        source = pa.memory_map(path, "r")
        return pa.ipc.open_stream(source)
    return _FileBatches(reader)


class _FileBatches:
    def __init__(self, reader: pa.ipc.RecordBatchFileReader) -> None:
        self.reader = reader
        self.schema = reader.schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for i in range(self.reader.num_record_batches):
            yield self.reader.get_batch(i)
