"""Running the model in batches, and what a change does to it: accuracy, AUROC, score shift, flip rate.

Every figure compares the model on changed images with the same model on the
same images unchanged, so intervals come from a paired bootstrap over images
(the same resampled images for both sides). See docs/method.md#stress-tests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from spectral_fast._shared.stats import auroc
from spectral_fast.errors import InvalidInputError

#: Bootstrap resamples of every interval (percentile 95 %).
N_BOOT = 300


def score_images(
    model: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    batch_size: int = 32,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """The model's scores of ``images`` (N, H, W), ``batch_size`` at a time, as float64; checks what it returns."""
    images = np.asarray(images, dtype=np.float32)
    out = np.empty(len(images), dtype=np.float64)
    for start in range(0, len(images), max(int(batch_size), 1)):
        batch = images[start : start + batch_size]
        scores = np.asarray(model(batch), dtype=np.float64).reshape(-1)
        if scores.shape != (len(batch),) or not np.all(np.isfinite(scores)):
            raise InvalidInputError(
                f"model: expected {len(batch)} finite scores for a batch of {len(batch)} images, got shape "
                f"{scores.shape}{'' if np.all(np.isfinite(scores)) else ' with NaN/inf'}"
            )
        out[start : start + len(batch)] = scores
        if on_batch is not None:
            on_batch(len(batch))
    return out


def percentile_interval(values: np.ndarray) -> tuple[float, float]:
    """2.5th and 97.5th percentiles of bootstrap values (NaN-ignoring; NaN when none is finite)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan"), float("nan")
    lo, hi = np.percentile(v, [2.5, 97.5])
    return float(lo), float(hi)


def mean_interval(values: np.ndarray, rng: np.random.Generator, n_boot: int = N_BOOT) -> tuple[float, float, float]:
    """Mean of per-image values with a percentile bootstrap interval: (mean, low, high); NaNs when empty."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    idx = rng.integers(0, v.size, (n_boot, v.size))
    lo, hi = percentile_interval(v[idx].mean(axis=1))
    return float(v.mean()), lo, hi


def change_metrics(
    label: np.ndarray,
    base: np.ndarray,
    changed: np.ndarray,
    threshold: float,
    rng: np.random.Generator,
    n_boot: int = N_BOOT,
) -> dict[str, float]:
    """Accuracy, AUROC, mean score shift and flip rate of ``changed`` scores against ``base``, with intervals.

    Keys: ``accuracy``, ``auroc``, ``score_shift`` (mean changed - base),
    ``flip_rate`` (share of images whose decision at ``threshold`` changed),
    ``accuracy_change`` (changed - base accuracy), each with ``_low`` and
    ``_high``; and ``base_accuracy``, ``base_auroc``.
    """
    y = np.asarray(label, dtype=bool)
    base, changed = np.asarray(base, dtype=np.float64), np.asarray(changed, dtype=np.float64)
    correct0 = (base >= threshold) == y
    correct1 = (changed >= threshold) == y
    flip = (base >= threshold) != (changed >= threshold)
    n = len(y)
    idx = rng.integers(0, n, (n_boot, n)) if n else np.zeros((0, 0), dtype=np.int64)
    boot = {
        "accuracy": correct1[idx].mean(axis=1),
        "accuracy_change": (correct1.astype(np.float64) - correct0)[idx].mean(axis=1),
        "score_shift": (changed - base)[idx].mean(axis=1),
        "flip_rate": flip[idx].mean(axis=1),
        "auroc": np.array([auroc(y[i], changed[i]) for i in idx]),
    }
    point = {
        "accuracy": float(correct1.mean()) if n else float("nan"),
        "accuracy_change": float(correct1.mean() - correct0.mean()) if n else float("nan"),
        "score_shift": float((changed - base).mean()) if n else float("nan"),
        "flip_rate": float(flip.mean()) if n else float("nan"),
        "auroc": auroc(y, changed),
    }
    out: dict[str, float] = {
        "base_accuracy": float(correct0.mean()) if n else float("nan"),
        "base_auroc": auroc(y, base),
    }
    for key, value in point.items():
        lo, hi = percentile_interval(boot[key])
        out[key], out[f"{key}_low"], out[f"{key}_high"] = value, lo, hi
    return out
