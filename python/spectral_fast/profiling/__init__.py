"""Spectral profiles: the Rust core's :func:`profile`, its options, profile tables, and the numpy oracles.

The lowest layer of the package: it imports nothing above it. The public
names are loaded on first use (PEP 562): an archive run needs the options,
not the profiler's polars.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'spectral_fast.profiling' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
