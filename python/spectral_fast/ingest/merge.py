"""One profile table from many Parquet files: Ray shards, per-site or per-day runs.

Profile files are small (a few hundred bytes per image) and hold no pixels,
so the union of a whole archive's shards fits in memory even when the images
never would. :func:`scan_profiles` reads them lazily (polars, profile columns
only); :func:`combine_profiles` collects, checks and optionally writes one
file that the rest of the package (clustering, reports) reads like the output
of a single local run.

Files are only combined when they were made alike: every file must carry the
run description that spectral_fast writers store in the Parquet metadata
(package version and profile options), and all must agree, since profiles
made with other bands, sizes or windows are not comparable numbers, and
files made with and without the artefact features (``artefacts=False``)
do not have the same columns.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from spectral_fast import _core
from spectral_fast.errors import InvalidInputError
from spectral_fast.ingest.journal import dictionary_columns, recorded_options
from spectral_fast.profiling.tables import METADATA_KEY, read_metadata

__all__ = ["combine_profiles", "profile_files", "run_description", "scan_profiles"]

_SUFFIXES = (".parquet", ".pq")


def profile_files(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand ``paths`` into profile files.

    Parameters
    ----------
    paths : path or list of paths
        Parquet files, folders (their ``*.parquet`` / ``*.pq`` files, e.g.
        what ``Dataset.write_parquet`` wrote) or glob patterns.

    Returns
    -------
    list of pathlib.Path
        Each file once, folders and globs in sorted order.

    Raises
    ------
    InvalidInputError
        A path that does not exist, or no file at all.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for item in paths:
        text = os.fspath(item)
        if os.path.isdir(text):
            found = sorted(p for p in Path(text).iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file())
            if not found:
                raise InvalidInputError(f"folder {text!r} holds no Parquet file (*.parquet, *.pq)")
            files.extend(found)
        elif os.path.isfile(text):
            files.append(Path(text))
        elif set(text) & set("*?["):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if os.path.isfile(p))
            if not found:
                raise InvalidInputError(f"glob {text!r} matches no file")
            files.extend(found)
        else:
            raise InvalidInputError(f"profile file {text!r} does not exist")
    if not files:
        raise InvalidInputError("no profile file given")
    unique: dict[str, Path] = {}
    for f in files:
        unique.setdefault(os.path.realpath(f), f)
    return list(unique.values())


def run_description(files: Sequence[Path]) -> dict[str, Any]:
    """The run description (version, options) shared by all ``files``.

    Raises
    ------
    InvalidInputError
        A file without a description (not written by spectral_fast), or two
        files that disagree; the message names the option and both files.
    """
    first: dict[str, Any] | None = None
    first_file: Path | None = None
    for f in files:
        meta = read_metadata(f)
        if meta is None:
            raise InvalidInputError(
                f"{str(f)!r} has no spectral_fast run description in its metadata; "
                "only tables written by spectral-fast profile or spectral_fast.ingest.ray can be combined"
            )
        if first is None:
            first, first_file = meta, f
            continue
        if meta.get("version") != first.get("version"):
            raise InvalidInputError(
                f"profiles made by different spectral_fast versions: {str(first_file)!r} by "
                f"{first.get('version')}, {str(f)!r} by {meta.get('version')}; profile them again with one version"
            )
        a, b = recorded_options(first), recorded_options(meta)
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                why = (
                    "one has the artefact feature columns and the other not; profile them again alike"
                    if key == "artefacts"
                    else "their features are not comparable"
                )
                raise InvalidInputError(
                    f"profiles made with different options: {key}={a.get(key)!r} in {str(first_file)!r} but "
                    f"{key}={b.get(key)!r} in {str(f)!r}; {why}"
                )
    assert first is not None
    return first


def _schema(meta: dict[str, Any]):
    """The local profiler's output schema for the options of ``meta``."""
    options = recorded_options(meta)
    return _core.archive_schema(int(options["bands"]), artefacts=bool(options["artefacts"]))


