"""Archives in: input planning, the batch unit, the local and Ray drivers, the journal, merging, the DICOM fallback.

Ray is imported only by :mod:`spectral_fast.ingest.ray`, when a run asks for it.
The public names are loaded on first use (PEP 562), so that a profile run
does not import the merge's polars before its first image.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spectral_fast.ingest.batch import process_batch
    from spectral_fast.ingest.local import ArchiveSummary, profile_archive
    from spectral_fast.ingest.merge import combine_profiles, scan_profiles

__all__ = ["ArchiveSummary", "combine_profiles", "process_batch", "profile_archive", "scan_profiles"]

_PUBLIC = {
    "process_batch": "spectral_fast.ingest.batch",
    "ArchiveSummary": "spectral_fast.ingest.local",
    "profile_archive": "spectral_fast.ingest.local",
    "combine_profiles": "spectral_fast.ingest.merge",
    "scan_profiles": "spectral_fast.ingest.merge",
}


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'spectral_fast.ingest' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
