"""Failure statistics: intervals, tests, blind spots, per-image errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, hypergeom

from spectral_fast._shared.stats import auroc, bernoulli_llr, bh_adjust, wilson_interval, worst_share
from spectral_fast.analysis.blind_spots import analyze_finding, concentration, find_blind_spots, image_errors
from spectral_fast.analysis.cluster_tree import tree_members
from spectral_fast.errors import InvalidInputError


def test_wilson_matches_scipy():
    lo, hi = wilson_interval(7, 20)
    ci = binomtest(7, 20).proportion_ci(method="wilson")
    assert lo == pytest.approx(ci.low) and hi == pytest.approx(ci.high)
    lo0, hi0 = wilson_interval(0, 10)
    assert lo0 == 0.0 and 0.2 < hi0 < 0.35
    assert np.isnan(wilson_interval(0, 0)[0])


def test_auroc_matches_sklearn_and_handles_one_class():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    t = rng.random(200) < 0.4
    s = np.round(rng.random(200) + 0.3 * t, 1)  # rounded: ties
    assert auroc(t, s) == pytest.approx(roc_auc_score(t, s))
    assert np.isnan(auroc(np.ones(5, bool), np.arange(5.0)))


def test_bh_matches_hand_computation():
    p = np.array([0.01, 0.04, 0.03, 0.20])
    # sorted 0.01, 0.03, 0.04, 0.20 -> 0.04, 0.06, 0.0533, 0.20 -> monotone 0.04, 0.0533, 0.0533, 0.2
    np.testing.assert_allclose(bh_adjust(p), [0.04, 0.05333333, 0.05333333, 0.2])


def test_llr_is_zero_unless_elevated_and_prefers_pure_groups():
    assert bernoulli_llr(1, 10, 20, 100) == 0.0
    pure = bernoulli_llr(12, 24, 22, 122)
    diluted = bernoulli_llr(13, 34, 22, 122)
    half = bernoulli_llr(6, 12, 22, 122)
    assert pure > diluted > 0 and pure > half > 0


def test_worst_share_interpolates_the_boundary_cluster():
    labels = np.repeat([0, 1, 2], [10, 30, 60])
    error = np.zeros(100, bool)
    error[:8] = True  # cluster 0: 8 / 10
    error[10:16] = True  # cluster 1: 6 / 30
    # 10 % = cluster 0 alone; 20 % = cluster 0 + a third of cluster 1 (2 of its 6 errors)
    assert worst_share(labels, error, 3, 0.10) == pytest.approx(8 / 14)
    assert worst_share(labels, error, 3, 0.20) == pytest.approx(10 / 14)


def planted(seed=0, n=120, k=6):
    """Labels where clusters 0 and 1 (siblings) hold a 50 %-error slice, the rest 10 %."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    slice_ = labels <= 1
    error = np.where(slice_, rng.random(n) < 0.5, rng.random(n) < 0.1)
    # tree: (0, 1) merge first, then the rest one by one
    tree = np.array([[0, 1, 1, 0], [2, 3, 2, 0], [4, 5, 3, 0], [7, 8, 4, 0], [6, 9, 5, 0]], float)
    return labels, error, slice_, tree_members(tree, k)


def test_blind_spot_is_the_union_of_elevated_siblings():
    labels, error, slice_, members = planted()
    spots = find_blind_spots(labels, error, members)
    assert spots and spots[0]["clusters"] == [0, 1] and spots[0]["rank"] == 1
    assert spots[0]["p_adjusted"] < 0.05 and spots[0]["lift"] >= 1.5 and spots[0]["p_scan"] < 0.01
    sel = np.isin(labels, spots[0]["clusters"])
    assert (sel == slice_).all()
    # p-value is the one-sided hypergeometric tail
    n_in, e_in = int(sel.sum()), int(error[sel].sum())
    assert spots[0]["p_value"] == pytest.approx(hypergeom.sf(e_in - 1, 120, int(error.sum()), n_in))


