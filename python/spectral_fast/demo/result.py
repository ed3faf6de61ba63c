"""What a demo run did and found: :class:`DemoResult`, shared by the run and its closing note."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class DemoResult:
    """What :func:`run_demo` did and found.

    Attributes
    ----------
    out_dir, report_html, images_dir, predictions, profiles, truth : Path
        The demo folder, the report page, the test PNGs, the classifier's
        predictions, the profile table and the recorded settings.
    n_train, n_test : int
        Images used to train (incl. calibration) and to test.
    settings : list of dict
        Per test setting: ``setting``, ``n``, ``errors``, ``error_rate``,
        ``false_negative_rate``, ``false_positive_rate``.
    blind_spots : list of dict
        Per blind spot of the report, in its rank order: ``rank``,
        ``clusters``, ``n``, ``error_rate``, ``lift``, ``dominant``,
        ``precision``, ``recall``, ``counts`` (images per setting).
    planted : list of dict
        Per planted shift: ``setting``, ``recall``, ``rank`` and
        ``precision`` (see :func:`~spectral_fast.demo.truth.match_blind_spots`).
    overall : dict
        ``precision``, ``recall``, ``in_blind_spots``, ``top_are_shifts``,
        ``cluster_purity`` (see :func:`~spectral_fast.demo.truth.match_blind_spots`).
    timings : dict
        Seconds per stage and ``total``.
    model : Path or None
        The classifier's model description (``model.json``, beside
        ``classifier.pkl``): ``spectral_fast.stress.load_model(model)``
        scores images with it (:mod:`spectral_fast.demo.model`).
    """

    out_dir: Path
    report_html: Path
    images_dir: Path
    predictions: Path
    profiles: Path
    truth: Path
    n_train: int
    n_test: int
    settings: list[dict] = field(default_factory=list)
    blind_spots: list[dict] = field(default_factory=list)
    planted: list[dict] = field(default_factory=list)
    overall: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    model: Path | None = None
