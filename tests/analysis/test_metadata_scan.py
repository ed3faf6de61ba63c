"""The metadata scan: value groups with excess errors, per direction, exact tests, BH, stability.

Generated data with a planted failing group (it must be declared, in its
direction, with its aliases), failures in both directions (never one spot),
a quartile class of a numeric variable, and a null (errors independent of
every variable: declared in at most 1 of 20 seeds).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from spectral_fast.analysis.metadata_scan import _sum_hypergeom_sf, scan_metadata, value_groups
from spectral_fast.errors import InvalidInputError


def _table(seed: int, n: int = 600):
    rng = np.random.default_rng(seed)
    view = rng.choice(["AP", "PA"], n)
    variables = pl.DataFrame({
        "view": view,
        "site": rng.choice(["a", "b", "c"], n),
        "short_side": rng.integers(200, 1024, n).astype(float),
        "portable": np.where(view == "AP", "yes", "no"),  # the same images as view = AP
    })  # fmt: skip
    truth = rng.random(n) < 0.5
    return rng, variables, truth


def test_a_planted_miss_group_is_declared_with_its_alias_and_only_it():
    rng, v, truth = _table(0)
    ap = (v["view"] == "AP").to_numpy()
    error = np.where(ap & truth, rng.random(len(truth)) < 0.7, rng.random(len(truth)) < 0.08)
    rows, masks = scan_metadata(v, error, truth, n_resamples=50, seed=1)
    assert len(rows) == 1, [r["description"] for r in rows]
    top = rows[0]
    assert (top["variable"], top["value"], top["direction"]) == ("view", "AP", "misses")
    assert top["aliases"] == "portable = yes"
    assert top["population"] == int((ap & truth).sum()) and top["errors"] == int((error & ap & truth).sum())
    assert top["p_adjusted"] < 1e-10 and top["stability"] >= 0.9 and top["stable"]
    assert top["description"].startswith("view = AP among label-1 images: ")
    assert "missed vs" in top["description"] and "% of the rest" in top["description"]
    # a miss spot's images are the group's label-1 images
    assert np.array_equal(masks[0], ap & truth)


def test_misses_and_false_alarms_are_separate_spots():
    rng, v, truth = _table(1)
    site = v["site"].to_numpy()
    miss = (site == "a") & truth & (rng.random(len(truth)) < 0.6)
    fa = (site == "b") & ~truth & (rng.random(len(truth)) < 0.6)
    error = miss | fa | (rng.random(len(truth)) < 0.05)
    rows, _ = scan_metadata(v, error, truth, n_resamples=0)
    found = {(r["value"], r["direction"]) for r in rows if r["variable"] == "site"}
    assert found == {("a", "misses"), ("b", "false_alarms")}
    assert all(r["direction"] != "both" for r in rows)
    assert all(np.isnan(r["stability"]) and r["stable"] is None for r in rows)


def test_a_numeric_variable_is_scanned_by_quartile_class():
    rng, v, truth = _table(2)
    side = v["short_side"].to_numpy()
    small = side < np.quantile(side, 0.25)
    error = np.where(small, rng.random(len(truth)) < 0.6, rng.random(len(truth)) < 0.1)
    rows, masks = scan_metadata(v, error, None, n_resamples=0)
    assert rows and rows[0]["variable"] == "short_side" and rows[0]["direction"] == "errors"
    assert rows[0]["lower"] == side.min() and rows[0]["upper"] < np.quantile(side, 0.25)
    assert rows[0]["value"].endswith(" px") and np.array_equal(masks[0], small)
    groups = [g for g in value_groups(v) if g.variable == "short_side"]
    assert len(groups) == 4 and np.array_equal(np.sum([g.mask for g in groups], axis=0), np.ones(len(side)))


def test_null_errors_declare_a_spot_in_at_most_one_of_20_seeds():
    declared = 0
    for seed in range(20):
        rng, v, truth = _table(100 + seed)
        error = np.where(truth, rng.random(len(truth)) < 0.3, rng.random(len(truth)) < 0.1)
        rows, _ = scan_metadata(v, error, truth, n_resamples=0)
        declared += bool(rows)
    assert declared <= 1


def test_the_both_direction_test_is_the_permutation_within_labels():
    # exact tail of (misses in 30 of 100 positives) + (false alarms in 20 of 80 negatives) vs 40k permutations
    rng = np.random.default_rng(5)
    n_pos, n_neg, miss, fa, pos, neg = 100, 80, 25, 12, 30, 20
    draws = rng.hypergeometric(miss, n_pos - miss, pos, 40_000) + rng.hypergeometric(fa, n_neg - fa, neg, 40_000)
    for c in (8, 12, 16):
        exact = _sum_hypergeom_sf(c, pos, neg, n_pos, n_neg, miss, fa)
        assert abs(exact - (draws >= c).mean()) < 0.01, c


def test_bad_input_is_refused():
    _, v, truth = _table(3)
    with pytest.raises(InvalidInputError, match="metadata rows"):
        scan_metadata(v.head(10), np.zeros(len(truth), bool), truth)
    with pytest.raises(InvalidInputError, match="n_resamples"):
        scan_metadata(v, np.zeros(len(truth), bool), truth, n_resamples=-1)
    assert scan_metadata(pl.DataFrame(), np.zeros(5, bool)) == ([], [])


def test_frequent_values_and_missing_values_are_groups_of_their_own():
    rng = np.random.default_rng(7)
    n = 400
    other = rng.random(n) < 0.3  # another source: smaller images, no pixel spacing recorded
    side = np.where(other, rng.integers(400, 700, n), 1024).astype(float)
    pitch = rng.choice([0.143, 0.168], n)
    spacing = pl.Series("spacing", [None if o else float(p) for o, p in zip(other, pitch)], dtype=pl.Float64)
    v = pl.DataFrame({"short_side": side}).with_columns(spacing)
    groups = {(g.variable, g.value) for g in value_groups(v)}
    assert ("short_side", "1024 px") in groups and ("spacing", "(missing)") in groups
    assert sum(g[0] == "short_side" for g in groups) == 5  # 1024 px and four classes of the others
    truth = rng.random(n) < 0.5
    error = np.where(other & truth, rng.random(n) < 0.7, rng.random(n) < 0.1)
    rows, _ = scan_metadata(v, error, truth, n_resamples=0)
    # the small-size classes lie inside the missing-spacing group: parts of its spot, not spots of their own
    assert [(r["variable"], r["value"], r["direction"]) for r in rows] == [("spacing", "(missing)", "misses")]
    assert rows[0]["description"].startswith("spacing = (missing) among label-1 images")


def test_the_hypergeometric_pmf_matches_scipy():
    from scipy.stats import hypergeom

    from spectral_fast.analysis.metadata_scan import _hypergeom_pmf

    for total, cases, drawn in ((50, 10, 45), (180, 92, 99), (5000, 700, 1200)):
        lo, pmf = _hypergeom_pmf(total, cases, drawn)
        k = np.arange(lo, lo + len(pmf))
        assert lo == max(0, drawn - (total - cases)) and len(pmf) == min(drawn, cases) - lo + 1
        np.testing.assert_allclose(pmf, hypergeom.pmf(k, total, cases, drawn), rtol=1e-9, atol=1e-300)
