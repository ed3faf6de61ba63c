"""The sensitivity spectrum: a fine-texture model is hurt by attenuating the top octave, a DC model by nothing."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from helpers.stress_models import hf_model, textured_images
from spectral_fast import InvalidInputError
from spectral_fast.stress.metrics import change_metrics, mean_interval
from spectral_fast.stress.sensitivity import COLUMNS, Change, plan_changes, sensitivity, spectrum_summary


def _mean_model(images):
    """Keys on the image mean only: the band filter keeps DC, so no band change may move it."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(images).mean(axis=(1, 2)) - 100.0) / 10.0))


def test_the_spectrum_shows_where_a_share_of_fine_texture_model_looks():
    """The model thresholds the *share* of power above 0.25 cycles/px: attenuating the coarse octaves, which hold
    most of the power, raises that share in negatives (false alarms); the octave below the cut barely matters."""
    images, labels = textured_images(60, 3)
    table = sensitivity(hf_model, images, labels, changes=plan_changes(64, 64, band_gains=(0.25,), ladder={}),
                        n_boot=100)  # fmt: skip
    assert table.columns == list(COLUMNS)
    band = table.sort("centre")
    assert band["base_accuracy"][0] > 0.9
    assert band["accuracy"][0] < 0.7 and band["accuracy_high"][0] < band["base_accuracy"][0]
    assert band["score_shift"][0] > 0
    below_cut = band.filter(pl.col("centre").is_between(0.15, 0.2))
    assert below_cut["accuracy"][0] > 0.9
    summary = spectrum_summary(table)
    assert summary[0]["significant"] and not summary[-2]["significant"]


def test_band_changes_never_move_a_model_of_the_mean():
    images, labels = textured_images(30, 4)
    table = sensitivity(_mean_model, images, labels, changes=plan_changes(64, 64, band_gains=(0.25, 4.0), ladder={}),
                        n_boot=50)  # fmt: skip
    assert np.allclose(table["flip_rate"].to_numpy(), 0.0)
    assert np.abs(table["score_shift"].to_numpy()).max() < 1e-4


def test_simulator_changes_run_in_the_native_dtype():
    images, labels = textured_images(12, 5)
    images = np.clip(images, 0, 255).round()
    changes = [
        Change("acquisition", "blur", 3.0),
        Change("acquisition", "noise", 8.0),
        Change("acquisition", "jpeg", 15),
    ]
    table = sensitivity(hf_model, images, labels, changes=changes, native_dtype="uint8", n_boot=20)
    blur = table.filter(pl.col("change") == "blur")
    assert blur["score_shift"][0] < 0  # blur removes fine texture
    assert table.height == 3


def test_bad_input_is_refused():
    with pytest.raises(InvalidInputError, match="unknown acquisition"):
        plan_changes(64, 64, ladder={"smudge": (1.0,)})
    with pytest.raises(InvalidInputError, match="N labels"):
        sensitivity(hf_model, np.zeros((3, 16, 16)), np.zeros(2))


def test_change_metrics_and_intervals():
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 20)
    base = np.where(y == 1, 0.9, 0.1)
    changed = base.copy()
    changed[:10] = 1 - changed[:10]
    m = change_metrics(y, base, changed, 0.5, rng, 200)
    assert m["base_accuracy"] == 1.0 and m["accuracy"] == pytest.approx(0.75)
    assert m["flip_rate"] == pytest.approx(0.25) and m["flip_rate_low"] > 0
    assert m["accuracy_change_high"] < 0
    est, lo, _hi = mean_interval(np.array([]), rng)
    assert np.isnan(est) and np.isnan(lo)
