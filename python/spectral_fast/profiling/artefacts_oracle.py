"""Features for acquisition artefacts that radial band averaging dilutes.

Radial bands (:mod:`spectral_fast.profiling.oracle`) see blur, noise, sharpening and resampling, but
JPEG blocks, grid lines and intensity-transfer changes (gamma, LUTs, bit-depth
cuts) barely move them (``docs/method.md#artefact-features``). The features here are computed from the same image, in numpy, with
the maths written out so the Rust core can port them one to one.

The maths
---------
``x`` is the native float64 gray image (H, W) (RGB(A) converted to luma, a gray
image stored as colour to its one channel, as in ``oracle.to_float_gray``); no resizing.

``jpeg_block`` -- 8x8 block boundaries (JPEG, MPEG-style codecs).
    ``d_h[i, j] = |x[i, j + 1] - x[i, j]|`` for ``j = 0 .. W - 2``. Column
    means ``c_j = mean_i d_h[i, j]``; phase means ``m_o = mean of c_j over
    j = 8 q + o`` for whole periods only (``j < 8 floor((W - 1) / 8)``),
    ``o = 0 .. 7``. Ratio ``b_h = m_max / mean(m_o, o != argmax)``: about 1
    without blocks, larger when every 8th difference jumps. ``b_v`` likewise on
    ``x.T``. ``jpeg_block = sqrt(b_h b_v) - 1``: about 0 without blocks, several
    times larger after strong JPEG compression. Taking the best phase makes it
    indifferent to crops after compression. Linear, not log: the clustering
    scales features by their median and IQR, and on a linear scale a
    compressed slice lands ten or more IQRs away from the bulk.

``peak_max``, ``peak_freq`` -- narrow spectral peaks (grid lines, stripes).
    Power ``P = |rfft2(hann-windowed, mean-removed x)|^2`` exactly as in the
    profile. Each coefficient with ``0.02 <= r <= 0.5`` (r in cycles/pixel as
    in ``oracle.radial_frequency``) belongs to ring ``q = round(r N)``,
    ``N = min(H, W)``. ``med_q`` is the ring's upper median (element
    ``floor(n_q / 2)`` of its sorted powers). ``peak_max = max log10(P / med_q)``
    over those coefficients and ``peak_freq`` is the r of the maximum. A smooth
    spectrum gives about 1.3-2 (the largest of ~10^5 chi-square variables); a
    periodic pattern gives far more.

``axis_mid``, ``axis_high`` -- energy on the frequency axes (anisotropy).
    Axis coefficients: ``|ky| <= 1`` or ``kx <= 1`` (signed integer indices
    of rfft2). ``axis_X = log10(mean P on axis / mean P off axis)`` over the
    coefficients with ``1/8 <= r < 1/4`` (mid) and ``1/4 <= r <= 1/2``
    (high). Block boundaries, grid lines and row/column-wise processing all
    raise it.

``hist_comb`` -- comb-like intensity histograms (gamma, LUTs, bit depth).
    Only for integer-valued images: ``h_i`` is the count of each integer
    value ``i`` from ``lo = floor(p1)`` to ``hi = ceil(p99)`` (percentiles of
    x, linear interpolation). For the interior values ``lo < i < hi``,
    ``d_i = h_i - (h_{i-1} + h_{i+1}) / 2`` and, since counts are roughly
    Poisson, ``s_i = sqrt(h_i + (h_{i-1} + h_{i+1}) / 4 + 1)`` is its standard
    deviation for a smooth histogram (+1 keeps empty bins finite).
    ``hist_comb = mean_i |d_i| / s_i``: about 0.8 for a smooth histogram of
    any pixel count (E|N(0, 1)| = 0.8; 1-5 on real CXRs), 10-70 when values
    were remapped through a curve (empty bins where the curve is steeper than
    1, doubled bins where it is flatter) or re-quantised by a codec. Linear
    for the same reason as ``jpeg_block``. NaN for non-integer images or fewer
    than 8 levels between the percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from spectral_fast.errors import InvalidInputError
from spectral_fast.profiling.oracle import (
    MIN_SIDE,
    hann,
    radial_frequency,
    to_float_gray,
)

#: Names of the artefact features, in column order; ``peak_freq`` describes
#: ``peak_max`` and is not a clustering feature.
FEATURE_NAMES = ("jpeg_block", "peak_max", "axis_mid", "axis_high", "hist_comb")
DESCRIPTIVE_NAMES = ("peak_freq",)
ALL_NAMES = FEATURE_NAMES + DESCRIPTIVE_NAMES

#: JPEG, H.26x and MPEG code images in 8x8 blocks.
BLOCK = 8
#: Peaks below this radial frequency (cycles/pixel) are anatomy, not artefacts.
PEAK_MIN_FREQ = 0.02


def jpeg_block(x: np.ndarray) -> float:
    """8-pixel block-boundary ratio minus one (see module Notes)."""
    return float(np.sqrt(_block_ratio(x) * _block_ratio(x.T)) - 1.0)


def _block_ratio(x: np.ndarray) -> float:
    cols = np.abs(np.diff(x, axis=1)).mean(axis=0)
    whole = (len(cols) // BLOCK) * BLOCK
    phase = cols[:whole].reshape(-1, BLOCK).mean(axis=0)
    best = int(np.argmax(phase))
    rest = np.delete(phase, best).mean()
    if rest <= 0.0:
        # Flat everywhere except at one phase (synthetic blocks): finite but large.
        return 1e6 if phase[best] > 0.0 else 1.0
    return float(phase[best] / rest)


def spectral_artefacts(x: np.ndarray) -> dict[str, float]:
    """``peak_max``, ``peak_freq``, ``axis_mid`` and ``axis_high`` of a float image."""
    height, width = x.shape
    y = (x - x.mean()) * (hann(height)[:, None] * hann(width)[None, :])
    power = np.abs(np.fft.rfft2(y)) ** 2
    r, _ = radial_frequency(height, width)

    keep = (r >= PEAK_MIN_FREQ) & (r <= 0.5)
    ring = np.rint(r[keep] * min(height, width)).astype(np.int64)
    p = power[keep]
    order = np.lexsort((p, ring))  # by ring, then by power
    ring_sorted, p_sorted = ring[order], p[order]
    first = np.searchsorted(ring_sorted, ring_sorted, side="left")
    last = np.searchsorted(ring_sorted, ring_sorted, side="right")
    median = p_sorted[(first + last) // 2]  # upper median of each coefficient's ring
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(median > 0.0, p_sorted / median, np.where(p_sorted > 0.0, np.inf, 1.0))
    best = int(np.argmax(ratio))
    r_sorted = r[keep][order]

    ky = np.arange(height)
    ky[ky >= (height + 1) // 2] -= height
    kx = np.arange(width // 2 + 1)
    axis = (np.abs(ky)[:, None] <= 1) | (kx[None, :] <= 1)
    out = {
        "peak_max": float(np.log10(ratio[best])) if np.isfinite(ratio[best]) else 12.0,
        "peak_freq": float(r_sorted[best]),
    }
    for name, lo, hi in (("axis_mid", 0.125, 0.25), ("axis_high", 0.25, 0.5)):
        band = (r >= lo) & ((r < hi) if hi < 0.5 else (r <= hi))
        on, off = power[band & axis], power[band & ~axis]
        if on.size == 0 or off.size == 0 or off.mean() <= 0.0 or on.mean() <= 0.0:
            out[name] = 0.0  # no coefficients there (tiny image) or no energy: neutral
        else:
            out[name] = float(np.log10(on.mean() / off.mean()))
    return out


def hist_comb(x: np.ndarray) -> float:
    """Poisson-normalised second difference of the integer histogram (see module Notes)."""
    if not np.all(x == np.round(x)):
        return float("nan")
    lo_p, hi_p = np.percentile(x, [1.0, 99.0])
    lo, hi = int(np.floor(lo_p)), int(np.ceil(hi_p))
    if hi - lo < BLOCK:
        return float("nan")
    v = x[(x >= lo) & (x <= hi)].astype(np.int64) - lo
    h = np.bincount(v.ravel(), minlength=hi - lo + 1).astype(np.float64)
    side = h[:-2] + h[2:]
    d = h[1:-1] - side / 2.0
    s = np.sqrt(h[1:-1] + side / 4.0 + 1.0)
    return float(np.mean(np.abs(d) / s))


def artefact_features(image: np.ndarray) -> dict[str, float]:
    """All artefact features of one image.

    Parameters
    ----------
    image : numpy.ndarray
        2-D gray or (H, W, 3|4) colour image, any dtype ``reference`` accepts.

    Returns
    -------
    dict
        ``{name: value}`` for every name in :data:`ALL_NAMES`.

    Raises
    ------
    InvalidInputError
        If the image is smaller than 8 px, not finite or has no variation.
    """
    x = to_float_gray(image)
    if min(x.shape) < MIN_SIDE:
        raise InvalidInputError(f"image is {x.shape[0]}x{x.shape[1]}; both sides must be at least {MIN_SIDE} px")
    if not np.isfinite(x).all():
        raise InvalidInputError("image contains NaN or infinite values")
    if x.min() == x.max():
        raise InvalidInputError("image has no variation (all pixels equal)")
    out = {"jpeg_block": jpeg_block(x)}
    out.update(spectral_artefacts(x))
    out["hist_comb"] = hist_comb(x)
    return {name: out[name] for name in ALL_NAMES}


def artefact_table(images: Iterable[np.ndarray], ids: Sequence[str] | None = None):
    """Artefact features of many images as a polars DataFrame.

    Images that fail get null features and the message in ``artefact_error``,
    so one bad file does not stop an archive.
    """
    import polars as pl

    rows: list[dict] = []
    for image in images:
        try:
            row: dict = dict(artefact_features(image))
            row["artefact_error"] = None
        except (InvalidInputError, ValueError, TypeError) as exc:
            row = {name: None for name in ALL_NAMES}
            row["artefact_error"] = str(exc)
        rows.append(row)
    schema = {name: pl.Float64 for name in ALL_NAMES} | {"artefact_error": pl.Utf8}
    table = pl.DataFrame(rows, schema=schema, orient="row")
    if ids is not None:
        if len(ids) != table.height:
            raise InvalidInputError(f"ids has {len(ids)} entries but there are {table.height} images")
        table = table.with_columns(pl.Series("id", list(ids), dtype=pl.Utf8)).select(["id", *table.columns])
    return table
