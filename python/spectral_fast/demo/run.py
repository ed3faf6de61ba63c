"""The demo's run: images, classifier, ``spectral-fast profile`` and ``report`` as a user runs them, truth scoring."""

from __future__ import annotations

import contextlib
import io
import os
import time
from pathlib import Path

import numpy as np

from spectral_fast.demo.classifier import train_classifier
from spectral_fast.demo.images import prepare_images
from spectral_fast.demo.model import save_classifier
from spectral_fast.demo.plan import (
    DEFAULT_N,
    DEFAULT_SEED,
    SIZE,
    TEST_MIX,
    plan_dataset,
)
from spectral_fast.demo.records import read_report, write_predictions, write_truth
from spectral_fast.demo.result import DemoResult
from spectral_fast.demo.summary import summary_text
from spectral_fast.demo.truth import match_blind_spots, setting_errors


def _cli(argv: list[str], quiet: bool) -> None:
    """Run a ``spectral-fast`` subcommand through the real CLI entry point."""
    from spectral_fast.cli import main

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        code = main(argv)
    if code != 0:
        raise RuntimeError(f"`spectral-fast {' '.join(argv)}` exited with code {code}")


def run_demo(
    out_dir: str | Path = "spectral-fast-demo",
    n: int = DEFAULT_N,
    seed: int = DEFAULT_SEED,
    quiet: bool = False,
    workers: int | None = None,
) -> DemoResult:
    """Run the whole demo (:mod:`spectral_fast.demo`) and return what it found.

    Parameters
    ----------
    out_dir : path, default "spectral-fast-demo"
        Folder for ``images/``, ``predictions.csv``, ``truth.csv``,
        ``profiles.parquet`` and ``report/`` (created; earlier demo files
        in it are replaced).
    n : int, default 1800
        Images in all, training (35 %) plus test.
    seed : int, default 0
        Seed of everything: same ``n`` and ``seed``, same images, model and report.
    quiet : bool, default False
        Print nothing (the result holds every number).
    workers : int, optional
        Processes that make the images; default: every core.

    Returns
    -------
    DemoResult

    Notes
    -----
    The images are made in ``spawn`` worker processes; as with any
    multiprocessing code, a script that calls this must do so under
    ``if __name__ == "__main__":``.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    out = Path(out_dir)
    images_dir, report_dir = out / "images", out / "report"
    specs = plan_dataset(n, seed)
    workers = workers or os.cpu_count() or 1
    if images_dir.exists():  # a rerun must not profile a previous run's images
        for old in images_dir.glob("cxr_*.png"):
            old.unlink()
    test = [s for s in specs if s.split == "test"]
    say(f"spectral_fast demo: {len(specs)} synthetic chest X-rays ({SIZE} px), seed {seed}, {workers} worker(s)")
    say(f"  training set: {len(specs) - len(test)} clean images; test set: {len(test)} images, "
        + ", ".join(f"{int(round(100 * v))}% {k}" for k, v in TEST_MIX.items()))  # fmt: skip

    prepared = prepare_images(specs, images_dir, workers)
    timings["images"] = time.perf_counter() - t0

    t = time.perf_counter()
    fit = [(prepared[s.index][0], prepared[s.index][1]) for s in specs if s.split == "fit"]
    cal = [(prepared[s.index][0], int(s.finding is not None)) for s in specs if s.split == "calibrate"]
    clf = train_classifier(fit, cal, seed)
    labels = np.array([int(s.finding is not None) for s in test])
    scores = clf.predict_proba([prepared[s.index][0] for s in test])
    settings = setting_errors(test, labels, scores)
    out.mkdir(parents=True, exist_ok=True)
    predictions, truth = out / "predictions.csv", out / "truth.csv"
    write_predictions(predictions, test, labels, scores)
    write_truth(truth, test)
    model = save_classifier(clf, out)
    timings["classifier"] = time.perf_counter() - t
    say("  classifier (blob CAD, gradient-boosted trees) trained on clean images; test error by acquisition setting:")
    for row in settings:
        say(f"    {row['setting']:8s} n={row['n']:4d}  error {row['error_rate']:5.1%}  "
            f"(missed findings {row['false_negative_rate']:5.1%}, false alarms {row['false_positive_rate']:5.1%})")  # fmt: skip

    t = time.perf_counter()
    profiles = out / "profiles.parquet"
    argv = ["profile", str(images_dir), "-o", str(profiles), "--overwrite"] + (["--quiet"] if quiet else [])
    say("$ spectral-fast " + " ".join(argv))
    _cli(argv, quiet)
    timings["profile"] = time.perf_counter() - t
    t = time.perf_counter()
    argv = ["report", str(profiles), "--predictions", str(predictions), "--pred-id-col", "image",
            "--label-col", "finding", "--score-col", "score", "-o", str(report_dir), "--overwrite",
            "--images", str(images_dir), "--seed", str(seed)] + (["--quiet"] if quiet else [])  # fmt: skip
    say("$ spectral-fast " + " ".join(argv))
    _cli(argv, quiet)
    timings["report"] = time.perf_counter() - t

    spots, cluster_of = read_report(report_dir)
    per_spot, per_shift, overall = match_blind_spots(spots, cluster_of, {s.name: s.setting for s in test})
    timings["total"] = time.perf_counter() - t0
    result = DemoResult(
        out, report_dir / "report.html", images_dir, predictions, profiles, truth, len(specs) - len(test), len(test),
        settings, per_spot, per_shift, overall, timings, model,
    )  # fmt: skip
    say(summary_text(result))
    return result
