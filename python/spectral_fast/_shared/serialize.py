"""Serialisation shared by every on-disk format: JSON-safe values, checksummed JSON + NPZ pairs."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from spectral_fast._version import __version__
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
    meta = _load_json(json_path, what)
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
    arrays_name = meta.get("arrays")
    if not isinstance(arrays_name, str) or not arrays_name or Path(arrays_name).name != arrays_name:
        raise InvalidInputError(f"{json_path}: 'arrays' must name a file next to it, got {arrays_name!r:.80}")
    npz_path = json_path.with_name(arrays_name)
    if not npz_path.is_file() or hashlib.sha256(npz_path.read_bytes()).hexdigest() != meta.get("arrays_sha256"):
        raise InvalidInputError(f"{npz_path}: missing, or checksum mismatch: the arrays were modified after saving")
    return meta, _load_npz(npz_path, what)


#: Limits of a model or reference file pair: far above what a report writes, far below what hurts.
MAX_JSON_BYTES = 64 << 20
MAX_JSON_DEPTH = 64
MAX_ARRAYS_BYTES = 4 << 30


def json_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` in a JSON text, without parsing it (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _load_json(json_path: Path, what: str) -> Any:
    """The JSON document, or :class:`InvalidInputError` naming the file: never a raw parser error."""
    bad = f"{json_path}: not a spectral_fast {what} file"
    try:
        size = json_path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise InvalidInputError(f"{bad} ({size} bytes, more than {MAX_JSON_BYTES})")
        text = json_path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{bad} (not UTF-8: {exc})") from None
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise InvalidInputError(f"{bad} (JSON nested {depth} levels deep, more than {MAX_JSON_DEPTH})")
    try:
        return json.loads(text)
    # ValueError: bad JSON, or an integer of more than sys.get_int_max_str_digits() digits.
    except (ValueError, RecursionError, OverflowError) as exc:
        raise InvalidInputError(f"{bad} ({type(exc).__name__}: {str(exc)[:200]})") from None


def _load_npz(npz_path: Path, what: str) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (no pickle, bounded size), or :class:`InvalidInputError` naming the file."""
    import zipfile

    try:
        with zipfile.ZipFile(npz_path) as zf:
            total = sum(i.file_size for i in zf.infolist())
        if total > MAX_ARRAYS_BYTES:
            raise InvalidInputError(f"{npz_path}: {what} arrays of {total} bytes, more than {MAX_ARRAYS_BYTES}")
        with np.load(npz_path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except InvalidInputError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, MemoryError, OverflowError) as exc:
        raise InvalidInputError(f"{npz_path}: unreadable {what} arrays ({type(exc).__name__}: {exc})") from None


def check_arrays(path: Path, arrays: dict[str, np.ndarray], specs: dict[str, tuple]) -> None:
    """Check arrays read from ``path`` against ``specs``: ``name -> (shape, rule)``.

    ``shape`` is a tuple of ints or ``None`` (any length along that axis);
    ``rule`` is ``"finite"``, ``"nonneg"`` (finite and >= 0), ``"positive"``
    (finite and > 0), ``"int"`` or ``None`` (any values). Any mismatch
    raises :class:`InvalidInputError` naming the file and the array.
    """
    for name, (shape, rule) in specs.items():
        if name not in arrays:
            raise InvalidInputError(f"{path}: array {name!r} is missing")
        a = arrays[name]
        if a.dtype.kind not in "biuf":
            raise InvalidInputError(f"{path}: array {name!r} has dtype {a.dtype}, expected numbers")
        if shape is not None and (
            a.ndim != len(shape) or any(want is not None and got != want for got, want in zip(a.shape, shape))
        ):
            raise InvalidInputError(f"{path}: array {name!r} has shape {a.shape}, expected {_shape_text(shape)}")
        if rule is None or a.size == 0:
            continue
        if rule == "int":
            if a.dtype.kind not in "biu":
                raise InvalidInputError(f"{path}: array {name!r} must hold integers, has dtype {a.dtype}")
            continue
        values = a.astype(np.float64, copy=False)
        if not np.isfinite(values).all():
            raise InvalidInputError(f"{path}: array {name!r} has NaN or infinite values")
        if rule == "nonneg" and (values < 0).any():
            raise InvalidInputError(f"{path}: array {name!r} has negative values")
        if rule == "positive" and (values <= 0).any():
            raise InvalidInputError(f"{path}: array {name!r} has values <= 0")


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_number(
    path: Path,
    name: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    integer: bool = False,
    allow_inf: bool = False,
) -> float:
    """``value`` as a number within ``[lo, hi]``, else :class:`InvalidInputError` naming the file and field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise InvalidInputError(f"{path}: {name} must be {'an integer' if integer else 'a number'}, got {value!r:.80}")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidInputError(f"{path}: {name} is out of range") from None
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise InvalidInputError(f"{path}: {name} must be finite, got {value!r}")
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise InvalidInputError(f"{path}: {name} = {value!r:.80} is outside [{lo}, {hi}]")
    return number


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
