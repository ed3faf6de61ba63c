"""Bones and vessels of the synthetic chest phantom: spine, ribs, clavicles, pulmonary vessels.

These are the fine, high-contrast structures that give a chest radiograph
its mid- and high-frequency spectrum, so they are drawn at full resolution
with anti-aliased analytic profiles. Each function *adds* density into
``out`` inside the structure's bounding box only (see
:mod:`spectral_fast.simulate.anatomy` for coordinates and units).
"""

from __future__ import annotations

import math

import numpy as np

from spectral_fast.simulate.anatomy import Anatomy, F, Frame, ramp, tube


def spine(frame: Frame, a: Anatomy, out: np.ndarray) -> None:
    """Thoracic spine: vertebral bodies with disc spaces, pedicles, spinous processes."""
    sw = a.spine_half_width
    box = frame.box(np.array([-sw, sw, -sw, sw]), np.array([-1.6, -1.6, 1.6, 1.6]), 0.03)
    if box is None:
        return
    X, Y = frame.X[box], frame.Y[box]
    level = a.rib_pitch * 0.95  # one vertebra per rib level
    phase = (Y - a.apex_y) / level
    frac = phase - np.floor(phase)
    disc = np.exp(-(((frac - 0.92) / 0.06) ** 2)) + np.exp(-(((frac + 0.08) / 0.06) ** 2))
    column = tube(X, sw, cortex=0.35) * (1.0 - 0.45 * disc)
    # Pedicles: cortical rings, one each side at the top of every vertebra.
    px = (np.abs(X) - 0.62 * sw) / (0.22 * sw)
    py = (frac - 0.30) * level / (0.30 * sw)
    rad = np.sqrt(px * px + py * py)
    pedicle = np.clip(1.0 - np.abs(rad - 0.85) / 0.3, 0.0, 1.0)
    # Spinous process: a small teardrop on the midline, lower in each level.
    sx = X / (0.16 * sw)
    sy = (frac - 0.68) * level / (0.35 * sw)
    spinous = np.sqrt(np.clip(1.0 - sx * sx - sy * sy, 0.0, None))
    out[box] += F(0.5 * a.bone_density) * (column + 0.35 * pedicle + 0.4 * spinous)


def _lateral_extent(a: Anatomy, y: float) -> float | None:
    """Lateral end of a rib at height ``y``: just outside the lung outline (None above the apex)."""
    base = max(a.dome_y_right, a.dome_y_left) + a.costophrenic_drop
    q = (y - base) / (base - a.apex_y + 0.05)  # the same superellipse as the lung's lateral border
    if q <= -1.0:
        return None
    width = (1.0 - min(abs(q), 1.0) ** 3) ** (1.0 / 3.0) if q < 0.0 else 1.0  # below the base: widest
    return a.apex_x + (a.lung_lateral - a.apex_x) * width + 0.05


def _band(
    frame: Frame,
    out: np.ndarray,
    side: int,
    poly: tuple[float, float, float],
    x0: float,
    x1: float,
    half_width: float,
    density: float,
    cortex: float,
) -> None:
    """Add a curved bone band along ``y = c0 + c1 (xs - x0) + c2 (xs - x0)^2``, ``x0 <= xs <= x1``.

    ``xs = side * x`` is the lateral coordinate. The distance to the curve is
    the vertical offset divided by ``sqrt(1 + slope^2)``, exact enough for
    the gentle curvature of ribs; both ends fade over 0.03 units.
    """
    c0, c1, c2 = poly
    xs_pts = np.linspace(x0, x1, 12)
    ys_pts = c0 + c1 * (xs_pts - x0) + c2 * (xs_pts - x0) ** 2
    box = frame.box(side * xs_pts, ys_pts, half_width + 0.03)
    if box is None:
        return
    X, Y = frame.X[box], frame.Y[box]
    xs = side * X - F(x0)
    curve = c0 + c1 * xs + c2 * xs * xs
    slope = c1 + 2.0 * c2 * xs
    d = (Y - curve) / np.sqrt(1.0 + slope * slope)
    ends = ramp(xs, 0.03) * ramp(F(x1 - x0) - xs, 0.03)
    out[box] += F(density) * tube(d, half_width, cortex) * ends


