"""The demo's classifier as a stress-test model: saved by the demo, loaded by ``load_model``.

A demo run writes ``classifier.pkl`` (the trained :class:`BlobClassifier`,
pickled) and ``model.json`` beside it, a model description naming
:func:`load_classifier` as its factory::

    {"factory": "spectral_fast.demo.model:load_classifier", "files": {"path": "classifier.pkl"}}

so ``spectral_fast.stress.load_model("spectral-fast-demo/model.json")`` (or
``spectral-fast stress --model spectral-fast-demo/model.json``) scores images
with the very model behind ``predictions.csv``. Images are (N, H, W) in the
PNG's pixel units (0-255); values outside that range (e.g. after a filter)
are scored as they are. A pickle runs code when loaded: load only files you
made. See docs/method.md#stress-tests.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from spectral_fast.demo.classifier import BlobClassifier, candidate_features
from spectral_fast.errors import InvalidInputError

#: File names the demo writes into its output folder.
CLASSIFIER_FILE, DESCRIPTION_FILE = "classifier.pkl", "model.json"


class DemoModel:
    """``scores = DemoModel(classifier)(images)``: calibrated probability of a finding per image."""

    def __init__(self, classifier: BlobClassifier) -> None:
        self.classifier = classifier

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 3:
            raise InvalidInputError(f"images: expected (N, H, W), got shape {x.shape}")
        if len(x) == 0:
            return np.zeros(0)
        return self.classifier.predict_proba([candidate_features(image)[0] for image in x])


def save_classifier(classifier: BlobClassifier, out_dir: str | Path) -> Path:
    """Write ``classifier.pkl`` and ``model.json`` into ``out_dir``; return the description's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / CLASSIFIER_FILE, "wb") as fh:
        pickle.dump(classifier, fh, protocol=pickle.HIGHEST_PROTOCOL)
    description = {
        "factory": f"{__name__}:load_classifier",
        "files": {"path": CLASSIFIER_FILE},
        "batch_size": 64,
    }
    path = out / DESCRIPTION_FILE
    path.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return path


def load_classifier(path: str | Path) -> DemoModel:
    """The demo model pickled at ``path`` (a ``classifier.pkl`` that a demo run wrote)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"model: no such file {str(p)!r}")
    try:
        with open(p, "rb") as fh:
            classifier = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise InvalidInputError(f"model: cannot read the demo classifier {str(p)!r}: {exc}") from None
    if not isinstance(classifier, BlobClassifier):
        raise InvalidInputError(f"model: {str(p)!r} holds a {type(classifier).__name__}, not the demo's classifier")
    return DemoModel(classifier)
