"""Archives in: input planning, the batch unit, the local and Ray drivers, the journal, merging, the DICOM fallback.

Ray is imported only by :mod:`spectral_fast.ingest.ray`, when a run asks for it.
The public names are loaded on first use (PEP 562), so that a profile run
does not import the merge's polars before its first image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spectral_fast._shared.lazy import lazy_names

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


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC, __all__)
