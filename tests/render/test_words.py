"""The pages' words: description order, the verdict phrase, band names and the monitor's fired rules."""

from __future__ import annotations

import polars as pl
import pytest

from spectral_fast.profiling.oracle import band_edges
from spectral_fast.render.monitor_html import reasons
from spectral_fast.render.words import band_ranges, pixel_spacing_mm, short_phrase, split_description

SHARPENED = (
    "comb-like intensity histogram: gamma/LUT remapping, contrast adjustment or bit-depth reduction (z +4.4); "
    "more fine detail (0.05-0.2 cycles/px) than typical: edge enhancement or sharpening (z +2.6); "
    "smaller images than typical (524 px vs 1024 px on the short side): another source or export"
)


def test_specific_sentences_lead_generic_ones_follow():
    parts = split_description(SHARPENED)
    assert [z for _, z in parts] == [2.6, None, 4.4]  # spectral first, then size, then the histogram remark
    assert parts[0][0].startswith("more fine detail")
    assert (
        short_phrase(SHARPENED)
        == "more fine detail (0.05-0.2 cycles/px) than typical (edge enhancement or sharpening?)"
    )
    assert short_phrase("") == "no distinctive spectral feature"


def test_spectral_sentences_rank_by_effect_size():
    text = "less fine detail: smoothing (z -2.0); more high-frequency energy: noise (z +5.5)"
    assert [z for _, z in split_description(text)] == [5.5, -2.0]


def test_band_names_follow_the_band_edges_of_the_typical_image():
    table = pl.DataFrame({"height": [512, 512, 1024], "width": [512, 600, 1024]})
    names = band_ranges(table, [f"band_{i:02d}" for i in range(32)])
    edges = band_edges(512, 512, 32, "log")
    assert names["band_31"] == f"{edges[31]:.2f}-0.50 cycles/px"
    assert names["band_00"].startswith(f"{edges[0]:.2g}-")
    with_mm = table.with_columns(pixel_spacing_mm=pl.lit(0.2))
    assert pixel_spacing_mm(with_mm) == pytest.approx(0.2)
    assert band_ranges(with_mm, ["band_00", "band_01"])["band_01"].endswith("cycles/mm)")
    assert pixel_spacing_mm(table) is None


def _summary(**over):
    s = {
        "verdict": "ok",
        "settings": {"alpha": 0.05, "max_drop": 0.02, "unknown_alert": 0.05},
        "accuracy": {"y": {"change": -0.001, "ci_low": -0.01, "ci_high": 0.01}},
        "unknown": {"p_value": 0.9, "share": 0.0, "expected_share": 0.01},
        "blind_spots": [],
        "mix": {"chi2_p": 0.5},
        "bands": {"significant": 0, "tested": 37},
    }
    s.update(over)
    return s


def test_monitor_reasons_start_with_the_rule_that_fired():
    assert reasons(_summary()) == []
    drop = _summary(accuracy={"y": {"change": -0.08, "ci_low": -0.12, "ci_high": -0.04}})
    assert reasons(drop)[0].startswith("expected accuracy on y drops by 8.0%")
    unknown = _summary(unknown={"p_value": 1e-6, "share": 0.8, "expected_share": 0.01})
    assert reasons(unknown)[0].startswith("80% of the images are unlike any reference image")
    assert "alert from 5%" in reasons(unknown)[0]
    assert reasons(_summary(reasons=["rule X fired"])) == ["rule X fired"]  # the monitor's own list wins
