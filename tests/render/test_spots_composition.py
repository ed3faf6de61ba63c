"""A blind spot's metadata composition: the table's columns coded once (categories), counted per spot."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import polars as pl

from spectral_fast.analysis.contrast import label
from spectral_fast.render.primitives import pct
from spectral_fast.render.spots import _MAX_LEVELS, categories, composition


def _report(n: int, seed: int) -> SimpleNamespace:
    """A report-like object: a table with categorical, null, id-like and float metadata; one finding ``y``/``p``."""
    rng = np.random.default_rng(seed)
    table = pl.DataFrame({
        "id": [f"img/{i}.png" for i in range(n)],
        "band_00": rng.normal(size=n),
        "format": rng.choice(["png", "dcm", "jpg"], n),
        "site": pl.Series(rng.choice(["a", "b", None], n), dtype=pl.Utf8),  # nulls count as "unknown"
        "bit_depth": rng.choice([8, 16], n).astype(np.int32),
        "station": [f"s{i % 40}" for i in range(n)],  # more levels than a category has: left out
        "pixel_spacing_mm": rng.choice([0.143, 0.168], n),  # a float kept as a category
        "kvp": rng.normal(100, 5, n),  # other floats are not categories
        "height": rng.choice([512, 1024], n), "width": np.full(n, 1024),
        "y": rng.integers(0, 2, n), "p": rng.random(n),  # the finding's label and score: not metadata
    })  # fmt: skip
    options = {"id_col": "id", "group_col": None, "findings": [{"label_col": "y", "score_col": "p"}]}
    return SimpleNamespace(table=table, summary={"options": options, "features": ["band_00"]})


def _by_sorting(report, inside: np.ndarray, limit: int = 4) -> list[str]:
    """The composition as the page computed it before the columns were coded once: np.unique per spot."""
    table, items = report.table, []
    side = table.select(pl.min_horizontal("height", "width")).to_series().cast(pl.Float64).to_numpy()
    a, b = np.nanmedian(side[inside]), np.nanmedian(side[~inside])
    items.append((abs(a / b - 1.0), f"short side {a:.0f} px (rest {b:.0f} px)"))
    for col in ("format", "site", "bit_depth", "station", "pixel_spacing_mm"):
        values = table[col].cast(pl.Utf8, strict=False).fill_null("unknown").to_numpy()
        if not 2 <= len(np.unique(values)) <= _MAX_LEVELS:
            continue
        top, counts = np.unique(values[inside], return_counts=True)
        v = top[np.argmax(counts)]
        share_in, share_out = float(np.mean(values[inside] == v)), float(np.mean(values[~inside] == v))
        items.append((abs(share_in - share_out),
                      f"{label(col).replace('_', ' ')} {v}: {pct(share_in)} (rest {pct(share_out)})"))  # fmt: skip
    items.sort(key=lambda t: -t[0])
    return [text for diff, text in items[:limit] if diff >= 0.1] or [text for _, text in items[:1]]


def test_columns_are_coded_once_and_id_like_floats_and_model_columns_left_out():
    cats = categories(_report(300, 0))
    assert [c for c, _, _ in cats.columns] == ["format", "site", "bit_depth", "pixel_spacing_mm"]
    site = next(levels for c, levels, _ in cats.columns if c == "site")
    assert list(site) == ["a", "b", "unknown"]
    assert cats.side is not None and cats.side.shape == (300,)


def test_composition_equals_counting_each_spot_by_sorting():
    report = _report(500, 1)
    cats = categories(report)
    rng = np.random.default_rng(2)
    fmt = report.table["format"].to_numpy()
    spots = [fmt == "png", (fmt == "dcm") & (report.table["height"].to_numpy() == 512), rng.random(500) < 0.05]
    spots.append(np.arange(500) < 3)  # a tiny spot, where ties between levels are likely
    for inside in spots:
        assert composition(cats, inside) == _by_sorting(report, inside)
        assert composition(cats, inside, limit=2) == _by_sorting(report, inside, limit=2)
