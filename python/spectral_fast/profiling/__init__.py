"""Spectral profiles: the Rust core's :func:`profile`, its options, profile tables, and the numpy oracles.

The lowest layer of the package: it imports nothing above it. The public
names are loaded on first use (PEP 562): an archive run needs the options,
not the profiler's polars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spectral_fast._shared.lazy import lazy_names

if TYPE_CHECKING:
    from spectral_fast.profiling.options import ProfileOptions
    from spectral_fast.profiling.profiler import band_edges, feature_matrix, profile

__all__ = ["ProfileOptions", "band_edges", "feature_matrix", "profile"]

_PUBLIC = {
    "ProfileOptions": "spectral_fast.profiling.options",
    "band_edges": "spectral_fast.profiling.profiler",
    "feature_matrix": "spectral_fast.profiling.profiler",
    "profile": "spectral_fast.profiling.profiler",
}


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC, __all__)