def _added_later(column: str) -> bool:
    """Columns newer than some profile files (the acquisition metadata): a file without them reads as nulls."""
    return column == "mode" or column.startswith("dicom_")


def _columns(files: Sequence[Path], meta: dict[str, Any]) -> tuple[list[str], bool]:
    """The profile columns, and whether some file holds other columns too or lacks the newer ones."""
    expected = _schema(meta).names
    extra = False
    for f in files:
        names = pq.read_schema(f).names
        missing = [c for c in expected if c not in names and not _added_later(c)]
        if missing:
            raise InvalidInputError(
                f"{str(f)!r} lacks the profile columns {missing[:5]}{'...' if len(missing) > 5 else ''}"
            )
        extra = extra or names != expected
    return expected, extra


def _scan(path: str, columns: list[str], dtypes: dict[str, pl.DataType]) -> pl.LazyFrame:
    """One file's profile columns; the newer ones it lacks are nulls."""
    have = set(pq.read_schema(path).names)
    return pl.scan_parquet(path, glob=False).select(
        [pl.col(c) if c in have else pl.lit(None, dtype=dtypes[c]).alias(c) for c in columns]
    )


def scan_profiles(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> pl.LazyFrame:
    """The profile rows of many files as one lazy table; nothing but footers is read yet.

    Parameters
    ----------
    paths : path or list of paths
        As in :func:`profile_files`.

    Returns
    -------
    polars.LazyFrame
        The profile columns (``id``, bands, scalars, ``status``, ``error`` ...)
        of every file, files in :func:`profile_files` order. Other columns a
        file may hold are never read.

    Raises
    ------
    InvalidInputError
        As in :func:`profile_files` and :func:`run_description`, or a file
        missing profile columns.
    """
    files = profile_files(paths)
    meta = run_description(files)
    columns, extra = _columns(files, meta)
    names = [str(f) for f in files]
    if not extra:
        return pl.scan_parquet(names, glob=False).select(columns)
    # One scan per file: a multi-file scan requires one schema for all.
    dtypes = dict(pl.from_arrow(_schema(meta).empty_table()).schema)
    return pl.concat([_scan(n, columns, dtypes) for n in names], how="vertical")


def combine_profiles(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    output: str | os.PathLike[str] | None = None,
    sort: bool = True,
) -> pl.DataFrame:
    """One profile table from many files, checked; optionally written as one Parquet file.

    Parameters
    ----------
    paths : path or list of paths
        Parquet files, folders of shards, or globs (see :func:`profile_files`).
    output : path or None
        Also write the table here, with the shared run description in its
        metadata and the local profiler's schema, so it reads (and resumes)
        like the output of one local run. Written to a temporary name, then
        renamed.
    sort : bool, default True
        Order rows by ``id``. Shards record no order of their own (Ray
        finishes them in any order), so sorting makes the result
        deterministic: it equals a local run's table sorted by ``id``.

    Returns
    -------
    polars.DataFrame

    Raises
    ------
    InvalidInputError
        As in :func:`scan_profiles`, or an id found more than once (two
        shards of overlapping runs).
    """
    files = profile_files(paths)
    meta = run_description(files)
    table = scan_profiles(files).collect()
    dup = table.filter(pl.col("id").is_duplicated())
    if dup.height:
        first = dup["id"][0]
        raise InvalidInputError(
            f"id {first!r} appears {int((table['id'] == first).sum())} times ({dup.height} duplicated rows in all); "
            "the files overlap (e.g. shards of two runs in one folder)"
        )
    if sort:
        table = table.sort("id")
    if output is not None:
        _write(table, Path(output), meta)
    return table


def _write(table: pl.DataFrame, output: Path, meta: dict[str, Any]) -> None:
    schema = _schema(meta)
    # polars exports large/view string types; cast back to the local file's schema.
    arrow = table.to_arrow().cast(schema).replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})
    tmp = output.with_name(output.name + ".tmp")
    pq.write_table(arrow, tmp, use_dictionary=dictionary_columns(schema))  # as profile_archive writes it
    os.replace(tmp, output)
