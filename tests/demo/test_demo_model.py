"""The demo's classifier as a stress model: saved, described, loaded by load_model, same scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spectral_fast.demo import BlobClassifier, candidate_features, make_image, plan_dataset, prepare_one
from spectral_fast.demo.model import load_classifier, save_classifier
from spectral_fast.errors import InvalidInputError
from spectral_fast.stress.models import load_model


@pytest.fixture(scope="module")
def small_demo_model(tmp_path_factory):
    """A demo classifier (a short tree model on a few demo images), saved as a demo run saves it, and test images.

    The demo's own training (200 trees) is exercised by the end-to-end demo
    test; here only saving, describing, loading and scoring matter.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    specs = plan_dataset(100, 3)
    prepared = [prepare_one((s, None)) for s in specs if s.split == "fit"][:6]
    x = np.concatenate([p[1] for p in prepared])
    y = np.concatenate([p[2] for p in prepared])
    y[:2] = [True, False]  # both classes, whatever the few images hold
    trees = HistGradientBoostingClassifier(max_iter=5, random_state=3).fit(x, y)
    clf = BlobClassifier(trees, None)
    raw = clf.raw_scores([p[1] for p in prepared])
    clf.calibration = LogisticRegression().fit(np.log(raw / (1 - raw + 1e-9) + 1e-9)[:, None], [0, 1, 0, 1, 0, 1])
    description = save_classifier(clf, tmp_path_factory.mktemp("demo"))
    images = np.stack([make_image(s)[0] for s in specs if s.split == "test"][:4])
    return clf, description, images


def test_the_saved_description_loads_the_model_behind_the_demos_scores(small_demo_model):
    clf, description, images = small_demo_model
    assert json.loads(description.read_text())["factory"] == "spectral_fast.demo.model:load_classifier"
    model = load_model(description)
    expected = clf.predict_proba([candidate_features(im)[0] for im in images])
    scores = model(images.astype(np.float32))
    np.testing.assert_allclose(scores, expected, rtol=1e-12)
    assert scores.shape == (4,) and np.all((scores >= 0) & (scores <= 1))
    assert model(images[:0].astype(np.float32)).shape == (0,)


def test_a_missing_or_foreign_pickle_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match="no such file"):
        load_classifier(tmp_path / "classifier.pkl")
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    with pytest.raises(InvalidInputError, match="cannot read the demo classifier"):
        load_classifier(tmp_path / "bad.pkl")
    import pickle

    (tmp_path / "dict.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(InvalidInputError, match="not the demo's classifier"):
        load_classifier(tmp_path / "dict.pkl")
