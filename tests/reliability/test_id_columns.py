"""``id_col`` means one thing in analyze, predict and monitor: the predictions' id column; old calls still work, warned."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from helpers.profile_tables import make_profiles
from spectral_fast.analysis.clustering import SpectralClusters
from spectral_fast.errors import InvalidInputError
from spectral_fast.reliability.monitoring import monitor
from spectral_fast.reliability.reference_set import build_reference
from spectral_fast.reliability.risk import id_columns, predict


@pytest.fixture(scope="module")
def fitted():
    table, _, error = make_profiles(400, 0, 0.25)
    score = np.clip(0.4 + 0.15 * error + np.random.default_rng(1).normal(0, 0.2, len(error)), 0.01, 0.99)
    model = SpectralClusters(4, method="kmeans", random_state=0).fit(table)
    reference = build_reference(table, model, {"y": error}, scores={"y": score}, score_cols={"y": "p"})
    return model, reference


def _batch():
    """A batch whose profile ids are in ``file`` and whose predictions' ids are in ``image``."""
    table, _, _ = make_profiles(60, 3, 0.3)
    table = table.rename({"id": "file"})
    preds = pl.DataFrame({"image": table["file"], "p": np.linspace(0.1, 0.9, table.height)})
    return table, preds


def test_the_new_spelling_matches_analyze_and_does_not_warn(fitted):
    table, preds = _batch()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = predict(fitted, table, profile_id_col="file", predictions=preds, id_col="image")
        mon = monitor(fitted, table, profile_id_col="file")
    assert res.images["id"].to_list() == table["file"].to_list()
    assert res.images["risk_combined_y"].null_count() == 0
    assert mon.summary["n"] == table.height


def test_old_calls_keep_their_meaning_with_a_deprecation_warning(fitted):
    table, preds = _batch()
    new = predict(fitted, table, profile_id_col="file", predictions=preds, id_col="image")
    with pytest.warns(DeprecationWarning, match="id_col='image' instead of prediction_id_col.*profile_id_col='file'"):
        old = predict(fitted, table, id_col="file", predictions=preds, prediction_id_col="image")
    assert old.images.equals(new.images)
    with pytest.warns(DeprecationWarning, match="profile_id_col='file'"):
        old = predict(fitted, table, id_col="file")  # no predictions: id_col can only be the profiles'
    assert old.images["id"].to_list() == table["file"].to_list()
    with pytest.warns(DeprecationWarning, match="profile_id_col='file'"):
        mon = monitor(fitted, table, id_col="file")
    assert mon.summary["n"] == table.height


def test_id_column_rules():
    preds = pl.DataFrame({"image": ["a"], "p": [0.5]})
    assert id_columns(None, None, None, None) == ("id", "id")
    assert id_columns("image", None, None, preds) == ("id", "image")
    assert id_columns("image", "file", None, preds) == ("file", "image")
    with pytest.warns(DeprecationWarning):
        assert id_columns("file", None, None, preds) == ("file", "id")  # not a predictions column: the old meaning
    with pytest.warns(DeprecationWarning):
        assert id_columns(None, "file", "image", preds) == ("file", "image")
    with pytest.raises(InvalidInputError, match="prediction_id_col is the old spelling"):
        id_columns("image", "file", "image", preds)
