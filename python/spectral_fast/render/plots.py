"""The pages' matplotlib figures, each returned as a PNG data URI."""

from __future__ import annotations

import numpy as np
import polars as pl

from spectral_fast.render.primitives import png

#: Colour of each blind spot (rank order) on the cards, the map and the ratio plots; the rest is grey.
SPOT_COLOURS = ("#c0392b", "#d35400", "#8e44ad", "#16a085", "#2c7fb8", "#b7950b", "#7f3c8d", "#117a65")
REST = "#aab4be"
#: Named frequency ranges of the ratio plot, cycles/px (those of analysis.describe).
RANGE_NAMES = (("large-scale", 0.0, 0.05), ("fine detail", 0.05, 0.2), ("finest", 0.2, 0.5))
#: Most images the map draws: beyond it a random sample, so the figure's cost and size stay bounded.
MAP_POINTS = 8000


def spot_colour(i: int) -> str:
    return SPOT_COLOURS[i % len(SPOT_COLOURS)]


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_error_rates(rows: list[dict], overall: float, finding: str, colour_of: dict[int, str]) -> str:
    """Forest plot of the clusters' error rates with Wilson intervals, highest first."""
    plt = pyplot()
    rows = sorted(rows, key=lambda r: -np.nan_to_num(r["error_rate"], nan=-1.0))
    k = len(rows)
    fig, ax = plt.subplots(figsize=(6.4, 0.28 * k + 1.2))
    y = np.arange(k)
    rate = np.array([r["error_rate"] for r in rows], dtype=float)
    lo = np.array([r["error_ci_low"] for r in rows], dtype=float)
    hi = np.array([r["error_ci_high"] for r in rows], dtype=float)
    colours = [colour_of.get(int(r["cluster"]), "#34495e") for r in rows]
    below, above = np.nan_to_num(np.maximum(rate - lo, 0.0)), np.nan_to_num(np.maximum(hi - rate, 0.0))
    ax.errorbar(rate, y, xerr=[below, above], fmt="none", ecolor="#95a5a6", capsize=3)
    ax.scatter(rate, y, c=colours, zorder=3)
    ax.axvline(overall, color="#7f8c8d", ls="--", lw=1, label=f"overall {overall:.1%}")
    ax.set_yticks(y, [f"cluster {r['cluster']} (n={r['n']})" for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"error rate, {finding} (Wilson 95% interval; coloured = blind spot)")
    ax.legend(loc="lower right", frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return png(fig)


def pca_xy(z: np.ndarray) -> np.ndarray:
    """First two principal components of the scaled features (clipped at ±8 so one outlier does not set the axes)."""
    z = np.clip(np.nan_to_num(z), -8.0, 8.0)
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T if vt.shape[0] >= 2 else np.c_[centred[:, 0], np.zeros(len(z))]


def map_rows(n: int, limit: int = MAP_POINTS, seed: int = 0) -> np.ndarray:
    """Rows the map draws: all ``n``, or a seeded random ``limit`` of them (sorted) when there are more."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def plot_map(xy: np.ndarray, spot_of: np.ndarray, spots: list[tuple[int, str]], error: np.ndarray, finding: str) -> str:
    """Images on two principal components: each blind spot (``spot_of`` = its colour index) in its colour, the rest
    (``-1``) grey, errors ringed; ``spots`` is ``(colour index, legend name)`` per blind spot."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    rest = spot_of < 0
    ax.scatter(xy[rest, 0], xy[rest, 1], s=12, color=REST, alpha=0.7, label="rest", lw=0)
    for i, name in spots:
        inside = spot_of == i
        if inside.any():
            ax.scatter(xy[inside, 0], xy[inside, 1], s=16, color=spot_colour(i), alpha=0.9, label=name, lw=0)
    ax.scatter(xy[error, 0], xy[error, 1], s=34, facecolors="none", edgecolors="black", lw=0.7,
               label=f"error ({finding})")  # fmt: skip
    ax.set_xlabel("principal component 1 of the scaled features")
    ax.set_ylabel("principal component 2")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.25)
    return png(fig)


def band_matrix(table: pl.DataFrame) -> tuple[list[str], np.ndarray]:
    """Band columns and their log10 energies; bands without coefficients (the 1e-12 floor) are NaN."""
    band_cols = sorted(c for c in table.columns if c.startswith("band_"))
    bands = table.select(band_cols).cast({c: pl.Float64 for c in band_cols}).to_numpy() if band_cols else None
    bands = np.zeros((table.height, 0)) if bands is None else bands
    return band_cols, np.where(bands <= -11.5, np.nan, bands)


def plot_ratio(freqs: np.ndarray, bands: np.ndarray, inside: np.ndarray, colour: str, mm: float | None) -> str:
    """The group's mean band energy divided by the rest's (1 = same), over frequency, with the named ranges."""
    import warnings

    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plt = pyplot()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        energy = 10.0**bands
        ratio = np.nanmean(energy[inside], axis=0) / np.nanmean(energy[~inside], axis=0)
    fig, ax = plt.subplots(figsize=(4.6, 1.55))
    shades = ("#f4f6f8", "#e9edf1", "#f4f6f8")
    for (name, lo, hi), shade in zip(RANGE_NAMES, shades):
        lo = max(lo, float(np.nanmin(freqs)) if len(freqs) else lo)
        ax.axvspan(lo, hi, color=shade, zorder=0)
        ax.text(np.sqrt(lo * hi), 0.97, name, transform=ax.get_xaxis_transform(), ha="center", va="top",
                fontsize=7, color="#5b6b7c")  # fmt: skip
    ax.axhline(1.0, color="#7f8c8d", lw=0.8, ls="--")
    ax.plot(freqs, ratio, color=colour, lw=1.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    finite = ratio[np.isfinite(ratio) & (ratio > 0)]
    # symmetric about 1, at least 0.7x-1.4x, at most 1/1000x-1000x
    top = min(float(np.max(np.abs(np.log10(finite)))), 3.0) if finite.size else 0.0
    top = max(top, 0.12) * 1.3
    ax.set_ylim(10**-top, 10**top)
    ax.set_xlim(float(np.nanmin(freqs)), 0.5)
    ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0) if top < 1.0 else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.tick_params(labelsize=7)
    ax.set_ylabel("energy vs rest", fontsize=7.5)
    ax.set_xlabel("cycles/px" + (f" (1 cycle/px = {1 / mm:.1f} cycles/mm)" if mm else ""), fontsize=7.5)
    ax.grid(alpha=0.25, which="major")
    return png(fig, dpi=110)


def plot_spectra(freqs: np.ndarray, bands: np.ndarray, labels: np.ndarray, k: int) -> str:
    """Mean spectral profile of every cluster against the whole set (log-log)."""
    import warnings

    import matplotlib

    plt = pyplot()
    cmap = matplotlib.colormaps["tab20"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for c in range(k):
            inside = labels == c
            if inside.any():
                ax.plot(freqs, 10 ** np.nanmean(bands[inside], axis=0), color=cmap(c % cmap.N), lw=1.2,
                        label=f"cluster {c} (n={inside.sum()})")  # fmt: skip
        ax.plot(freqs, 10 ** np.nanmean(bands, axis=0), color="black", lw=2.4, label="all images")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("radial frequency (cycles/pixel)")
    ax.set_ylabel("mean band energy")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.25, which="both")
    return png(fig)
