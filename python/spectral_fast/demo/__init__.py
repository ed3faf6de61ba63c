"""The built-in demo: a classifier, its hidden acquisition failures, and spectral_fast finding them.

:func:`run_demo` plays every part of the story, honestly:

1. **Data** (:mod:`~spectral_fast.demo.plan`, :mod:`~spectral_fast.demo.images`).
   Synthetic chest films (:mod:`spectral_fast.simulate.phantom`), half of them with a
   nodule or an opacity. A training set is acquired cleanly; a test set is
   mostly clean, with a few slices acquired differently
   (:mod:`spectral_fast.simulate.acquire`: detector blur, heavy quantum noise, strong
   edge enhancement). Which image went through which setting is recorded in
   ``truth.csv`` and nowhere else: the file names do not tell.
2. **Classifier** (:mod:`~spectral_fast.demo.classifier`). A small
   computer-aided-detection model trained on the clean images only. Its
   errors on the test set are whatever they turn out to be; the demo
   measures them per setting and never plants an error. It is saved as
   ``classifier.pkl`` with a model description ``model.json``
   (:mod:`~spectral_fast.demo.model`), so ``spectral_fast.stress.load_model``
   can stress-test the same model.
3. **spectral_fast, as a user runs it** (:mod:`~spectral_fast.demo.run`).
   The test images are written as PNG files and the scores as a CSV
   (:mod:`~spectral_fast.demo.records`), then ``spectral-fast profile`` and
   ``spectral-fast report`` run through :func:`spectral_fast.cli.main`, the
   same code as the command line. The report sees pixels, labels and scores,
   never the acquisition settings.
4. **Scoring the recovery** (:mod:`~spectral_fast.demo.truth`,
   :mod:`~spectral_fast.demo.summary`). The report's blind spots (clusters
   in ``blind_spots.csv``, images in ``assignments.parquet``) are compared
   with the recorded settings: for each blind spot, its dominant setting
   with precision (share of the blind spot's images from that setting) and
   recall (share of that setting's test images inside it).

Examples
--------
>>> from spectral_fast.demo import run_demo
>>> result = run_demo("demo-out", n=900, seed=0, quiet=True)  # doctest: +SKIP
>>> result.report_html, result.overall["precision"]  # doctest: +SKIP
"""

from __future__ import annotations

from spectral_fast.demo.classifier import (
    BlobClassifier,
    candidate_features,
    candidate_labels,
    train_classifier,
)
from spectral_fast.demo.images import make_image, prepare_images, prepare_one
from spectral_fast.demo.model import DemoModel, load_classifier, save_classifier
from spectral_fast.demo.plan import (
    CALIBRATION_SHARE,
    DEFAULT_N,
    DEFAULT_SEED,
    MIN_CONTRAST,
    SHIFTS,
    SIZE,
    TEST_MIX,
    TRAIN_SHARE,
    ImageSpec,
    plan_dataset,
)
from spectral_fast.demo.result import DemoResult
from spectral_fast.demo.run import run_demo
from spectral_fast.demo.summary import summary_text
from spectral_fast.demo.truth import match_blind_spots, setting_errors

__all__ = [
    "CALIBRATION_SHARE",
    "DEFAULT_N",
    "DEFAULT_SEED",
    "MIN_CONTRAST",
    "SHIFTS",
    "SIZE",
    "TEST_MIX",
    "TRAIN_SHARE",
    "BlobClassifier",
    "DemoModel",
    "DemoResult",
    "ImageSpec",
    "candidate_features",
    "candidate_labels",
    "load_classifier",
    "make_image",
    "match_blind_spots",
    "plan_dataset",
    "prepare_images",
    "prepare_one",
    "run_demo",
    "save_classifier",
    "setting_errors",
    "summary_text",
    "train_classifier",
]