def test_no_blind_spot_without_concentration():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 6, 300)
    error = rng.random(300) < 0.2
    members = tree_members(np.array([[0, 1, 1, 0], [2, 3, 2, 0], [4, 5, 3, 0], [6, 7, 4, 0], [8, 9, 5, 0]], float), 6)
    assert find_blind_spots(labels, error, members) == []
    assert find_blind_spots(labels, np.zeros(300, bool), members) == []
    from spectral_fast.analysis.blind_spots import scan_p_values

    llr = np.array(
        [
            bernoulli_llr(int(error[np.isin(labels, m)].sum()), int(np.isin(labels, m).sum()), int(error.sum()), 300)
            for m in members
        ]
    )
    p = scan_p_values(labels, error, members, llr, n_perm=199)
    assert p.min() > 0.05  # no node stands out under permutation


def test_concentration_detects_planted_and_not_random():
    labels, error, _, _ = planted(2)
    out = concentration(labels, error, 6, n_perm=199, rng=np.random.default_rng(0))
    assert out["chi2_p"] < 0.01 and out["perm_p_mutual_information"] < 0.02 and out["perm_p_max_lift"] < 0.05
    rng = np.random.default_rng(5)
    flat = concentration(rng.integers(0, 6, 300), rng.random(300) < 0.2, 6, n_perm=199, rng=rng)
    assert flat["perm_p_mutual_information"] > 0.05


def test_analyze_finding_rows_and_one_class_note():
    labels, error, _, members = planted(3)
    truth = np.zeros(120, bool)
    truth[labels == 2] = True  # cluster 2 holds the only positives
    score = np.where(error, 1.0 - truth, truth.astype(float)) * 0.8 + 0.1
    res = analyze_finding("f", labels, error, truth, score, members, n_boot=50, n_perm=99)
    assert len(res.clusters) == 6
    row2 = res.clusters[2]
    assert np.isnan(row2["auroc"]) and "one class" in row2["auroc_note"]
    assert sum(r["n"] for r in res.clusters) == 120
    assert sum(r["errors"] for r in res.clusters) == int(error.sum())
    assert res.clusters[0]["blind_spot"] and res.clusters[0]["rank"] == 1 and res.clusters[0]["group"] == "0+1"
    assert res.summary["worst_share_20"] >= res.summary["worst_share_10"]


