"""What is physically different about a cluster, in acquisition words.

For each cluster the median of every feature is compared with the whole set
in robust units (``(median_cluster - median_all) / (IQR_all / 1.349)``), the
scaling :class:`~spectral_fast.analysis.clustering.SpectralClusters` starts from; the
bands are described as measured, not after the clustering's anatomy
adjustment, so the words say what a viewer of the spectrum would see.
Bands are pooled into frequency ranges (cycles per pixel of the native grid)
and the ranges and artefact features that deviate by at least ``threshold``
robust units are turned into sentences that name the usual acquisition causes.
The images nearest the cluster centre are its exemplars. A blind spot that
joins several clusters is described the same way, as one group
(:meth:`ProfileFeatures.describe`). See ``docs/method.md#describing-a-cluster``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from spectral_fast.profiling.oracle import band_centres, band_edges

#: Robust z beyond which a range or feature is called different.
THRESHOLD = 1.5

#: Frequency ranges, cycles/pixel: (name, low, high).
RANGES = (("low", 0.0, 0.05), ("mid", 0.05, 0.2), ("high", 0.2, 0.5))

_WORDS = {
    ("low", -1): "less large-scale contrast than typical (exposure, collimation, patient size or view)",
    ("low", 1): "more large-scale contrast than typical (exposure, collimation, patient size or view)",
    ("mid", -1): "less fine detail (0.05-0.2 cycles/px) than typical: smoothing or a softer detector",
    ("mid", 1): "more fine detail (0.05-0.2 cycles/px) than typical: edge enhancement or sharpening",
    (
        "high",
        -1,
    ): "less high-frequency energy than typical: blur, heavy denoising or an upsampled low-resolution source",
    ("high", 1): "more high-frequency energy than typical: noise, sharpening or a finer detector",
    ("jpeg_block", 1): "8-pixel block pattern: JPEG (or video) compression",
    ("axis_high", 1): "energy concentrated on the horizontal/vertical frequency axes: line artefacts, block coding "
    "or row/column-wise processing",
    ("axis_mid", 1): "mid-frequency energy on the frequency axes: stripes or line patterns",
    ("hist_comb", 1): "comb-like intensity histogram: gamma/LUT remapping, contrast adjustment or bit-depth reduction",
    ("mean", 1): "brighter images than typical",
    ("mean", -1): "darker images than typical",
    ("std", 1): "higher global contrast than typical",
    ("std", -1): "lower global contrast than typical",
}


#: Non-band columns that descriptions look at (artefact features, then intensity scalars).
DESCRIBED_COLUMNS = ("jpeg_block", "peak_max", "axis_mid", "axis_high", "hist_comb", "mean", "std")


def band_frequencies(table: pl.DataFrame, band_cols: list[str]) -> np.ndarray:
    """Centre frequency (cycles/pixel) of each band for the table's typical image size.

    The native grid sets the band edges; the median ``min(height, width)``
    of the table is used (1024 when the table has no size columns).
    """
    side = 1024
    if "height" in table.columns and "width" in table.columns:
        sides = table.select(pl.min_horizontal("height", "width")).to_series().drop_nulls()
        if len(sides):
            side = int(sides.median())
    edges = band_edges(side, side, len(band_cols), "log")
    return band_centres(edges, "log")


def robust_z(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Robust z of ``values`` (per column) against the columns of ``reference``."""
    loc, scale = robust_scale(reference)
    return (values - loc) / scale


