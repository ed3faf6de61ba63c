"""A blind spot against the rest (effect sizes, tests, words) and its stability over refits."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import fisher_exact, mannwhitneyu

from spectral_fast.analysis.contrast import compare, describe_against_rest, named, profile_variables
from spectral_fast.analysis.describe import ProfileFeatures
from spectral_fast.analysis.metadata import metadata_variables
from spectral_fast.analysis.stability import best_jaccard, refit_spots, stability_scores
from spectral_fast.errors import InvalidInputError


def _majority_spot(n=200, share=0.6, seed=0):
    """A profile table where the spot (``share`` of the images) has less high-frequency energy and is 640 px."""
    rng = np.random.default_rng(seed)
    inside = np.arange(n) < int(share * n)
    bands = np.linspace(-1.0, -6.0, 32) + rng.normal(0, 0.1, (n, 32))
    bands[inside, 20:] -= 1.0
    side = np.where(inside, 640, 1024)
    table = pl.DataFrame({f"band_{i:02d}": bands[:, i] for i in range(32)}).with_columns(
        height=pl.Series(side), width=pl.Series(side), format=pl.Series(np.where(inside, "PNG", "DICOM"))
    )
    return table, inside


def test_a_majority_spot_is_described_by_what_differs_from_the_rest():
    table, inside = _majority_spot()
    # against the whole set (the cluster description) the spot is the typical profile
    feats = ProfileFeatures(table)
    assert feats.describe(inside)["description"] == "close to the typical profile"
    rows = compare(profile_variables(table, feats.band_cols, feats.freqs), inside)
    rows += compare(metadata_variables(table), inside)
    text = describe_against_rest(sorted(rows, key=lambda r: -abs(r["effect"])))
    assert "close to the typical" not in text and "do not see" not in text
    assert "less high-frequency energy" in text
    by = {r["variable"]: r for r in rows}
    assert by["high"]["effect"] == pytest.approx(-1.0)
    assert by["format"]["level"] == "PNG" and by["format"]["spot"] == 1.0 and by["format"]["rest"] == 0.0
    # two sizes are two categories: the share of each, in words with the unit
    assert by["short_side"]["level"] == "640" and by["short_side"]["spot"] == 1.0
    assert "short_side 640 px: 100 % of the spot vs 0 % of the rest" in describe_against_rest(rows)


def test_effects_and_p_values_match_scipy():
    rng = np.random.default_rng(1)
    inside = rng.random(120) < 0.3
    x = rng.normal(0, 1, 120) + 0.8 * inside
    site = np.where(rng.random(120) < np.where(inside, 0.8, 0.3), "a", "b")
    rows = {r["variable"]: r for r in compare(pl.DataFrame({"x": x, "site": site}), inside)}
    u, p = mannwhitneyu(x[inside], x[~inside], alternative="two-sided")
    assert rows["x"]["effect"] == pytest.approx(2 * u / (inside.sum() * (~inside).sum()) - 1)
    assert rows["x"]["p_value"] == pytest.approx(p)
    table = [[np.sum(inside & (site == s)), np.sum(~inside & (site == s))] for s in ("a", "b")]
    assert rows["site"]["p_value"] == pytest.approx(fisher_exact(table)[1])
    assert rows["site"]["level"] == "a" and rows["site"]["effect"] > 0
    # Benjamini-Hochberg over the two variables
    ps = sorted(r["p_value"] for r in rows.values())
    assert min(r["p_adjusted"] for r in rows.values()) == pytest.approx(min(2 * ps[0], ps[1]))


def test_nothing_differs_says_the_features_do_not_see_it():
    rng = np.random.default_rng(2)
    inside = rng.random(150) < 0.3
    rows = compare(pl.DataFrame({"x": rng.normal(0, 1, 150), "y": rng.normal(0, 1, 150)}), inside)
    assert named(rows) == []
    assert "do not see" in describe_against_rest(rows)


def test_best_jaccard_respects_direction():
    a = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    b = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    assert best_jaccard(a, "misses", [(b, "misses")]) == pytest.approx(3 / 4)
    assert best_jaccard(a, "misses", [(b, "false_alarms")]) == 0.0
    assert best_jaccard(a, "misses", [(b, "both")]) == pytest.approx(3 / 4)
    assert best_jaccard(a, "misses", []) == 0.0
    assert stability_scores([(a, "misses")], [[(b, "misses")], []]) == [pytest.approx(3 / 8)]
    assert np.isnan(stability_scores([(a, "misses")], [])[0])


def test_refits_use_half_samples_and_their_own_seeds():
    seen = []

    def fit_assign(rows, seed):
        seen.append((len(rows), len(set(rows.tolist())) == 5 and rows.max() < 10, seed))
        return np.zeros(10, int), [[0]], np.zeros((1, 1))

    out = refit_spots(fit_assign, lambda lab, m, c: [(lab == 0, "misses")], 10, 3, seed=5)
    assert len(out) == 3 and [s[2] for s in seen] == [6, 7, 8] and all(s[0] == 5 and s[1] for s in seen)
    with pytest.raises(InvalidInputError, match="n_refits"):
        refit_spots(fit_assign, lambda *a: [], 10, -1, seed=0)
