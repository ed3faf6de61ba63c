"""Serialisation shared by every on-disk format: JSON-safe values, checksummed JSON + NPZ pairs."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from spectral_fast import __version__
from spectral_fast.errors import InvalidInputError


def _digest(meta: dict) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()


def write_checksummed(json_path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> tuple[Path, Path]:
    """Save ``arrays`` as the ``.npz`` next to ``json_path`` and ``meta`` as JSON, both checksummed.

    The JSON gains ``arrays`` (the npz file name), ``arrays_sha256`` and its
    own ``sha256``; :func:`read_checksummed` verifies all three. Shared by the
    cluster model and :class:`spectral_fast.reliability.reference_set.Reference` (no pickle).
    """
    npz_path = json_path.with_suffix(".npz")
    np.savez(npz_path, **arrays)
    meta = {**meta, "arrays": npz_path.name, "arrays_sha256": hashlib.sha256(npz_path.read_bytes()).hexdigest()}
    meta["sha256"] = _digest(meta)
    json_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return json_path, npz_path


def read_checksummed(
    json_path: Path, fmt: str, versions: tuple[int, ...], *, what: str, remedy: str
) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a file pair written by :func:`write_checksummed`; returns ``(meta, arrays)``.

    Raises :class:`InvalidInputError` (naming ``what`` and saying ``remedy``
    for an unreadable version) for another format, a format version not in
    ``versions``, or a JSON or npz file changed after saving.
    """
    try:
        meta = json.loads(json_path.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{json_path}: not a spectral_fast {what} file ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise InvalidInputError(f"{json_path}: not a spectral_fast {what} file (format {found!r})")
    if meta.get("format_version") not in versions:
        raise InvalidInputError(
            f"{json_path}: {what} format version {meta.get('format_version')!r}, "
            f"this spectral_fast {__version__} reads version {' or '.join(map(str, versions))}; {remedy}"
        )
    if meta.get("sha256") != _digest({k: v for k, v in meta.items() if k != "sha256"}):
        raise InvalidInputError(f"{json_path}: checksum mismatch, the file was modified after saving")
    npz_path = json_path.with_name(str(meta.get("arrays")))
    if not npz_path.is_file() or hashlib.sha256(npz_path.read_bytes()).hexdigest() != meta.get("arrays_sha256"):
        raise InvalidInputError(f"{npz_path}: missing, or checksum mismatch: the arrays were modified after saving")
    with np.load(npz_path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return meta, arrays


def jsonable(value: Any) -> Any:
    """Plain JSON: numpy scalars to Python, NaN/inf to null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------- CSV

#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV injection").
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"


def csv_safe(frame: Any) -> Any:
    """``frame`` (a polars DataFrame) with every string cell that could start a formula prefixed with ``'``.

    Only string (and categorical) columns change: a cell starting with ``=``,
    ``+``, ``-``, ``@``, tab or carriage return gets a leading apostrophe, as
    OWASP advises against CSV injection, unless the whole cell is a plain
    number such as ``-0.5`` (harmless, and kept readable as a number).
    Numeric columns are never touched.
    """
    import polars as pl

    exprs = []
    for name, dtype in frame.schema.items():
        if dtype in (pl.Utf8, pl.Categorical) or isinstance(dtype, (pl.Categorical, pl.Enum)):
            col = pl.col(name).cast(pl.Utf8)
            risky = col.str.starts_with(CSV_FORMULA_START[0])
            for ch in CSV_FORMULA_START[1:]:
                risky = risky | col.str.starts_with(ch)
            risky = risky & ~col.str.contains(_PLAIN_NUMBER)
            exprs.append(pl.when(risky).then(pl.lit("'") + col).otherwise(col).alias(name))
    return frame.with_columns(exprs) if exprs else frame


def write_csv_safe(frame: Any, path: Path) -> Path:
    """Write ``frame`` as CSV through :func:`csv_safe`; every CSV the package writes goes through here."""
    csv_safe(frame).write_csv(path)
    return path
