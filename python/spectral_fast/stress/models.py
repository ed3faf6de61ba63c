"""The model under test, as one callable: (N, H, W) float32 images in, (N,) scores out.

Users bring a model as a Python entry point ``module:function`` (a function that
takes an (N, H, W) float32 batch and returns one score per image, higher meaning
the positive class) or as an ONNX file run with onnxruntime. Both end up as a
``ScoreModel``; everything in ``stress`` depends on that protocol only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

import numpy as np

from spectral_fast.errors import InvalidInputError


class ScoreModel(Protocol):
    """A model under test: ``scores = model(images)``, images (N, H, W) float32, scores (N,) float."""

    def __call__(self, images: np.ndarray) -> np.ndarray: ...


def load_entry_point(spec: str) -> Callable[[np.ndarray], np.ndarray]:
    """The function named by ``module:function`` (e.g. ``mypkg.models:score``), imported."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidInputError(f"model: expected 'module:function', got {spec!r}")
    try:
        target = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(f"model: cannot import module {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        if not hasattr(target, part):
            raise InvalidInputError(f"model: {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise InvalidInputError(f"model: {spec!r} is not callable")
    return target