def ribs(frame: Frame, a: Anatomy, out: np.ndarray, rng: np.random.Generator) -> None:
    """Posterior ribs (arching up and out from the spine) and anterior ribs (running down and in)."""
    base = max(a.dome_y_right, a.dome_y_left) + a.costophrenic_drop
    for side in (-1, 1):
        y0 = a.apex_y + 0.03 + rng.uniform(-0.01, 0.01)
        for i in range(14):
            yi = y0 + i * a.rib_pitch * (1.0 + 0.04 * i)  # lower ribs are spaced wider
            if yi > base + 0.1:
                break
            x_end = _lateral_extent(a, yi + 0.05)
            if x_end is None:
                continue
            x0 = a.spine_half_width * 0.6
            length = x_end - x0
            drop = 0.16 + 0.02 * i + rng.uniform(-0.03, 0.03)  # lateral end lower than the head
            slope = a.rib_slope * (1.0 - 0.04 * i)
            c2 = (drop + slope * length) / (length * length)
            hw = a.rib_half_width * (0.75 if i == 0 else 1.0) * rng.uniform(0.92, 1.08)
            _band(frame, out, side, (yi, -slope, c2), x0, x_end, hw, a.bone_density, 0.55)
            # Anterior rib: from the lateral end medially and downwards to the
            # costal cartilage, which is radiolucent, so the band just stops.
            y_end = yi + drop
            x_med = 0.22 + 0.02 * i
            if x_end - x_med > 0.1:
                steep = 0.55 + 0.02 * i
                poly = (y_end + steep * (x_end - x_med), -steep, 0.15)
                _band(frame, out, side, poly, x_med, x_end, hw * 1.15, 0.6 * a.bone_density, 0.4)


def clavicles(frame: Frame, a: Anatomy, out: np.ndarray) -> None:
    """Clavicles: from the sternal end out to the shoulders, rising gently, S-curved."""
    for side in (-1, 1):
        x0, x1 = 0.08, 0.70
        # Rises laterally and flattens (the lateral curve of the real bone).
        poly = (a.clavicle_y, -0.40, 0.20)
        _band(frame, out, side, poly, x0, x1, 0.034, 1.8 * a.bone_density, 0.45)


def _branches(side: int, a: Anatomy, rng: np.random.Generator) -> list[tuple[float, float, float, float, float]]:
    """Segments (x0, y0, x1, y1, half_width) of one lung's vessel tree.

    Seven trunks leave the hilum, fanning from upwards to downwards-lateral;
    each branch bends a little at two joints and splits in two, four times,
    shrinking to 70 % in width and 60-78 % in length at each split.
    """
    segments: list[tuple[float, float, float, float, float]] = []
    hx = side * (a.mediastinum_half_width + 0.10)
    hy = a.apex_y + 0.62 + rng.uniform(-0.04, 0.04)
    for angle in np.linspace(-70.0, 80.0, 7) + rng.uniform(-8.0, 8.0, 7):
        stack = [(hx, hy, math.radians(angle), rng.uniform(0.12, 0.2), 0.012, 0)]
        while stack:
            x, y, ang, length, width, depth = stack.pop()
            for _ in range(2):  # two joints per branch: vessels curve
                ang += math.radians(rng.uniform(-12.0, 12.0))
                nx, ny = x + side * math.cos(ang) * length / 2, y + math.sin(ang) * length / 2
                segments.append((x, y, nx, ny, width))
                x, y = nx, ny
            if depth < 4:
                for turn in (-1.0, 1.0):
                    new = ang + turn * math.radians(rng.uniform(12.0, 32.0))
                    stack.append((x, y, new, length * rng.uniform(0.6, 0.78), width * 0.7, depth + 1))
    return segments


#: Pixel-segment pairs evaluated at once by :func:`vessels`: bounds its working
#: memory (about 50 bytes a pair, ~50 MB) at any image size.
_PAIRS_PER_CHUNK = 1 << 20


