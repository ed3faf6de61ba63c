"""How a blind spot differs from the images outside it: profile features and acquisition metadata.

Each variable is compared between the spot's images and the rest:

* numeric (frequency ranges of the band profile, artefact and intensity
  features, short side, aspect, pixel spacing, numeric user columns):
  Cliff's delta (``P(spot > rest) - P(spot < rest)``) with a two-sided
  Mann-Whitney test;
* categorical (format, bit depth, string or boolean user columns, numeric
  ones with at most :data:`MAX_LEVELS` values): the level whose share differs
  most between spot and rest, its difference as the effect, with Fisher's
  exact test (two levels) or chi-square (more).

p-values are adjusted by Benjamini-Hochberg over all variables of a spot. A
variable is named when its adjusted p < ``alpha`` and its effect is at least
:data:`MIN_EFFECT`; named variables are ranked by effect size. When none is,
the description says that the spot is not defined by anything the features
and metadata see. Why: ``docs/method.md#describing-a-blind-spot``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from spectral_fast._shared.stats import bh_adjust

#: Smallest effect (|Cliff's delta| or share difference) a description names: Romano et al.'s "medium".
MIN_EFFECT = 0.33
#: Numeric columns with at most this many distinct values are treated as categories.
MAX_LEVELS = 6
#: Words of the profile features: what each is, and the usual causes of more and of less of it.
_FEATURE_WORDS = {
    "low": ("large-scale contrast (below 0.05 cycles/px)", "exposure, collimation, patient size or view",
            "exposure, collimation, patient size or view"),
    "mid": ("fine detail (0.05-0.2 cycles/px)", "sharpening or edge enhancement", "smoothing or a softer system"),
    "high": ("high-frequency energy (above 0.2 cycles/px)", "noise, sharpening or a finer pixel grid",
             "blur, heavy denoising or upsampling"),
    "jpeg_block": ("8-pixel block pattern", "JPEG or video compression", ""),
    "peak_max": ("narrow periodic spectral peak", "grid lines, stripes or resampling", ""),
    "axis_mid": ("mid-frequency energy on the frequency axes", "stripes or line patterns", ""),
    "axis_high": ("high-frequency energy on the frequency axes", "line artefacts or block coding", ""),
    "hist_comb": ("comb-like intensity histogram", "LUT remapping or bit-depth reduction", ""),
    "mean": ("brightness", "windowing or exposure", "windowing or exposure"),
    "std": ("global contrast", "windowing or exposure", "windowing or exposure"),
}  # fmt: skip


def is_categorical(values: pl.Series) -> bool:
    """Strings, booleans and numbers with few distinct values are categories."""
    if values.dtype in (pl.Utf8, pl.Boolean, pl.Categorical) or not values.dtype.is_numeric():
        return True
    return values.drop_nulls().n_unique() <= MAX_LEVELS


def _numeric(name: str, x: np.ndarray, inside: np.ndarray) -> dict | None:
    from scipy.stats import mannwhitneyu

    ok = np.isfinite(x)
    a, b = x[inside & ok], x[~inside & ok]
    if len(a) < 2 or len(b) < 2 or np.ptp(x[ok]) == 0:
        return None
    u, p = mannwhitneyu(a, b, alternative="two-sided")
    delta = 2.0 * u / (len(a) * len(b)) - 1.0
    return {
        "variable": name,
        "kind": "numeric",
        "spot": float(np.median(a)),
        "rest": float(np.median(b)),
        "effect": float(delta),
        "p_value": float(p),
    }


def _categorical(name: str, values: pl.Series, inside: np.ndarray) -> dict | None:
    from scipy.stats import chi2_contingency, fisher_exact

    ok = values.is_not_null().to_numpy()
    if values.dtype.is_numeric():  # 640.0 -> "640", 0.168 -> "0.168"
        raw = values.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        ok &= np.isfinite(raw)
        distinct, inverse = np.unique(raw, return_inverse=True)  # words for each distinct value, not each image
        v = np.array([number(x) if np.isfinite(x) else "" for x in distinct], dtype=object)[inverse.ravel()]
    else:
        v = values.cast(pl.Utf8).to_numpy()
    levels = sorted(set(v[ok].tolist()))
    if len(levels) < 2 or not (inside & ok).any() or not (~inside & ok).any():
        return None
    table = np.array([[np.sum(inside & ok & (v == lv)), np.sum(~inside & ok & (v == lv))] for lv in levels], float)
    share = table / table.sum(axis=0, keepdims=True)
    diff = share[:, 0] - share[:, 1]
    # the level the spot holds more of, unless one it lacks differs more
    top = int(np.argmax(diff)) if diff.max() >= -diff.min() else int(np.argmin(diff))
    if len(levels) == 2:
        p = float(fisher_exact(table)[1])
    else:
        p = float(chi2_contingency(table, correction=False)[1])
    return {
        "variable": name,
        "kind": "categorical",
        "level": levels[top],
        "spot": float(share[top, 0]),
        "rest": float(share[top, 1]),
        "effect": float(diff[top]),
        "p_value": p,
    }


def compare(variables: pl.DataFrame, inside: np.ndarray) -> list[dict]:
    """Spot-vs-rest comparison of every variable (module docstring), with ``p_adjusted``, by decreasing |effect|."""
    inside = np.asarray(inside, dtype=bool)
    rows = []
    for name in variables.columns:
        col = variables[name]
        if is_categorical(col):
            r = _categorical(name, col, inside)
        else:
            r = _numeric(name, col.cast(pl.Float64).fill_null(float("nan")).to_numpy(), inside)
        if r is not None:
            rows.append(r)
    for r, q in zip(rows, bh_adjust(np.array([r["p_value"] for r in rows]))):
        r["p_adjusted"] = float(q)
    return sorted(rows, key=lambda r: -abs(r["effect"]))


def named(rows: list[dict], alpha: float = 0.05) -> list[dict]:
    """The rows a description names: adjusted p below ``alpha`` and effect at least :data:`MIN_EFFECT`."""
    return [r for r in rows if r["p_adjusted"] < alpha and abs(r["effect"]) >= MIN_EFFECT]


#: Units of the numeric acquisition variables, shown after their values.
UNITS = {
    "short_side": " px", "pixel_spacing_mm": " mm", "dicom_kvp": " kV", "dicom_exposure_mas": " mAs",
    "dicom_tube_current_ma": " mA", "dicom_exposure_time_ms": " ms",
}  # fmt: skip
#: Names of the DICOM tag columns in sentences (others: ``dicom_view`` -> ``DICOM view``).
_LABELS = {
    "dicom_kvp": "DICOM tube voltage", "dicom_exposure_mas": "DICOM exposure",
    "dicom_tube_current_ma": "DICOM tube current", "dicom_exposure_time_ms": "DICOM exposure time",
    "dicom_model": "DICOM model name",
}  # fmt: skip


def label(name: str) -> str:
    """A variable's name in a sentence: DICOM tag columns in words, others as they are."""
    if name in _LABELS:
        return _LABELS[name]
    return "DICOM " + name.removeprefix("dicom_").replace("_", " ") if name.startswith("dicom_") else name


