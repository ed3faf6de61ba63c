"""A model's sensitivity spectrum: what graded, controlled changes of labelled images do to its decisions.

Two families of change, each at several strengths:

* ``band``: a smooth gain on one octave band group (a log-gain bump, phase and
  DC kept, :mod:`spectral_fast.stress.gains`), attenuation (< 1) and
  amplification (> 1) at every octave: accuracy against frequency is the
  model's sensitivity spectrum;
* the acquisition simulator's changes (blur, noise, sharpen, jpeg, resample,
  grid, gamma), each on a ladder of strengths.

Per change and strength: accuracy, AUROC, mean score shift and flip rate
against the unchanged images, with paired bootstrap intervals
(:func:`spectral_fast.stress.metrics.change_metrics`).
See docs/method.md#stress-tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from spectral_fast.errors import InvalidInputError
from spectral_fast.simulate import acquire
from spectral_fast.stress.gains import apply_gain, band_bump, curve_radii, octave_groups
from spectral_fast.stress.metrics import N_BOOT, change_metrics, score_images

#: Gains applied to each octave band group: attenuation and amplification (amplitude factors).
BAND_GAINS: tuple[float, ...] = (0.25, 0.5, 2.0, 4.0)
#: Strength ladders of the simulator's changes, mildest first (units: see ``acquire.DEFAULT_STRENGTH``).
ACQUISITION_LADDER: dict[str, tuple[float, ...]] = {
    "blur": (0.75, 1.5, 3.0),
    "noise": (2.0, 4.0, 8.0),
    "sharpen": (0.5, 1.0, 2.0),
    "jpeg": (70, 40, 15),
    "resample": (1.5, 2.0, 3.0),
    "grid": (5.0, 3.3, 2.5),
    "gamma": (0.5, 0.7, 1.4),
}

#: Columns of a sensitivity table, in order.
COLUMNS = (
    "family", "change", "strength", "centre", "n", "base_accuracy", "base_auroc",
    "accuracy", "accuracy_low", "accuracy_high", "accuracy_change", "accuracy_change_low", "accuracy_change_high",
    "auroc", "auroc_low", "auroc_high", "score_shift", "score_shift_low", "score_shift_high",
    "flip_rate", "flip_rate_low", "flip_rate_high",
)  # fmt: skip


@dataclass(frozen=True)
class Change:
    """One controlled change: ``family`` ("band" or "acquisition"), name, strength, band centre (cycles/px)."""

    family: str
    change: str
    strength: float
    centre: float = float("nan")


def plan_changes(
    height: int,
    width: int,
    band_gains: tuple[float, ...] = BAND_GAINS,
    ladder: dict[str, tuple[float, ...]] | None = None,
) -> list[Change]:
    """Every change of a sensitivity run of H x W images: each octave at each gain, then each simulator rung."""
    ladder = ACQUISITION_LADDER if ladder is None else ladder
    unknown = sorted(set(ladder) - set(acquire.CHANGES))
    if unknown:
        raise InvalidInputError(f"changes: unknown acquisition changes {unknown}; known: {', '.join(acquire.CHANGES)}")
    changes = [Change("band", f"band {c:.3g}", float(g), float(c)) for c in octave_groups(height, width)
               for g in band_gains]  # fmt: skip
    changes += [Change("acquisition", name, float(s)) for name, rungs in ladder.items() for s in rungs]
    return changes


def apply_change(
    images: np.ndarray, change: Change, native_dtype: np.dtype, seed: int, threads: int | None = None
) -> np.ndarray:
    """``images`` (N, H, W) float32 under ``change``, float32.

    Simulator changes run per image in ``native_dtype`` (the files' dtype, so a
    8-bit image is rounded and clipped as 8 bits); noise draws from ``seed``.
    """
    if change.family == "band":
        h, w = images.shape[1:]
        radii = curve_radii(h, w)
        return apply_gain(images, radii, band_bump(radii, change.centre, change.strength), threads)
    rng = np.random.default_rng(seed)
    dtype = np.dtype(native_dtype)
    strength = int(change.strength) if change.change == "jpeg" else change.strength
    out = np.empty_like(images, dtype=np.float32)
    for i, image in enumerate(images):
        native = image.astype(dtype) if np.issubdtype(dtype, np.integer) else image
        out[i] = acquire.apply(native, change.change, strength, rng=rng)
    return out


def sensitivity(
    model: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    *,
    threshold: float = 0.5,
    native_dtype: np.dtype | str = "float32",
    changes: list[Change] | None = None,
    batch_size: int = 32,
    n_boot: int = N_BOOT,
    seed: int = 0,
    base_scores: np.ndarray | None = None,
    on_batch: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> pl.DataFrame:
    """One row per change (:data:`COLUMNS`): the model on changed images against the same images unchanged.

    ``images`` (N, H, W) float32 with ``labels`` (N,) 0/1; ``changes`` default
    :func:`plan_changes`. ``base_scores`` (the unchanged images' scores) is
    computed when not given. ``on_batch`` is told how many images each model
    call scored (progress).
    """
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels)
    if images.ndim != 3 or len(labels) != len(images) or len(images) == 0:
        raise InvalidInputError(
            f"sensitivity: expected (N, H, W) images and N labels, got {images.shape}, {labels.shape}"
        )
    changes = plan_changes(*images.shape[1:]) if changes is None else changes
    base = score_images(model, images, batch_size, on_batch) if base_scores is None else np.asarray(base_scores)
    rng = np.random.default_rng(seed)
    rows = []
    for k, change in enumerate(changes):
        changed = np.empty(len(images), dtype=np.float64)
        for start in range(0, len(images), batch_size):
            batch = apply_change(
                images[start : start + batch_size], change, np.dtype(native_dtype), seed + 7919 * k + start, threads
            )
            changed[start : start + len(batch)] = score_images(model, batch, batch_size, on_batch)
        m = change_metrics(labels, base, changed, threshold, rng, n_boot)
        rows.append({"family": change.family, "change": change.change, "strength": change.strength,
                     "centre": change.centre, "n": len(images), **m})  # fmt: skip
    return pl.DataFrame(rows, schema={c: pl.Utf8 if c in ("family", "change") else pl.Int64 if c == "n" else pl.Float64
                                      for c in COLUMNS})  # fmt: skip


def spectrum_summary(table: pl.DataFrame) -> list[dict]:
    """Per band group and gain, the accuracy change, ordered by frequency: the sensitivity spectrum in words' reach.

    Each entry: ``centre``, ``strength``, ``accuracy_change`` with its interval
    (``low``, ``high``), ``significant`` (interval excluding 0), ``flip_rate``
    and ``score_shift``.
    """
    band = table.filter(pl.col("family") == "band").sort("centre", "strength")
    return [
        {"centre": r["centre"], "strength": r["strength"], "accuracy_change": r["accuracy_change"],
         "low": r["accuracy_change_low"], "high": r["accuracy_change_high"],
         "significant": bool(r["accuracy_change_high"] < 0 or r["accuracy_change_low"] > 0),
         "flip_rate": r["flip_rate"], "score_shift": r["score_shift"]}
        for r in band.iter_rows(named=True)
    ]  # fmt: skip
