"""The counterfactual's verdict: an acquisition-sensitive model's blurred slice is "explains", a patient shortcut is not."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.stress_models import brightness_model, hf_model, textured_images
from spectral_fast import InvalidInputError
from spectral_fast.stress.counterfactual import (
    EXPLAINS,
    NOT_SPECTRA,
    PARTLY,
    band_centres,
    counterfactual,
    inverse_ill_posed,
    spot_log_gain,
    verdict,
)
from spectral_fast.stress.run import _spot_bands

N = 120


def _run(model, images, labels, inside, seed=0):
    bands, edges = _spot_bands(images, {}, 1)
    centres, gain, weights = spot_log_gain(bands, inside, edges)
    return counterfactual(model, images, labels, inside, centres, gain, weights, n_boot=200, seed=seed)


def test_a_blurred_slice_of_a_model_that_thresholds_fine_texture_is_explained_by_acquisition():
    # This model flips on any change of its fine-texture share: random changes of the blur's size raise its errors
    # by about 0.27 on their own, so the blur's excess over them (about 0.16) needs 150 reference images to show.
    n = 200
    inside = np.arange(n) < 50
    images, labels = textured_images(n, 0, blurred=inside)
    res = _run(hf_model, images, labels, inside)
    assert res["error_inside"] > res["error_outside"] + 0.2
    assert res["spot"]["rise_outside"][1] > 0
    assert res["verdict"] == EXPLAINS
    assert res["control"]["verdict"] != EXPLAINS


def test_a_model_keyed_on_a_patient_variable_is_not_the_spectra():
    inside = np.arange(N) < 30
    images, labels = textured_images(N, 1, bright=inside)
    res = _run(brightness_model, images, labels, inside)
    assert res["error_inside"] > res["error_outside"] + 0.5
    assert res["verdict"] == NOT_SPECTRA


def test_the_blurred_slice_gain_attenuates_high_and_keeps_low_frequencies():
    inside = np.arange(N) < 30
    images, _ = textured_images(N, 0, blurred=inside)
    bands, edges = _spot_bands(images, {}, 1)
    centres, gain, weights = spot_log_gain(bands, inside, edges)
    assert np.all(np.diff(centres) > 0)
    assert weights.sum() == pytest.approx(1.0) and weights[0] > weights[-1]
    assert gain[centres > 0.3].max() < np.log(0.5)
    assert abs(gain[centres < 0.05]).max() < np.log(1.5)


SIG, NONE = (0.2, 0.05, 0.35), (0.0, -0.1, 0.1)


@pytest.mark.parametrize(
    ("outside", "inside", "gap", "excess", "expected"),
    [
        ((0.0, -0.05, 0.05), (0.01, -0.02, 0.04), 0.3, None, NOT_SPECTRA),
        ((0.25, 0.1, 0.4), (0.0, -0.1, 0.1), 0.3, None, EXPLAINS),
        ((0.0, -0.1, 0.1), (0.2, 0.05, 0.35), 0.3, (NONE, SIG), EXPLAINS),
        ((0.05, 0.01, 0.09), (0.0, -0.1, 0.1), 0.3, None, PARTLY),
        ((0.25, 0.1, 0.4), (0.0, -0.1, 0.1), 0.3, (NONE, NONE), PARTLY),  # random changes did as much
        ((0.25, 0.1, 0.4), (0.0, -0.1, 0.1), 0.3, (SIG, NONE), EXPLAINS),
        ((float("nan"),) * 3, (float("nan"),) * 3, 0.3, None, NOT_SPECTRA),
        ((0.25, 0.1, 0.4), (0.0, -0.1, 0.1), -0.05, None, PARTLY),
    ],
)
def test_verdict_rules(outside, inside, gap, excess, expected):
    assert verdict(outside, inside, gap, excess)[0] == expected


def test_an_ill_posed_inverse_neither_decides_nor_vetoes_and_the_reason_says_so():
    good_inside, bad_inside = (0.2, 0.05, 0.35), (-0.3, -0.5, -0.1)
    label, reason = verdict((0.0, -0.1, 0.1), good_inside, 0.3, inverse_usable=False)
    assert label == NOT_SPECTRA and "ill-posed" in reason
    label, reason = verdict((0.25, 0.1, 0.4), bad_inside, 0.3, (SIG, NONE), inverse_usable=False)
    assert label == EXPLAINS and "ill-posed" in reason
    assert "ill-posed" not in verdict((0.25, 0.1, 0.4), bad_inside, 0.3)[1]


def test_the_inverse_is_ill_posed_only_where_the_ratio_reached_the_attenuation_clip():
    from spectral_fast.stress.gains import MAX_LOG_GAIN, ratio_log_gain

    blur_to_floor = ratio_log_gain(np.array([0.0, -0.5, -2.0, -4.0, -4.0, -4.0]))  # down to 1e-4 of the power
    assert inverse_ill_posed(blur_to_floor) and blur_to_floor.min() == pytest.approx(-MAX_LOG_GAIN)
    assert not inverse_ill_posed(ratio_log_gain(np.array([0.0, -0.5, -1.0, -1.2])))  # 6 % of the power: restorable
    assert not inverse_ill_posed(ratio_log_gain(np.array([0.0, 2.0, 4.0, 4.0])))  # added power: the inverse attenuates
    assert not inverse_ill_posed(np.zeros(0))


def test_the_null_is_the_mean_of_random_curves_of_the_spots_pixel_change_and_the_control_one_more():
    from spectral_fast.stress.gains import pixel_change

    inside = np.arange(N) < 30
    images, labels = textured_images(N, 0, blurred=inside)
    bands, edges = _spot_bands(images, {}, 1)
    centres, gain, weights = spot_log_gain(bands, inside, edges)
    res = counterfactual(hf_model, images, labels, inside, centres, gain, weights, n_boot=50, n_controls=2)
    curves = np.asarray([res["control_log_gain"], *res["null_log_gains"]])
    assert curves.shape == (3, len(gain)) and not np.allclose(curves[0], curves[1])
    assert [pixel_change(c, weights) for c in curves] == pytest.approx([pixel_change(gain, weights)] * 3, rel=1e-6)
    assert res["inverse_ill_posed"] == inverse_ill_posed(gain) == res["spot"]["inverse_ill_posed"]
    spot = res["spot"]
    assert spot["excess_outside"][0] == pytest.approx(spot["rise_outside"][0] - res["null"]["rise_outside"][0])


def test_a_reference_keeps_other_spots_out_of_the_comparison():
    n = 300  # 150 clean references: the blur's excess over random changes needs them (first test)
    inside, other = np.arange(n) < 75, (np.arange(n) >= 75) & (np.arange(n) < 150)
    images, labels = textured_images(n, 0, blurred=inside | other)
    bands, edges = _spot_bands(images, {}, 1)
    clean = ~(inside | other)
    _, against_all, _ = spot_log_gain(bands, inside, edges)
    _, against_clean, _ = spot_log_gain(bands, inside, edges, clean)
    # the other blurred images pull "everything outside" toward the spot: the clean reference shows the full ratio
    assert against_clean.mean() < against_all.mean() < 0
    res = counterfactual(hf_model, images, labels, inside, *spot_log_gain(bands, inside, edges, clean),
                         n_boot=100, reference=clean)  # fmt: skip
    assert res["n_outside"] == int(clean.sum()) and res["n_outside_tested"] == int(clean.sum())
    assert res["verdict"] == EXPLAINS
    with pytest.raises(InvalidInputError, match="reference"):
        spot_log_gain(bands, inside, edges, clean[:-1])
    with pytest.raises(InvalidInputError, match="its reference some others"):
        spot_log_gain(bands, inside, edges, inside)


def test_bad_spots_are_refused():
    images, labels = textured_images(20, 0)
    bands, edges = _spot_bands(images, {}, 1)
    with pytest.raises(InvalidInputError, match="some but not all"):
        spot_log_gain(bands, np.ones(20, bool), edges)
    with pytest.raises(InvalidInputError, match="bands"):
        spot_log_gain(bands[:, :-1], np.arange(20) < 5, edges)
    with pytest.raises(InvalidInputError, match="some but not all"):
        counterfactual(hf_model, images, labels, np.zeros(20, bool), band_centres(edges), np.zeros(len(edges) - 1))


def test_a_model_returning_the_wrong_number_of_scores_is_a_clear_error():
    images, labels = textured_images(20, 0)
    inside = np.arange(20) < 5
    with pytest.raises(InvalidInputError, match="expected 20 finite scores"):
        counterfactual(lambda x: np.zeros(3), images, labels, inside, np.array([0.1, 0.2]), np.zeros(2), batch_size=64)
