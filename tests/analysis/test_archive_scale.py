"""analyze() at archive scale: unchanged at or below max_fit_samples, the sampled path above it."""

from __future__ import annotations

import pytest

from helpers.report_cases import make_case
from spectral_fast.analysis.pipeline import Finding, analyze
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
