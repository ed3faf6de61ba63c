"""The radial gain curves the stress tests impose, and the one place the radial filter is called.

A gain curve is ``(radii, gains)``: positive gains at increasing radial
frequencies (cycles/px), interpolated linearly in between and held beyond
both ends by the filter, which multiplies Fourier magnitudes and keeps phase
and DC. Curves here are built in log-gain: a smooth bump over one band group
(the sensitivity spectrum) or a smoothed band-power ratio (the counterfactual).
See docs/method.md#stress-tests.
"""

from __future__ import annotations

import numpy as np

from spectral_fast.errors import InvalidInputError

# The one import of the filter (the Rust core's; stress/filter_oracle.py is its numpy oracle).
from spectral_fast.stress.filtering import radial_filter

#: Radii at which a gain curve is sampled for the filter (log-spaced; finer than any band layout used).
CURVE_POINTS = 96
#: Width (standard deviation, in octaves) of a band group's log-gain bump.
BUMP_OCTAVES = 0.5
#: Largest |log gain| a band-power ratio may impose (a 10x amplitude, 100x power).
MAX_LOG_GAIN = float(np.log(10.0))


def apply_gain(images: np.ndarray, radii: np.ndarray, gains: np.ndarray, threads: int | None = None) -> np.ndarray:
    """``images`` (N, H, W) with Fourier magnitudes multiplied by the curve, as float32 (core ``threads``)."""
    x = np.asarray(images, dtype=np.float32)
    return np.asarray(radial_filter(x, radii, gains, threads=threads), dtype=np.float32)


def curve_radii(height: int, width: int) -> np.ndarray:
    """Log-spaced radii from half the lowest resolvable frequency to the corner (0.5 * sqrt 2)."""
    return np.geomspace(0.5 / max(min(height, width), 2), 0.5 * np.sqrt(2.0), CURVE_POINTS)


def octave_groups(height: int, width: int) -> np.ndarray:
    """Centres (cycles/px) of the octave band groups of an H x W image: 0.5/sqrt 2, 0.25/sqrt 2, ... above 1/min side."""
    lowest = 1.0 / max(min(height, width), 2)
    centres = []
    hi = 0.5
    while hi / 2 >= lowest:
        centres.append(hi / np.sqrt(2.0))
        hi /= 2
    return np.asarray(centres[::-1])


def band_bump(radii: np.ndarray, centre: float, gain: float, octaves: float = BUMP_OCTAVES) -> np.ndarray:
    """Gain ``gain`` at ``centre`` falling smoothly to 1 away from it: log g = log(gain) * exp(-d^2 / 2 octaves^2).

    ``d`` is the distance from ``centre`` in octaves (log2 of the radius ratio).
    """
    if not (np.isfinite(gain) and gain > 0 and centre > 0):
        raise InvalidInputError(f"band gain: expected gain > 0 and centre > 0, got gain={gain!r}, centre={centre!r}")
    d = np.log2(np.asarray(radii, dtype=np.float64) / centre)
    return np.exp(np.log(gain) * np.exp(-0.5 * (d / octaves) ** 2))


def smooth_log_gain(log_gain: np.ndarray) -> np.ndarray:
    """Log gains at band centres smoothed by a (1/4, 1/2, 1/4) kernel (ends renormalised), clipped to ±MAX_LOG_GAIN."""
    v = np.asarray(log_gain, dtype=np.float64)
    if v.size < 3:
        return np.clip(v, -MAX_LOG_GAIN, MAX_LOG_GAIN)
    padded = np.concatenate([v[:1], v, v[-1:]])
    out = 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
    return np.clip(out, -MAX_LOG_GAIN, MAX_LOG_GAIN)


def ratio_log_gain(log10_ratio: np.ndarray) -> np.ndarray:
    """Smoothed log amplitude gain for a band-power ratio given as log10: log g = ln(10) * log10(ratio) / 2."""
    return smooth_log_gain(np.log(10.0) * np.asarray(log10_ratio, dtype=np.float64) / 2.0)


def pixel_change(log_gain: np.ndarray, weights: np.ndarray) -> float:
    """Relative size of the change a gain curve makes in the pixels: sum_b w_b (g_b - 1)^2, g_b = exp(log_gain_b).

    With ``weights`` the bands' shares of the image energy this is
    ||x' - x||^2 / ||x||^2 by Parseval (exact for a gain constant over each
    band). It counts an amplification by 10 as 81 times its band's energy and
    an attenuation to 1/10 as 0.81 times: the log-magnitude norm, its small-gain
    approximation, counts both as (ln 10)^2 = 5.3.
    """
    g = np.asarray(log_gain, dtype=np.float64)
    return float(np.sum(np.asarray(weights, dtype=np.float64) * np.expm1(g) ** 2))


def random_log_gain(like: np.ndarray, rng: np.random.Generator, weights: np.ndarray | None = None) -> np.ndarray:
    """A random smoothed log-gain curve making the same size of change in the pixels as ``like`` (the control).

    Independent standard normals z per band, smoothed like a ratio; the curve is
    clip(s z, ±MAX_LOG_GAIN) with the scale s >= 0 found by bisection such that
    :func:`pixel_change` equals that of ``like``: same size of change, random
    sign and shape. ``weights`` (default equal) are the bands' shares of the
    image energy, which makes the size the change in the pixels (Parseval;
    docs/method.md#stress-tests). When even the clipped curve cannot reach that
    size, the largest (clipped) one is returned.
    """
    like = np.asarray(like, dtype=np.float64)
    w = np.ones_like(like) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != like.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InvalidInputError(f"weights: expected {like.size} finite non-negative values")
    target = pixel_change(like, w)
    z = smooth_log_gain(rng.standard_normal(like.size)) if like.size else like
    if not target > 0 or pixel_change(z, w) == 0:
        return np.zeros_like(like)

    def curve(scale: float) -> np.ndarray:
        return np.clip(scale * z, -MAX_LOG_GAIN, MAX_LOG_GAIN)

    lo, hi = 0.0, 1.0
    while pixel_change(curve(hi), w) < target and hi < 1e6:
        lo, hi = hi, 2.0 * hi
    for _ in range(60):  # pixel_change(curve(s)) is non-decreasing in s
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if pixel_change(curve(mid), w) < target else (lo, mid)
    return curve(hi)
