"""The run description a profiles file carries in its Parquet key-value metadata (version, options).

Apart from :mod:`spectral_fast.profiling.tables` so that a profile run can
write and check it without importing polars (CLI start-up:
``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from spectral_fast.errors import InvalidInputError

#: Key of the run description in the Parquet file's key-value metadata.
METADATA_KEY = b"spectral_fast"


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The run description (version, options) stored in a profiles file."""
    return _file_metadata(Path(path))


def _file_metadata(path: Path) -> dict[str, Any] | None:
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid) as exc:
        raise InvalidInputError(f"cannot read {str(path)!r} as Parquet: {exc}") from exc
    raw = meta.get(METADATA_KEY)
    return json.loads(raw) if raw else None
