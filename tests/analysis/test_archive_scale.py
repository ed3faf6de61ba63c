"""analyze() at archive scale: unchanged at or below max_fit_samples, the sampled path above it."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from helpers.report_cases import make_case
from spectral_fast.analysis.clustering import SpectralClusters, fit_rows_of
from spectral_fast.analysis.pipeline import Finding, _fit_threads, analyze
from spectral_fast.errors import InvalidInputError

ARGS = {"id_col": "image", "n_refits": 2, "n_perm": 99, "n_boot": 50}


def test_at_or_below_the_threshold_nothing_changes():
    prof, preds, _ = make_case(n=160, seed=1)
    finding = [Finding("y", score_col="p")]
    full = analyze(prof, preds, finding, max_fit_samples=None, **ARGS)
    at = analyze(prof, preds, finding, max_fit_samples=160, **ARGS)
    assert full.slices.equals(at.slices) and full.blind_spots.equals(at.blind_spots)


def test_above_the_threshold_the_slice_is_still_found():
    prof, preds, slice_ = make_case(n=400, seed=2)
    rep = analyze(prof, preds, [Finding("y", score_col="p")], max_fit_samples=200, **ARGS)
    assert rep.summary["options"]["max_fit_samples"] == 200
    assert rep.assignments.height == 400
    spot = rep.blind_spots.row(0, named=True)
    members = {int(c) for c in spot["clusters"].split("+")}
    inside = rep.assignments["cluster"].is_in(list(members)).to_numpy()
    assert (inside & slice_).sum() / (inside | slice_).sum() > 0.7


@pytest.mark.parametrize("bad", [1, True, 2.5, "all"])
def test_bad_max_fit_samples_is_refused(bad):
    prof, preds, _ = make_case(n=40, seed=0)
    with pytest.raises(InvalidInputError, match="max_fit_samples"):
        analyze(prof, preds, [Finding("y", score_col="p")], max_fit_samples=bad, **ARGS)


def _groups_case(n=1200, seed=4):
    """Profiles of four well-separated groups."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (4, 6))
    x = centres[rng.integers(0, 4, n)] + rng.normal(0, 1, (n, 6))
    return pl.DataFrame({f"band_{i:02d}": x[:, i] for i in range(6)})


def test_a_refit_on_its_own_drawn_sample_equals_the_fit_that_draws_it():
    """The stability refits read only the rows their fit would sample (fit_rows_of): the same model."""
    table = _groups_case()
    rows = np.sort(np.random.default_rng(1).choice(table.height, 600, replace=False))
    params = {"n_clusters": 4, "n_init": 1, "max_fit_samples": 250, "random_state": 7}
    drawn = SpectralClusters(**params).fit(table[rows])
    pick = fit_rows_of(len(rows), 250, 7)
    own = SpectralClusters(**params).fit(table[rows[pick]])
    for name in ("loc_", "scale_", "cluster_centers_", "covariances_", "weights_"):
        np.testing.assert_array_equal(getattr(drawn, name), getattr(own, name))
    np.testing.assert_array_equal(drawn.predict(table), own.predict(table))
    assert fit_rows_of(250, 250, 7) is None


def test_archive_scale_fits_use_one_openmp_thread():
    import sklearn.cluster  # noqa: F401  (loads scikit-learn's OpenMP runtime)
    from threadpoolctl import threadpool_info

    with _fit_threads(True):
        pools = [p for p in threadpool_info() if p["user_api"] == "openmp"]
        assert pools and all(p["num_threads"] == 1 for p in pools)
    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"]
    with _fit_threads(False):
        assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"] == before


def test_refits_reading_only_their_sample_give_the_stability_of_refits_on_their_whole_half(monkeypatch):
    """As before the refits read only their sample: fitting each on its whole random half (which then draws the
    same sample itself and weighs the tree by the half's cluster sizes) gives the same stability, bit for bit."""
    import inspect

    from spectral_fast.analysis import clustering

    prof, preds, _ = make_case(n=800, seed=1)  # a case where the tree's weights change a refit's spot
    args = {**ARGS, "n_refits": 5, "max_fit_samples": 200}
    own = analyze(prof, preds, [Finding("y", score_col="p")], **args)
    original = clustering.fit_rows_of

    def whole_half(n, m, seed):  # the refit does not draw its sample: it is fitted on all of its half
        return None if inspect.stack()[1].function == "fit_assign" else original(n, m, seed)

    monkeypatch.setattr(clustering, "fit_rows_of", whole_half)
    half = analyze(prof, preds, [Finding("y", score_col="p")], **args)
    assert own.blind_spots.height > 0
    assert own.blind_spots.equals(half.blind_spots)