def robust_scale(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and IQR / 1.349 of each column (the standard deviation where the IQR is 0, else 1)."""
    loc = np.nanmedian(reference, axis=0)
    q75, q25 = np.nanpercentile(reference, [75, 25], axis=0)
    scale = (q75 - q25) / 1.349
    fallback = np.nanstd(reference, axis=0)
    return loc, np.where(scale > 0, scale, np.where(fallback > 0, fallback, 1.0))


class ProfileFeatures:
    """The describable features of a profile table: bands with their frequencies, artefact and scalar columns."""

    def __init__(self, table: pl.DataFrame) -> None:
        self.table = table
        self.band_cols = sorted(c for c in table.columns if c.startswith("band_"))
        self.freqs = band_frequencies(table, self.band_cols) if self.band_cols else np.zeros(0)
        self.extra = [c for c in DESCRIBED_COLUMNS if c in table.columns]
        cols = self.band_cols + self.extra
        self.data = (
            table.select(cols).cast({c: pl.Float64 for c in cols}).to_numpy() if cols else np.zeros((table.height, 0))
        )
        self._scale: tuple[np.ndarray, np.ndarray] | None = None

    def describe(self, inside: np.ndarray, threshold: float = THRESHOLD) -> dict:
        """``description``, ``findings`` and ``band_z`` of the images where ``inside`` is true, against all."""
        if self._scale is None:  # the whole set's statistics, once for every group described
            self._scale = robust_scale(self.data)
        loc, scale = self._scale
        z = (np.nanmedian(self.data[inside], axis=0) - loc) / scale
        zb = z[: len(self.band_cols)]
        found: list[tuple[str, float]] = []
        for name, lo, hi in RANGES:
            sel = (self.freqs >= lo) & (self.freqs < hi)
            if sel.any():
                found.append((name, float(np.mean(zb[sel]))))
        if self.band_cols:
            found += _resampling_cliff(zb, self.freqs)
        for name, value in zip(self.extra, z[len(self.band_cols) :]):
            found.append((name, float(value)))
        sentences = _size_sentence(self.table, inside)
        for name, value in sorted(found, key=lambda f: -abs(f[1])):
            if not np.isfinite(value) or abs(value) < threshold:
                continue
            sentence = _sentence(self.table, inside, name, value)
            if sentence:
                sentences.append(f"{sentence} (z {value:+.1f})")
        return {
            "description": "; ".join(sentences[:3]) if sentences else "close to the typical profile",
            "findings": [(n, v) for n, v in found if np.isfinite(v) and abs(v) >= threshold],
            "band_z": [float(v) for v in zb],
        }


def describe_clusters(
    table: pl.DataFrame | ProfileFeatures,
    labels: np.ndarray,
    distances: np.ndarray | None = None,
    *,
    id_col: str = "id",
    n_exemplars: int = 4,
    threshold: float = THRESHOLD,
) -> list[dict]:
    """Plain-language description of each cluster.

    Parameters
    ----------
    table : polars.DataFrame or ProfileFeatures
        Profiles (``band_*`` columns, optional artefact and scalar columns), or
        their :class:`ProfileFeatures` when the caller describes other groups
        of the same table too (the feature matrix is then built once).
    labels : ndarray of int
        Cluster of each row.
    distances : ndarray, shape (n, k), optional
        Distance of each row to each centre (``SpectralClusters.transform``);
        exemplars are the rows nearest their own centre.
    id_col : str
        Column holding image ids, for exemplars.
    n_exemplars : int
        Exemplars per cluster.
    threshold : float
        Robust z from which a difference is described.

    Returns
    -------
    list of dict
        Per cluster: ``cluster``, ``description`` (one string), ``findings``
        (list of ``(what, z)``), ``band_z`` (robust z of every band median),
        ``exemplars`` (ids).
    """
    labels = np.asarray(labels, dtype=np.int64)
    features = table if isinstance(table, ProfileFeatures) else ProfileFeatures(table)
    table = features.table
    ids = table[id_col].cast(pl.Utf8).to_list() if id_col in table.columns else [str(i) for i in range(len(labels))]
    k = int(labels.max()) + 1 if len(labels) else 0
    out = []
    for c in range(k):
        inside = labels == c
        if not inside.any():
            out.append({"cluster": c, "description": "empty", "findings": [], "band_z": [], "exemplars": []})
            continue
        if distances is not None:
            own = distances[inside, c]
            order = np.argsort(own, kind="stable")[:n_exemplars]
            exemplars = [ids[i] for i in np.flatnonzero(inside)[order]]
        else:
            exemplars = [ids[i] for i in np.flatnonzero(inside)[:n_exemplars]]
        out.append({"cluster": c, **features.describe(inside, threshold), "exemplars": exemplars})
    return out


def _size_sentence(table: pl.DataFrame, inside: np.ndarray) -> list[str]:
    """Say so when a cluster's images are much smaller or larger than the set's (a different source or export)."""
    if "height" not in table.columns or "width" not in table.columns:
        return []
    side = table.select(pl.min_horizontal("height", "width")).to_series().cast(pl.Float64).to_numpy()
    here, typical = np.nanmedian(side[inside]), np.nanmedian(side)
    if not (np.isfinite(here) and np.isfinite(typical)) or typical <= 0 or abs(here / typical - 1.0) < 0.2:
        return []
    word = "smaller" if here < typical else "larger"
    return [
        f"{word} images than typical ({here:.0f} px vs {typical:.0f} px on the short side): another source or export"
    ]


def _resampling_cliff(zb: np.ndarray, freqs: np.ndarray) -> list[tuple[str, float]]:
    """A drop of energy above 0.25 cycles/px relative to just below: half-resolution source."""
    below = (freqs >= 0.15) & (freqs < 0.25)
    above = freqs >= 0.3
    if not below.any() or not above.any():
        return []
    return [("cliff", float(np.mean(zb[above]) - np.mean(zb[below])))]


def _sentence(table: pl.DataFrame, inside: np.ndarray, name: str, value: float) -> str:
    sign = 1 if value > 0 else -1
    if name == "cliff":
        return "energy cut off above 0.25 cycles/px: resampled from a half-resolution source" if sign < 0 else ""
    if name == "peak_max":
        if sign < 0:
            return ""
        if "peak_freq" in table.columns:
            f = float(np.nanmedian(table["peak_freq"].cast(pl.Float64).to_numpy()[inside]))
            if f > 0:
                return (
                    f"narrow periodic peak near {f:.3f} cycles/px (period {1.0 / f:.1f} px): "
                    "anti-scatter grid lines, detector stripes or a resampling pattern"
                )
        return "narrow periodic spectral peak: anti-scatter grid lines, detector stripes or a resampling pattern"
    return _WORDS.get((name, sign), "")
