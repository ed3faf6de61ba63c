"""spectral_fast: find where chest X-ray classifiers fail because of acquisition.

Public names are loaded on first use (PEP 562), so ``import spectral_fast``
and ``spectral-fast --help`` stay fast and never import scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "profile": "spectral_fast.profile",
    "band_edges": "spectral_fast.profile",
    "feature_matrix": "spectral_fast.profile",
    "profile_archive": "spectral_fast.archive",
    "process_batch": "spectral_fast.archive",
    "SpectralFastError": "spectral_fast.errors",
    "InvalidInputError": "spectral_fast.errors",
    "InvalidTypeError": "spectral_fast.errors",
    "InternalError": "spectral_fast.errors",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'spectral_fast' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