def vessels(frame: Frame, a: Anatomy, out: np.ndarray, rng: np.random.Generator) -> None:
    """Pulmonary vessel trees fanning out from each hilum, tapering as they branch.

    ``out`` must be C-contiguous (the vessels are drawn through a flat view).
    """
    segments = []
    for side in (-1, 1):
        hy = a.apex_y + 0.62
        # Hilar shadow: the main pulmonary artery and veins, elongated vertically.
        hx = side * (a.mediastinum_half_width + 0.06)
        box = frame.box(np.array([hx]), np.array([hy]), 0.2)
        if box is not None:
            r2 = ((frame.X[box] - F(hx)) / 0.06) ** 2 + ((frame.Y[box] - F(hy)) / 0.12) ** 2
            np.maximum(out[box], F(1.3 * a.vessel_density) * np.exp(-r2), out=out[box])
        segments += _branches(side, a, rng)
    _tubes(frame, np.array(segments), a.vessel_density, out)


def _tubes(frame: Frame, seg: np.ndarray, vessel_density: float, out: np.ndarray) -> None:
    """Draw straight tubes (rows ``x0, y0, x1, y1, half_width`` of ``seg``) into ``out`` by maximum.

    A phantom has some 900 vessel segments of a few hundred pixels each, too
    many for a Python loop over them (it was 70 % of a 256 px phantom's
    time), so they are drawn together: every (pixel of a segment's box,
    segment) pair is one element of flat arrays, :data:`_PAIRS_PER_CHUNK` at
    a time. The arithmetic is the per-segment one done element-wise (float32
    pixels, segment constants computed in float64 and rounded once), and a
    maximum does not depend on order, so the image is bit for bit what
    drawing the segments one by one gave.
    """
    if not out.flags.c_contiguous:
        raise ValueError("vessels draw into a C-contiguous array")
    x0, y0, x1, y1, width = seg.T
    r0, r1, c0, c1 = frame.boxes(np.stack([x0, x1], 1), np.stack([y0, y1], 1), width + 0.01)
    n_rows, n_cols = np.maximum(r1 - r0, 0), np.maximum(c1 - c0, 0)
    vx, vy = x1 - x0, y1 - y0
    peak = vessel_density * width / 0.012  # wider vessels are thicker, hence denser
    # One row per constant, float32 as the per-segment code used them.
    consts = np.stack([x0, y0, vx, vy, vx * vx + vy * vy, width, peak]).astype(F)
    # Expand segments to the rows of their boxes, then rows to pixels: each
    # pixel's flat index is its row start plus a running offset (no divisions).
    row_seg = np.repeat(np.arange(len(seg)), n_rows)
    row_start = (r0[row_seg] + _ranks(n_rows)) * frame.width + c0[row_seg]
    row_len = n_cols[row_seg]
    ends = np.cumsum(row_len)
    flat_out, flat_x, flat_y = out.reshape(-1), frame.X.reshape(-1), frame.Y.reshape(-1)
    first = 0
    while first < len(row_seg):
        done = int(ends[first - 1]) if first else 0
        last = max(int(np.searchsorted(ends, done + _PAIRS_PER_CHUNK, side="right")), first + 1)
        counts = row_len[first:last]
        pix = np.repeat(row_start[first:last], counts) + _ranks(counts)
        sx0, sy0, svx, svy, slen2, swidth, speak = np.take(consts, np.repeat(row_seg[first:last], counts), axis=1)
        dx, dy = np.take(flat_x, pix) - sx0, np.take(flat_y, pix) - sy0
        t = np.clip((dx * svx + dy * svy) / slen2, 0.0, 1.0)
        d = np.sqrt((dx - t * svx) ** 2 + (dy - t * svy) ** 2)
        # Maximum, not sum: where branches meet they are one vessel, not a stack.
        np.maximum.at(flat_out, pix, speak * tube(d, swidth))
        first = last


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c - 1 for each count c, concatenated."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
