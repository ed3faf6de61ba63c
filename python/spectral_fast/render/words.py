"""Plain words for the pages: ordering a description's sentences, a short phrase per blind spot, band names.

The analysis writes a description as ``"; "``-joined sentences, each ending in
its robust z where it has one (:mod:`spectral_fast.analysis.describe`). The
pages lead with the most specific: spectral and artefact sentences by effect
size, then image size, then global intensity and histogram remarks (these
follow from most processing changes, so they rarely say which one happened).
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from spectral_fast.profiling.oracle import band_edges

_Z = re.compile(r"\s*\(z ([+-]?\d+(?:\.\d+)?)\)\s*$")
#: Sentences about global intensity or the histogram: true of many processing changes, so shown last.
_GENERIC = ("comb-like", "brighter", "darker", "higher global", "lower global")


def split_description(description: str) -> list[tuple[str, float | None]]:
    """``(sentence without its z, z or None)`` per sentence, most specific first."""
    parts = []
    for raw in (description or "").split("; "):
        raw = raw.strip()
        if not raw:
            continue
        m = _Z.search(raw)
        parts.append((_Z.sub("", raw) if m else raw, float(m.group(1)) if m else None))

    def rank(item: tuple[str, float | None]) -> tuple[int, float]:
        text, z = item
        kind = 2 if text.startswith(_GENERIC) else (1 if z is None else 0)
        return kind, -abs(z) if z is not None else 0.0

    return sorted(parts, key=rank)


def short_phrase(description: str) -> str:
    """The leading sentence as a phrase: ``"more fine detail ... than typical (edge enhancement or sharpening?)"``."""
    parts = split_description(description)
    if not parts:
        return "no distinctive spectral feature"
    text = parts[0][0]
    head, _, cause = text.partition(": ")
    return f"{head} ({cause.split(', ')[0].rstrip('.')}?)" if cause else head


def typical_side(table: pl.DataFrame) -> int:
    """Median short side of the table's images (1024 when it has no size columns), as the analysis assumes."""
    if "height" in table.columns and "width" in table.columns:
        sides = table.select(pl.min_horizontal("height", "width")).to_series().drop_nulls()
        if len(sides):
            return int(sides.median())
    return 1024


def pixel_spacing_mm(table: pl.DataFrame) -> float | None:
    """Median pixel spacing (mm) when the table knows it for most images, else None."""
    if "pixel_spacing_mm" not in table.columns:
        return None
    s = table["pixel_spacing_mm"].cast(pl.Float64, strict=False)
    known = s.drop_nulls().drop_nans()
    known = known.filter(known > 0)
    return float(known.median()) if len(known) > table.height / 2 else None


def band_ranges(table: pl.DataFrame, band_cols: list[str], spacing: str = "log") -> dict[str, str]:
    """``band_07`` -> ``"0.05-0.07 cycles/px"`` for the table's typical image size (plus cycles/mm when known)."""
    if not band_cols:
        return {}
    side = typical_side(table)
    edges = band_edges(side, side, len(band_cols), spacing)
    mm = pixel_spacing_mm(table)
    out = {}
    for i, col in enumerate(sorted(band_cols)):
        lo, hi = edges[i], edges[i + 1]
        name = f"{_num(lo)}-{_num(hi)} cycles/px"
        if mm:
            name += f" ({_num(lo / mm)}-{_num(hi / mm)} cycles/mm)"
        out[col] = name
    return out


def feature_name(feature: str, ranges: dict[str, str]) -> str:
    """A feature's human name: a band's frequency range, else the column name."""
    return f"{feature}: {ranges[feature]}" if feature in ranges else feature


def _num(v: float) -> str:
    if not np.isfinite(v):
        return "?"
    return f"{v:.2g}" if v < 0.1 else f"{v:.2f}"
