"""spectral_fast: find where chest X-ray classifiers fail because of acquisition.

Public names are loaded on first use (PEP 562), so ``import spectral_fast``
and ``spectral-fast --help`` stay fast and never import scikit-learn; the
``TYPE_CHECKING`` block shows the same names to type checkers and IDEs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spectral_fast._shared import display as _display
from spectral_fast._shared.lazy import lazy_names
from spectral_fast._version import __version__

if TYPE_CHECKING:
    from spectral_fast.analysis import Finding, Report, SpectralClusters, analyze
    from spectral_fast.errors import InternalError, InvalidInputError, InvalidTypeError, SpectralFastError
    from spectral_fast.ingest import ArchiveSummary, combine_profiles, process_batch, profile_archive
    from spectral_fast.profiling import ProfileOptions, band_edges, feature_matrix, profile
    from spectral_fast.reliability import MonitorResult, Prediction, monitor, predict
    from spectral_fast.render import show, write_monitor, write_report, write_stress
    from spectral_fast.stress import StressResult, run_stress

# public name -> subpackage that exports it
_PUBLIC = {
    "profile": "spectral_fast.profiling",
    "band_edges": "spectral_fast.profiling",
    "feature_matrix": "spectral_fast.profiling",
    "ProfileOptions": "spectral_fast.profiling",
    "profile_archive": "spectral_fast.ingest",
    "process_batch": "spectral_fast.ingest",
    "combine_profiles": "spectral_fast.ingest",
    "ArchiveSummary": "spectral_fast.ingest",
    "analyze": "spectral_fast.analysis",
    "Finding": "spectral_fast.analysis",
    "Report": "spectral_fast.analysis",
    "SpectralClusters": "spectral_fast.analysis",
    "predict": "spectral_fast.reliability",
    "monitor": "spectral_fast.reliability",
    "Prediction": "spectral_fast.reliability",
    "MonitorResult": "spectral_fast.reliability",
    "write_report": "spectral_fast.render",
    "write_monitor": "spectral_fast.render",
    "show": "spectral_fast.render",
    "write_stress": "spectral_fast.render",
    "run_stress": "spectral_fast.stress",
    "StressResult": "spectral_fast.stress",
    "SpectralFastError": "spectral_fast.errors",
    "InvalidInputError": "spectral_fast.errors",
    "InvalidTypeError": "spectral_fast.errors",
    "InternalError": "spectral_fast.errors",
}

__all__ = [
    "ArchiveSummary",
    "Finding",
    "InternalError",
    "InvalidInputError",
    "InvalidTypeError",
    "MonitorResult",
    "Prediction",
    "ProfileOptions",
    "Report",
    "SpectralClusters",
    "SpectralFastError",
    "StressResult",
    "__version__",
    "analyze",
    "band_edges",
    "combine_profiles",
    "feature_matrix",
    "monitor",
    "predict",
    "process_batch",
    "profile",
    "profile_archive",
    "run_stress",
    "show",
    "write_monitor",
    "write_report",
    "write_stress",
]


def _render_html(obj: object) -> str | None:
    """Notebook HTML of a result object, loading the rendering layer on first use (see ``_shared.display``)."""
    from spectral_fast.render.notebook import repr_html

    return repr_html(obj)


# The package root may import every layer; installing the renderer here lets Report, Prediction and
# MonitorResult render in Jupyter while analysis and reliability never import render.
_display.set_renderer(_render_html)


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC, __all__)
