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
    profile. The coefficients with ``0.02 <= r <= 0.5`` (r in cycles/pixel as
    in ``oracle.radial_frequency``) are cut into cells: quarter-octave rings
    (edges 0.02 and ``0.5 * 2^(-j/4)``, ``j = 18 .. 0``; 0.5 belongs to the
    last ring) times eight angular sectors of the half plane, bounded by the
    slopes ``fy / fx`` in ``(-2, -1, -1/2, 0, 1/2, 1, 2)`` (a coefficient's
    sector is the number of slopes it reaches, compared in integers). A
    ring's background ``B_q`` is the upper median of its sectors' mean
    powers, so a peak, which sits in one or two sectors, does not raise it.
    ``peak_max = log10(M_c / B_q)`` for the cell whose largest power ``M_c``
    has the largest ratio (12 if ``B_q = 0 < M_c``); ties go to the earlier
    coefficient in the core's memory order (``kx`` major, then ``ky`` in
    ``fftfreq`` order), and ``peak_freq`` is the r of that coefficient. A
    smooth spectrum gives about 1.2-1.5 (the largest of up to ~10^4 chi-square
    variables per cell); a periodic pattern gives far more. Cells replaced
    the exact median of every one-pixel ring in December 2026: the same
    contrast at a fraction of the cost (``docs/method.md#artefact-features``).

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
#: Rings per octave of radial frequency for ``peak_max``.
RINGS_PER_OCTAVE = 4
#: Sector boundaries of ``peak_max``'s cells as slopes ``fy / fx = a / b``.
SECTOR_SLOPES = ((-2, 1), (-1, 1), (-1, 2), (0, 1), (1, 2), (1, 1), (2, 1))
SECTORS = len(SECTOR_SLOPES) + 1


def ring_edges() -> np.ndarray:
    """Ring edges of ``peak_max``, ascending from ``PEAK_MIN_FREQ`` to 0.5."""
    top = int(np.floor(RINGS_PER_OCTAVE * np.log2(0.5 / PEAK_MIN_FREQ)))
    return np.array([PEAK_MIN_FREQ] + [0.5 * 2.0 ** (-j / RINGS_PER_OCTAVE) for j in range(top, -1, -1)])


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

    peak_max, peak_freq = _peak(power, r, width)

    ky = np.arange(height)
    ky[ky >= (height + 1) // 2] -= height
    kx = np.arange(width // 2 + 1)
    axis = (np.abs(ky)[:, None] <= 1) | (kx[None, :] <= 1)
    out = {"peak_max": peak_max, "peak_freq": peak_freq}
    for name, lo, hi in (("axis_mid", 0.125, 0.25), ("axis_high", 0.25, 0.5)):
        band = (r >= lo) & ((r < hi) if hi < 0.5 else (r <= hi))
        on, off = power[band & axis], power[band & ~axis]
        if on.size == 0 or off.size == 0 or off.mean() <= 0.0 or on.mean() <= 0.0:
            out[name] = 0.0  # no coefficients there (tiny image) or no energy: neutral
        else:
            out[name] = float(np.log10(on.mean() / off.mean()))
    return out


def _peak(power: np.ndarray, r: np.ndarray, width: int) -> tuple[float, float]:
    """``(peak_max, peak_freq)`` of a half-spectrum power array (see module Notes)."""
    height = power.shape[0]
    ky = np.arange(height, dtype=np.int64)
    ky[ky >= (height + 1) // 2] -= height
    kx = np.arange(width // 2 + 1, dtype=np.int64)
    ky2, kx2 = np.broadcast_arrays(ky[:, None], kx[None, :])
    # The core's memory order: kx major, then ky in fftfreq order.
    p_all, r_all, ky_all, kx_all = (a.T.ravel() for a in (power, r, ky2, kx2))
    pos = np.flatnonzero((r_all >= PEAK_MIN_FREQ) & (r_all <= 0.5))
    edges = ring_edges()
    rings = len(edges) - 1
    ring = np.searchsorted(edges, r_all[pos], side="right") - 1
    ring = np.where(r_all[pos] == 0.5, rings - 1, ring)
    sector = sum((ky_all[pos] * width * b >= a * kx_all[pos] * height).astype(np.int64) for a, b in SECTOR_SLOPES)
    cell = ring * SECTORS + sector
    p = p_all[pos]
    count = np.bincount(cell, minlength=rings * SECTORS)
    mean = np.bincount(cell, p, minlength=rings * SECTORS) / np.maximum(count, 1)
    # Each cell's largest power, the first in memory order.
    order = np.lexsort((pos, -p, cell))
    first = order[np.r_[True, cell[order][1:] != cell[order][:-1]]]
    best, at = -np.inf, -1
    for i in first:
        q = cell[i] // SECTORS
        sectors = slice(q * SECTORS, (q + 1) * SECTORS)
        means = np.sort(mean[sectors][count[sectors] > 0])
        background = means[len(means) // 2]
        ratio = p[i] / background if background > 0.0 else (np.inf if p[i] > 0.0 else 1.0)
        if ratio > best or (ratio == best and pos[i] < pos[at]):
            best, at = ratio, i
    if at < 0:
        return float("nan"), float("nan")
    return (float(np.log10(best)) if np.isfinite(best) else 12.0), float(r_all[pos[at]])


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
