"""Archives in: input planning, the batch unit, the local and Ray drivers, the journal, merging, the DICOM fallback.

Ray is imported only by :mod:`spectral_fast.ingest.ray`, when a run asks for it.
"""

from spectral_fast.ingest.batch import process_batch
from spectral_fast.ingest.local import ArchiveSummary, profile_archive
from spectral_fast.ingest.merge import combine_profiles, scan_profiles

__all__ = ["ArchiveSummary", "combine_profiles", "process_batch", "profile_archive", "scan_profiles"]
