"""Scoring functions for ``module:function`` model specs in the stress tests (``helpers.score_functions:...``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def mean_score(images: np.ndarray) -> np.ndarray:
    """Each image's mean: (N,)."""
    return images.mean(axis=(1, 2))


def two_scores(images: np.ndarray) -> np.ndarray:
    """A wrong shape for a scoring function: (N, 2)."""
    return np.stack([images.mean(axis=(1, 2))] * 2, axis=1)


def offset_model(path: Path, offset: float = 0.0):
    """A factory: reads a number from ``path`` and scores images by mean + that number + ``offset``."""
    base = float(Path(path).read_text())
    return lambda images: images.mean(axis=(1, 2)) + base + offset
