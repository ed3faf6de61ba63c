"""Band fractions on a frequency axis that means the same for every matrix size (``docs/method.md#spectral-profile``).

The profile's bands run in cycles per pixel from ``1 / min(H, W)`` to 0.5,
so band ``i`` of a 512-px image is another frequency range than band ``i`` of
a 1024-px one. A chest radiograph fills its frame, so cycles per field of
view (per short side) is close to a physical axis whatever the matrix. This
module re-bins the stored fractions, without the images, onto two fixed axes:

* ``field_00 ..``: :data:`FIELD_BANDS` log-spaced bands from 1 to
  :data:`FIELD_MAX` cycles per field of view (the whole range of a 256-px
  image); a band above an image's Nyquist limit is NaN (not applicable).
* ``fine_0 ..``: 7 log-spaced bands from 0.125 to 0.5 cycles per pixel, the
  fine detail near the Nyquist limit that detectors, noise, sharpening and
  resampling change in pixel units.

The cumulative energy is known exactly at the profile's band edges
(:func:`spectral_fast.profiling.profiler.band_edges`, low band included) and
is interpolated linearly in log frequency between them (energy spread evenly
in log frequency inside a band). The columns are ``log10(fraction + 1e-12)``
like ``band_*``. Only profiles made on the native grid with log spacing (the
defaults) are re-binned; others keep their pixel-axis bands.
"""

from __future__ import annotations

import numpy as np
import polars as pl

#: Field-of-view bands: about 3.4 per octave (as the 32 profile bands of a 1024-px image) from 1 to 128
#: cycles per short side.
FIELD_BANDS = 24
FIELD_MAX = 128.0
FIELD_EDGES = np.geomspace(1.0, FIELD_MAX, FIELD_BANDS + 1)
#: Fine-detail bands, cycles per pixel: 7 log-spaced bands (3.5 per octave) from 1/8 to the Nyquist limit.
FINE_EDGES = np.geomspace(0.125, 0.5, 8)
FIELD_COLUMNS = [f"field_{i:02d}" for i in range(FIELD_BANDS)]
FINE_COLUMNS = [f"fine_{i}" for i in range(len(FINE_EDGES) - 1)]
#: Profile columns the re-binning reads besides ``band_*``.
NEEDED = ("low", "height", "width")
_FLOOR = 1e-12  # the profile's log floor


def can_rebin(columns: list[str], options: dict | None = None) -> bool:
    """Whether a table with ``columns`` (made with profile ``options``, when known) can be re-binned."""
    opts = options or {}
    if opts.get("size") not in (None, "?") or opts.get("spacing", "log") not in ("log", "?"):
        return False
    return sum(c.startswith("band_") for c in columns) >= 2 and all(c in columns for c in NEEDED)


def with_field_bands(table: pl.DataFrame, options: dict | None = None) -> pl.DataFrame:
    """``table`` with the ``field_*`` and ``fine_*`` columns added (unchanged if present or not re-binnable)."""
    if FIELD_COLUMNS[0] in table.columns or not can_rebin(list(table.columns), options):
        return table
    values = field_band_matrix(table)
    names = FIELD_COLUMNS + FINE_COLUMNS
    return table.with_columns(pl.Series(n, values[:, j], dtype=pl.Float64) for j, n in enumerate(names))


def field_band_matrix(table: pl.DataFrame) -> np.ndarray:
    """Re-binned log fractions, shape ``(rows, FIELD_BANDS + 7)``: field bands then fine bands."""
    from spectral_fast.profiling.profiler import band_edges

    bands = sorted(c for c in table.columns if c.startswith("band_"))
    logp = np.column_stack([table["low"].cast(pl.Float64).to_numpy(), table.select(bands).cast(pl.Float64).to_numpy()])
    cum = np.cumsum(np.clip(10.0**logp - _FLOOR, 0.0, None), axis=1)  # energy below each edge e_0 .. e_B
    h = table["height"].cast(pl.Int64).fill_null(0).to_numpy()
    w = table["width"].cast(pl.Int64).fill_null(0).to_numpy()
    out = np.full((table.height, FIELD_BANDS + len(FINE_EDGES) - 1), np.nan)
    valid = (h >= 2) & (w >= 2) & np.isfinite(cum).all(axis=1)
    for hh, ww in {(int(a), int(b)) for a, b in zip(h[valid], w[valid])}:
        rows = np.flatnonzero(valid & (h == hh) & (w == ww))
        edges = np.log(band_edges(hh, ww, len(bands), "log"))
        targets = np.concatenate([FIELD_EDGES / min(hh, ww), FINE_EDGES])  # cycles per pixel
        inside = targets <= 0.5 * (1.0 + 1e-12)
        at = _interpolate(cum[rows], edges, np.log(np.minimum(targets, 0.5)))
        at[:, ~inside] = np.nan
        n_field = len(FIELD_EDGES)
        fractions = np.column_stack([np.diff(at[:, :n_field], axis=1), np.diff(at[:, n_field:], axis=1)])
        out[rows] = np.log10(np.clip(fractions, 0.0, None) + _FLOOR)
    return out


def _interpolate(cum: np.ndarray, log_edges: np.ndarray, log_x: np.ndarray) -> np.ndarray:
    """Cumulative energy at ``log_x``, linear in log frequency between the edges (rows: images)."""
    x = np.clip(log_x, log_edges[0], log_edges[-1])
    j = np.clip(np.searchsorted(log_edges, x, side="right") - 1, 0, len(log_edges) - 2)
    t = (x - log_edges[j]) / (log_edges[j + 1] - log_edges[j])
    return cum[:, j] + t * (cum[:, j + 1] - cum[:, j])
