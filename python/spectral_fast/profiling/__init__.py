"""Spectral profiles: the Rust core's :func:`profile`, its options, profile tables, and the numpy oracles.

The lowest layer of the package: it imports nothing above it.
"""

from spectral_fast.profiling.options import ProfileOptions
from spectral_fast.profiling.profiler import band_edges, feature_matrix, profile

__all__ = ["ProfileOptions", "band_edges", "feature_matrix", "profile"]