def sentence(row: dict) -> str:
    """One comparison in words, e.g. ``format PNG: 96 % of the spot vs 12 % of the rest (p 1e-09)``."""
    p = f"q {row['p_adjusted']:.1g}"
    name = row["variable"]
    unit = UNITS.get(name, "")
    if row["kind"] == "categorical":
        return (
            f"{label(name)} {row['level']}{unit}: {100 * row['spot']:.0f} % of the spot vs {100 * row['rest']:.0f} % "
            f"of the rest ({p})"
        )
    if name in _FEATURE_WORDS:
        what, if_more, if_less = _FEATURE_WORDS[name]
        more, causes = ("more", if_more) if row["effect"] > 0 else ("less", if_less)
        tail = f"; {causes}" if causes else ""
        return f"{more} {what} than the rest (Cliff's delta {row['effect']:+.2f}, {p}{tail})"
    return f"{label(name)} median {number(row['spot'])}{unit} in the spot vs {number(row['rest'])}{unit} in the rest " \
        f"(Cliff's delta {row['effect']:+.2f}, {p})"  # fmt: skip


def number(v: float) -> str:
    """A value in a sentence: whole from 100 up, else 3 significant digits."""
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"


def describe_against_rest(rows: list[dict], alpha: float = 0.05, limit: int = 3) -> str:
    """The description of a spot from its comparisons: the strongest named differences, or why there are none."""
    found = named(rows, alpha)
    if not found:
        return (
            "no profile feature or acquisition variable differs from the rest of the images: the spot is defined "
            "by something the features do not see (content, patients, labels)"
        )
    return "; ".join(sentence(r) for r in found[:limit])


def profile_variables(table: pl.DataFrame, band_cols: list[str], freqs: np.ndarray) -> pl.DataFrame:
    """Per-image profile variables described in words: the mean of the bands in each range, artefact and scalars."""
    from spectral_fast.analysis.describe import DESCRIBED_COLUMNS, RANGES

    out = {}
    if band_cols:
        bands = table.select(band_cols).cast(pl.Float64).to_numpy()
        for name, lo, hi in RANGES:
            sel = (freqs >= lo) & (freqs < hi)
            if sel.any():
                out[name] = np.nanmean(bands[:, sel], axis=1)
    for c in DESCRIBED_COLUMNS:
        if c in table.columns and c in _FEATURE_WORDS:
            out[c] = table[c].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    return pl.DataFrame(out) if out else pl.DataFrame()