def test_image_errors_scores_and_predictions():
    err, loss, _t = image_errors(np.array([0, 1, 1, 0]), score=np.array([0.2, 0.4, 0.9, 0.5]))
    assert err.tolist() == [False, True, False, True]
    assert loss[0] == pytest.approx(-np.log(0.8))
    err, _, _ = image_errors(np.array([0, 1, 1]), score=np.array([0.2, 0.4, 0.9]), threshold=0.3)
    assert err.tolist() == [False, False, False]
    err, loss, _ = image_errors(np.array([True, False]), pred=np.array([0, 0]))
    assert err.tolist() == [True, False] and loss.tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"score": np.array([0.1, 1.2])}, r"\[0, 1\]"),
        ({"score": np.array([0.1, np.nan])}, "NaN"),
        ({"pred": np.array([0, 2])}, "predicted labels"),
        ({}, "exactly one"),
    ],
)
def test_image_errors_bad_input(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        image_errors(np.array([0, 1]), finding="cardio", **kwargs)


def test_image_errors_labels_outside_binary():
    with pytest.raises(InvalidInputError, match="cardio: labels must be 0 or 1.*2.0"):
        image_errors(np.array([0, 2]), score=np.array([0.1, 0.2]), finding="cardio")


def _clusters(sizes: list[int], errs: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """A cluster label per image and an error flag: cluster i holds sizes[i] images, the first errs[i] of them wrong."""
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return labels, np.concatenate([np.arange(s) < e for s, e in zip(sizes, errs)])


def test_sibling_with_an_elevated_rate_joins_the_blind_spot():
    # cluster 0: 16 images, 10 errors; its sibling 1: 8 images, 3 errors (unlucky draw of the same
    # slice); clusters 2-5: 98 images at 10 %. The scan alone prefers cluster 0; growth adds 1.
    sizes, errs = [16, 8, 25, 25, 24, 24], [10, 3, 3, 2, 3, 2]
    labels, error = _clusters(sizes, errs)
    tree = np.array([[0, 1, 1, 0], [2, 3, 2, 0], [4, 5, 3, 0], [7, 8, 4, 0], [6, 9, 5, 0]], float)
    spots = find_blind_spots(labels, error, tree_members(tree, 6))
    assert spots[0]["clusters"] == [0, 1]
    # a sibling at 1.4 times the overall rate (2 of 8) shares the excess: it joins at grow_lift 1.25, not 1.5
    errs[1] = 2
    _, error = _clusters(sizes, errs)
    assert find_blind_spots(labels, error, tree_members(tree, 6))[0]["clusters"] == [0, 1]
    assert find_blind_spots(labels, error, tree_members(tree, 6), grow_lift=1.5)[0]["clusters"] == [0]
    # a sibling below the overall rate does not join
    errs[1] = 1
    _, error = _clusters(sizes, errs)
    assert find_blind_spots(labels, error, tree_members(tree, 6))[0]["clusters"] == [0]


def _two_shifts(similar: bool):
    """Clusters 0 and 1 (siblings) are each a 45 %-error blind spot; 2-5 hold 200 images at 10 %.

    Centres (scaled units): cluster 0 raises the top bands (noise-like), cluster 1 the
    same bands when ``similar`` (one slice split in two), else mid bands and another
    feature (sharpening-like, cosine 0.2 with cluster 0).
    """
    sizes, errs = [40, 40, 50, 50, 50, 50], [18, 18, 5, 5, 5, 5]
    labels, error = _clusters(sizes, errs)
    centres = np.zeros((6, 6))
    centres[0] = [0, 0, 0.5, 3, 3, 0]
    centres[1] = [0, 0, 0.6, 2.5, 3.2, 0.1] if similar else [0, 3, 3, 0.5, 0, -2]
    centres[2:, :2] = np.random.default_rng(0).normal(0, 0.5, (4, 2))
    tree = np.array([[0, 1, 1, 0], [2, 3, 2, 0], [4, 5, 3, 0], [7, 8, 4, 0], [6, 9, 5, 0]], float)
    return labels, error, centres, tree_members(tree, 6)


def test_physically_different_siblings_stay_separate_blind_spots():
    labels, error, centres, members = _two_shifts(similar=False)
    # without centres the tree alone decides: one blind spot of both
    assert [s["clusters"] for s in find_blind_spots(labels, error, members)] == [[0, 1]]
    spots = find_blind_spots(labels, error, members, centers=centres)
    assert sorted(s["clusters"] for s in spots) == [[0], [1]]
    assert {s["rank"] for s in spots} == {1, 2}
    # the same slice split into two similar clusters is still one blind spot
    labels, error, centres, members = _two_shifts(similar=True)
    assert [s["clusters"] for s in find_blind_spots(labels, error, members, centers=centres)] == [[0, 1]]
    # analyze_finding passes the centres on; a wrong shape is a clear error
    truth = np.arange(len(labels)) % 2 == 0  # errors fall on both labels alike
    res = analyze_finding("f", labels, error, truth, None, members, centers=centres, n_boot=20, n_perm=99)
    assert [(s["clusters"], s["direction"]) for s in res.blind_spots] == [([0, 1], "both")]
    with pytest.raises(InvalidInputError, match="one row per cluster"):
        find_blind_spots(labels, error, members, centers=centres[:3])


def test_one_change_split_by_anatomy_stays_one_blind_spot():
    # Clusters 0 and 1: one change (bands 3-4 raised) on two anatomies (feature 0 at +4 and -4);
    # the ordinary clusters 2-5 differ from each other along features 0-1. The raw centres point
    # apart (cosine -0.33); with the ordinary directions removed the shifts are parallel: one spot.
    labels, error, centres, members = _two_shifts(similar=True)
    centres[0] = [4, 0, 0, 2, 2, 0]
    centres[1] = [-4, 0, 0, 2, 2, 0]
    centres[2:, :2] = [[4, 1], [-4, -1], [3, -1], [-3, 1]]
    c0, c1 = centres[0], centres[1]
    assert float(c0 @ c1 / np.linalg.norm(c0) / np.linalg.norm(c1)) < 0
    assert [s["clusters"] for s in find_blind_spots(labels, error, members, centers=centres)] == [[0, 1]]
    # a different change on the same two anatomies still stays apart
    centres[1] = [-4, 0, 3, 0.5, 0, -2]
    spots = find_blind_spots(labels, error, members, centers=centres)
    assert sorted(s["clusters"] for s in spots) == [[0], [1]]


def test_two_changes_apart_in_the_tree_are_not_joined_through_ordinary_clusters():
    # Noise-like cluster 0 merges first with ordinary cluster 1, sharpening-like cluster 2 with
    # ordinary cluster 3; the union {0, 1, 2, 3} qualifies (lift 1.56), as does {0, 1}, but {2, 3}
    # does not, so the two changes are never both children of one merge. They still stay apart.
    sizes, errs = [40, 20, 40, 60, 100, 100], [18, 3, 18, 6, 10, 10]
    labels, error = _clusters(sizes, errs)
    tree = np.array([[0, 1, 1, 0], [2, 3, 2, 0], [6, 7, 3, 0], [4, 5, 4, 0], [8, 9, 5, 0]], float)
    centres = np.zeros((6, 6))
    centres[0] = [0, 0, 0.5, 3, 3, 0]
    centres[2] = [0, 3, 3, 0.5, 0, -2]
    centres[[1, 3, 4, 5], :2] = [[0.5, 0.2], [-0.5, 0.1], [0.3, -0.4], [-0.2, 0.3]]
    members = tree_members(tree, 6)
    assert find_blind_spots(labels, error, members)[0]["clusters"] == [0, 1, 2, 3]  # the tree alone
    spots = find_blind_spots(labels, error, members, centers=centres)
    assert sorted(s["clusters"] for s in spots) == [[0], [2]]


def test_a_spot_holds_no_half_below_the_growth_lift():
    # Cluster 0 (40 images, 17 errors) merges first with cluster 1 (70 images, 15 errors: 1.19 times
    # the overall rate); the union, at lift 1.62, has the larger log-likelihood ratio, but growth
    # would never add such a sibling, so the spot is trimmed back to cluster 0.
    sizes, errs = [40, 70, 31, 31, 31, 31], [17, 15, 3, 3, 2, 2]
    labels, error = _clusters(sizes, errs)
    tree = np.array([[0, 1, 1, 0], [2, 3, 2, 0], [4, 5, 3, 0], [7, 8, 4, 0], [6, 9, 5, 0]], float)

    def llr(e: int, m: int) -> float:  # Bernoulli log-likelihood ratio of a group against the rest
        E, N = int(error.sum()), len(error)
        out, rest = e / m, (E - e) / (N - m)
        return (
            e * np.log(out)
            + (m - e) * np.log(1 - out)
            + (E - e) * np.log(rest)
            + (N - m - E + e) * np.log(1 - rest)
            - (E * np.log(E / N) + (N - E) * np.log(1 - E / N))
        )

    assert llr(32, 110) > llr(17, 40)  # the scan alone would pick the union
    spots = find_blind_spots(labels, error, tree_members(tree, 6))
    assert [s["clusters"] for s in spots] == [[0]]


def test_large_clusters_use_the_normal_interval_and_agree_with_bootstrap():
    from spectral_fast._shared.stats import bootstrap_auroc, hanley_mcneil_interval

    rng = np.random.default_rng(4)
    t = rng.random(3000) < 0.3
    s = rng.random(3000) + 0.5 * t
    lo_b, hi_b = bootstrap_auroc(t, s, rng, n_boot=300)
    lo_h, hi_h = hanley_mcneil_interval(t, s)
    assert lo_h == pytest.approx(lo_b, abs=0.01) and hi_h == pytest.approx(hi_b, abs=0.01)


TREE6 = np.array([[0, 1, 1, 0], [2, 3, 2, 0], [4, 5, 3, 0], [7, 8, 4, 0], [6, 9, 5, 0]], float)


def _labelled(sizes, pos, misses, false_alarms):
    """Clusters of given sizes with ``pos`` label-1 images each, the first misses / false alarms wrong."""
    labels, truth, error = [], [], []
    for c, (n, p, m, f) in enumerate(zip(sizes, pos, misses, false_alarms)):
        labels += [c] * n
        truth += [True] * p + [False] * (n - p)
        error += [i < m for i in range(p)] + [i < f for i in range(n - p)]
    return np.array(labels), np.array(error), np.array(truth)


def test_a_miss_cluster_and_a_false_alarm_sibling_are_two_blind_spots():
    # clusters 0 and 1 are tree siblings; 0 misses half its positives, 1 raises false alarms on half its negatives
    sizes, pos = [40, 40, 60, 60, 60, 60], [20, 20, 30, 30, 30, 30]
    labels, error, truth = _labelled(sizes, pos, [10, 1, 3, 3, 3, 3], [1, 10, 3, 3, 3, 3])
    members = tree_members(TREE6, 6)
    # without labels the union of the siblings is one blind spot: the merge this rule forbids
    assert [s["clusters"] for s in find_blind_spots(labels, error, members)] == [[0, 1]]
    spots = find_blind_spots(labels, error, members, truth=truth)
    assert sorted((s["clusters"], s["direction"]) for s in spots) == [([0], "misses"), ([1], "false_alarms")]
    miss = next(s for s in spots if s["direction"] == "misses")
    assert miss["errors"] == 10 and miss["population"] == 20 and miss["misses"] == 10 and miss["false_alarms"] == 1
    assert miss["expected_errors"] == pytest.approx(20 * error[truth].mean())
    assert miss["label_pure"] == ""


def test_label_pure_cluster_at_the_labels_own_miss_rate_is_not_a_blind_spot():
    # cluster 0 holds only positives, missed at the overall miss rate (40 %); negatives are 5 % wrong.
    # Its error rate is twice the overall one, but the label mix explains it.
    sizes, pos = [30, 50, 50, 50, 50, 50], [30, 20, 20, 20, 20, 0]
    labels, error, truth = _labelled(sizes, pos, [12, 8, 8, 8, 8, 0], [0, 2, 2, 2, 2, 3])
    members = tree_members(TREE6, 6)
    assert [s["clusters"] for s in find_blind_spots(labels, error, members)] == [[0]]  # overall rate: a false spot
    assert find_blind_spots(labels, error, members, truth=truth) == []
    # the same cluster missed at twice its label's rate is one, flagged as label-pure
    labels, error, truth = _labelled(sizes, pos, [24, 2, 2, 2, 2, 0], [0, 2, 2, 2, 2, 3])
    spots = find_blind_spots(labels, error, members, truth=truth)
    assert [(s["clusters"], s["direction"], s["label_pure"]) for s in spots] == [([0], "misses", "label 1 only")]


def test_a_cluster_elevated_both_ways_is_one_spot_of_both_directions():
    sizes, pos = [40, 40, 60, 60, 60, 60], [20, 20, 30, 30, 30, 30]
    labels, error, truth = _labelled(sizes, pos, [11, 1, 3, 3, 3, 3], [11, 1, 3, 3, 3, 3])
    spots = find_blind_spots(labels, error, tree_members(TREE6, 6), truth=truth)
    assert [(s["clusters"], s["direction"]) for s in spots] == [([0], "both")]
    assert spots[0]["errors"] == 22 and spots[0]["misses"] == 11 and spots[0]["false_alarms"] == 11
