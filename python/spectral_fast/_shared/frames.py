"""Any dataframe to polars: the one place where the Python API accepts tables.

Accepted: polars DataFrame, pandas DataFrame, pyarrow Table or RecordBatch,
and anything that exports the Arrow PyCapsule stream interface
(``__arrow_c_stream__``: DuckDB, Daft, nanoarrow, recent pandas, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from spectral_fast.errors import InvalidTypeError

#: What :func:`to_polars` accepts, as error messages name it.
ACCEPTED = "a polars or pandas DataFrame, a pyarrow Table or RecordBatch, or any object with __arrow_c_stream__"


def is_frame(obj: Any) -> bool:
    """True for the tables :func:`to_polars` converts."""
    return isinstance(obj, pl.DataFrame) or _is_pandas(obj) or _is_arrow(obj) or hasattr(obj, "__arrow_c_stream__")


def to_polars(obj: Any, name: str) -> pl.DataFrame:
    """``obj`` as a polars DataFrame (no copy for polars); InvalidTypeError naming ``name`` otherwise."""
    if isinstance(obj, pl.DataFrame):
        return obj
    if _is_pandas(obj):
        return pl.from_pandas(obj)
    if _is_arrow(obj):
        return pl.from_arrow(obj)  # type: ignore[return-value]
    if hasattr(obj, "__arrow_c_stream__"):
        import pyarrow as pa

        return pl.from_arrow(pa.table(obj))  # type: ignore[return-value]
    raise InvalidTypeError(f"{name} must be {ACCEPTED}, got {type(obj).__module__}.{type(obj).__name__}")


def to_polars_or_path(obj: Any, name: str) -> pl.DataFrame | Path:
    """A table as polars (:func:`to_polars`), or a file path (str or ``os.PathLike``) as a Path."""
    if isinstance(obj, (str, Path)) or hasattr(obj, "__fspath__"):
        return Path(obj)
    if not is_frame(obj):
        raise InvalidTypeError(
            f"{name} must be a file path, {ACCEPTED}; got {type(obj).__module__}.{type(obj).__name__}"
        )
    return to_polars(obj, name)


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "DataFrame"


def _is_arrow(obj: Any) -> bool:
    return type(obj).__module__.startswith("pyarrow") and type(obj).__name__ in ("Table", "RecordBatch")
