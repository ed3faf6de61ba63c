"""The built-in demo: a classifier, its hidden acquisition failures, and spectral_fast finding them.

:func:`run_demo` plays every part of the story, honestly:

1. **Data.** Synthetic chest films (:mod:`spectral_fast.synth`), half of them
   with a nodule or an opacity. A training set is acquired cleanly; a test
   set is mostly clean, with a few slices acquired differently
   (:mod:`spectral_fast.acquire`: detector blur, heavy quantum noise, strong
   edge enhancement). Which image went through which setting is recorded in
   ``truth.csv`` and nowhere else: the file names do not tell.
2. **Classifier.** A small computer-aided-detection model, trained on the
   clean images only: bright-blob candidates from a difference of Gaussians,
   per-candidate filter responses and a pixel patch, a gradient-boosted tree
   per candidate, the image score is its most suspicious candidate, and
   that score is calibrated to a probability on held-out clean images. Its
   errors on the test set are whatever they turn out to be; the demo
   measures them per setting and never plants an error.
3. **spectral_fast, as a user runs it.** The test images are written as PNG
   files and the scores as a CSV, then ``spectral-fast profile`` and
   ``spectral-fast report`` run through :func:`spectral_fast.cli.main`, the
   same code as the command line. The report sees pixels, labels and scores,
   never the acquisition settings.
4. **Scoring the recovery.** The report's blind spots (clusters in
   ``blind_spots.csv``, images in ``assignments.parquet``) are compared with
   the recorded settings: for each blind spot, its dominant setting with
   precision (share of the blind spot's images from that setting) and recall
   (share of that setting's test images inside it).

Only findings of contrast at least :data:`MIN_CONTRAST` are used (the upper
part of the synth's range): with a few hundred training images a small
model then reaches about 85 % accuracy on clean films, so that its failures
under other acquisitions stand out. Subtler findings make every setting
hard and the acquisition effect gets lost in the model's general weakness.

Examples
--------
>>> from spectral_fast.demo import run_demo
>>> result = run_demo("demo-out", n=900, seed=0, quiet=True)  # doctest: +SKIP
>>> result.report_html, result.overall["precision"]  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import multiprocessing
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spectral_fast.errors import InvalidInputError

#: Side of the phantoms in pixels: small enough that a few thousand are made
#: in about a minute on two cores, large enough for 5-18 px nodules.
SIZE = 256
#: Acquisition settings of the test set (change, strength) besides "clean";
#: strengths are chosen so each one hurts the classifier (measured, printed).
SHIFTS: dict[str, tuple[str, float]] = {
    "blur": ("blur", 3.0),  # soft detector / heavy denoising: Gaussian MTF, sigma in px
    "noise": ("noise", 8.0),  # low dose: quantum noise, 8-bit grey levels at mid-grey
    "sharpen": ("sharpen", 1.0),  # strong edge enhancement: unsharp mask, amount 1
}
#: Share of each setting in the test set: most images are acquired like the training set.
TEST_MIX: dict[str, float] = {"clean": 0.7, "blur": 0.1, "noise": 0.1, "sharpen": 0.1}
#: Share of the ``n`` images used for training (all clean); the rest is the test set.
TRAIN_SHARE = 0.35
#: Share of the training images held out to calibrate the score to a probability.
CALIBRATION_SHARE = 0.25
#: Smallest finding contrast used (see the module docstring).
MIN_CONTRAST = 0.12
#: Default number of images (training + test) and seed.
DEFAULT_N = 1800
DEFAULT_SEED = 0


@dataclass(frozen=True)
class ImageSpec:
    """One image of the demo: where it goes, how it is acquired and what it shows."""

    index: int
    split: str  # "fit", "calibrate" or "test"
    setting: str  # "clean" or a key of SHIFTS
    finding: str | None  # None, "nodule" or "opacity"
    seed: int

    @property
    def name(self) -> str:
        """File name of a test image; it says nothing about the setting."""
        return f"cxr_{self.index:05d}.png"


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
        ``precision`` (see :func:`match_blind_spots`).
    overall : dict
        ``precision``, ``recall``, ``in_blind_spots``, ``top_are_shifts``,
        ``cluster_purity`` (see :func:`match_blind_spots`).
    timings : dict
        Seconds per stage and ``total``.
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


# ---------------------------------------------------------------- dataset


def plan_dataset(n: int, seed: int) -> list[ImageSpec]:
    """Split ``n`` images into fit / calibrate / test, with settings and findings.

    Parameters
    ----------
    n : int
        Number of images, at least 100.
    seed : int
        Seed of the whole demo; each image gets its own seed from it.

    Returns
    -------
    list of ImageSpec
        Training images first (all clean), then the test images, whose
        settings follow :data:`TEST_MIX` exactly (largest remainders) in a
        random order. Half of each split and setting carries a finding,
        alternately a nodule and an opacity.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 100:
        raise InvalidInputError(f"n must be an integer >= 100 (images for training and test), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(seed)
    n_train = int(round(n * TRAIN_SHARE))
    n_cal = int(round(n_train * CALIBRATION_SHARE))
    groups = [("fit", "clean", n_train - n_cal), ("calibrate", "clean", n_cal)]
    groups += [("test", s, c) for s, c in _apportion(n - n_train, TEST_MIX).items()]
    specs: list[tuple[str, str, str | None]] = []
    for split, setting, count in groups:
        positives = count // 2
        findings = [("nodule", "opacity")[i % 2] for i in range(positives)] + [None] * (count - positives)
        specs += [(split, setting, f) for f in findings]
    train = [s for s in specs if s[0] != "test"]
    test = [specs[len(train) + i] for i in rng.permutation(len(specs) - len(train))]
    seeds = rng.integers(0, 2**62, size=n)
    return [ImageSpec(i, sp, st, f, int(seeds[i])) for i, (sp, st, f) in enumerate(train + test)]


def _apportion(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Integer counts summing to ``total`` in the given shares (largest remainders)."""
    raw = {k: total * v / sum(shares.values()) for k, v in shares.items()}
    counts = {k: int(math.floor(v)) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: counts[k] - raw[k])[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def make_image(spec: ImageSpec) -> tuple[np.ndarray, tuple[float, float, float] | None]:
    """The acquired image of ``spec`` (uint8) and its finding as (row, col, radius) or None.

    A finding fainter than :data:`MIN_CONTRAST` is redrawn: the patient's
    seed is advanced deterministically until the finding is conspicuous.
    """
    from spectral_fast import acquire, synth

    rng = np.random.default_rng(spec.seed)
    seed = spec.seed
    while True:
        p = synth.make_phantom(SIZE, bits=8, finding=spec.finding, seed=seed)
        if p.finding is None or p.finding.contrast >= MIN_CONTRAST:
            break
        seed = int(rng.integers(0, 2**62))
    image = p.image
    if spec.setting != "clean":
        change, strength = SHIFTS[spec.setting]
        image = acquire.apply(image, change, strength, rng=rng)
    geometry = None if p.finding is None else (*p.finding.center, p.finding.radius)
    return image, geometry


def _prepare_one(task: tuple[ImageSpec, str | None]) -> tuple[int, np.ndarray, np.ndarray, tuple | None]:
    """Worker: make one image, write it as PNG when a folder is given, return its candidate features.

    Runs in a pool process, so the expensive parts (phantom, acquisition,
    PNG encoding, feature extraction) use every core.
    """
    spec, folder = task
    image, geometry = make_image(spec)
    if folder is not None:
        from PIL import Image

        Image.fromarray(image).save(os.path.join(folder, spec.name), optimize=False, compress_level=1)
    features, rows, cols = candidate_features(image)
    labels = candidate_labels(rows, cols, geometry)
    if spec.split == "fit":
        # The mirror image is another plausible chest (heart on the other side):
        # twice the training candidates for the price of one phantom.
        flipped, rows, cols = candidate_features(image[:, ::-1])
        mirrored = None if geometry is None else (geometry[0], image.shape[1] - 1 - geometry[1], geometry[2])
        features = np.concatenate([features, flipped])
        labels = np.concatenate([labels, candidate_labels(rows, cols, mirrored)])
    return spec.index, features, labels, geometry


def prepare_images(specs: list[ImageSpec], images_dir: Path, workers: int) -> dict[int, tuple]:
    """Make every image of ``specs`` in a process pool; write the test images into ``images_dir``.

    Returns
    -------
    dict
        ``index -> (candidate features, candidate labels, finding geometry)``.
    """
    images_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(s, str(images_dir) if s.split == "test" else None) for s in specs]
    if workers <= 1:
        return {r[0]: r[1:] for r in map(_prepare_one, tasks)}
    # "spawn": the parent may already run the Rust core's thread pool, which a fork would copy half-alive.
    ctx = multiprocessing.get_context("spawn")
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        return {r[0]: r[1:] for r in pool.map(_prepare_one, tasks, chunksize=16)}


# ---------------------------------------------------------------- classifier

#: Half-width of the pixel patch around each candidate (an 11 x 11 patch).
PATCH = 5
#: Candidates kept per detection scale (the strongest local maxima).
CANDIDATES_PER_SCALE = 40


def candidate_features(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bright-blob candidates of one image and their features.

    Candidates are the strongest local maxima of two differences of
    Gaussians (sigma 1.5 - 3 and 3 - 6 px), the classic first stage of
    nodule CAD. Each gets the three DoG responses, the Hessian eigenvalues
    at sigma 1.5, 3 and 5 (blob versus ridge: ribs and vessels are ridges),
    its local brightness against the image median, its position and the
    mean-removed 11 x 11 pixel patch around it.

    Returns
    -------
    features : (m, 134) float32
    rows, cols : (m,) int
        Candidate positions.
    """
    from scipy import ndimage

    x = image.astype(np.float32) / np.float32(255.0)
    h, w = x.shape
    g = {s: ndimage.gaussian_filter(x, s) for s in (1.5, 3.0, 5.0, 6.0, 10.0, 12.0)}
    dogs = [g[1.5] - g[3.0], g[3.0] - g[6.0], g[5.0] - g[10.0]]
    hessian = []
    for s in (1.5, 3.0, 5.0):
        # Finite differences of the already smoothed image: at these scales they
        # match Gaussian-derivative filters closely and cost a fraction.
        rr, rc, cc = _second_differences(g[s])
        half, mean = np.sqrt((rr - cc) ** 2 / 4 + rc * rc), (rr + cc) / 2
        hessian += [(mean + half) * s * s, (mean - half) * s * s]  # scale-normalised eigenvalues
    rows, cols = [], []
    for d in dogs[:2]:
        r, c = np.nonzero((d == ndimage.maximum_filter(d, size=7)) & (d > 0))
        top = np.argsort(-d[r, c], kind="stable")[:CANDIDATES_PER_SCALE]
        rows.append(r[top])
        cols.append(c[top])
    r, c = np.concatenate(rows), np.concatenate(cols)
    padded = np.pad(x, PATCH, mode="reflect")
    side = 2 * PATCH + 1
    patches = np.lib.stride_tricks.sliding_window_view(padded, (side, side))[r, c].reshape(len(r), -1)
    patches = patches - patches.mean(axis=1, keepdims=True)
    context = [g[12.0][r, c] - np.median(x), g[3.0][r, c] - g[12.0][r, c], r / h, np.abs(c / w - 0.5)]
    columns = [m[r, c] for m in dogs + hessian] + context
    return np.column_stack(columns + [patches]).astype(np.float32), r, c


def _second_differences(g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second derivatives (rows-rows, rows-cols, cols-cols) by central differences, edges replicated."""
    p = np.pad(g, 1, mode="edge")
    rr = p[2:, 1:-1] - 2 * g + p[:-2, 1:-1]
    cc = p[1:-1, 2:] - 2 * g + p[1:-1, :-2]
    rc = (p[2:, 2:] - p[2:, :-2] - p[:-2, 2:] + p[:-2, :-2]) / 4
    return rr, rc, cc


def candidate_labels(rows: np.ndarray, cols: np.ndarray, geometry: tuple | None) -> np.ndarray:
    """True for candidates on the finding (within its radius, at least 3 px, of its centre)."""
    if geometry is None:
        return np.zeros(len(rows), dtype=bool)
    r0, c0, radius = geometry
    return np.hypot(rows - r0, cols - c0) <= max(radius, 3.0)


@dataclass
class BlobClassifier:
    """Candidate model + calibration: image -> probability that it shows a finding."""

    model: Any  # sklearn HistGradientBoostingClassifier over candidates
    calibration: Any  # sklearn LogisticRegression over the logit of the raw image score

    def raw_score(self, features: np.ndarray) -> float:
        """Probability of the most suspicious candidate of one image."""
        return float(self.model.predict_proba(features)[:, 1].max()) if len(features) else 0.0

    def predict_proba(self, features: list[np.ndarray]) -> np.ndarray:
        """Calibrated probability of a finding, one per image."""
        raw = np.array([self.raw_score(f) for f in features])
        return self.calibration.predict_proba(_logit(raw)[:, None])[:, 1]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def train_classifier(
    fit: list[tuple[np.ndarray, np.ndarray]], calibrate: list[tuple[np.ndarray, int]], seed: int
) -> BlobClassifier:
    """Train the candidate model on ``fit`` and calibrate image scores on ``calibrate``.

    Parameters
    ----------
    fit : list of (features, candidate labels)
        One entry per clean training image.
    calibrate : list of (features, image label)
        Held-out clean images; a logistic regression on the logit of the
        image's raw score makes it a probability (Platt scaling), so the
        report's default threshold of 0.5 is a sensible operating point.
    seed : int
        Seed of the tree model.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    X = np.concatenate([f for f, _ in fit])
    y = np.concatenate([lab for _, lab in fit])
    model = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.1, l2_regularization=1.0, min_samples_leaf=40, random_state=seed
    ).fit(X, y)
    clf = BlobClassifier(model, None)
    raw = np.array([clf.raw_score(f) for f, _ in calibrate])
    labels = np.array([lab for _, lab in calibrate])
    clf.calibration = LogisticRegression().fit(_logit(raw)[:, None], labels)
    return clf


# ---------------------------------------------------------------- evaluation


def setting_errors(specs: list[ImageSpec], labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> list[dict]:
    """Measured error of the classifier per test setting, at the report's threshold."""
    settings = np.array([s.setting for s in specs])
    wrong = (scores >= threshold) != labels.astype(bool)
    rows = []
    for name in TEST_MIX:
        m = settings == name
        pos, neg = m & (labels == 1), m & (labels == 0)
        rows.append(
            {
                "setting": name,
                "n": int(m.sum()),
                "errors": int(wrong[m].sum()),
                "error_rate": float(wrong[m].mean()) if m.any() else float("nan"),
                "false_negative_rate": float(wrong[pos].mean()) if pos.any() else float("nan"),
                "false_positive_rate": float(wrong[neg].mean()) if neg.any() else float("nan"),
            }
        )
    return rows


def match_blind_spots(
    spots: list[dict], cluster_of: dict[str, int], setting_of: dict[str, str]
) -> tuple[list[dict], list[dict], dict]:
    """Compare the report's blind spots with the recorded acquisition settings.

    Parameters
    ----------
    spots : list of dict
        Blind spots in rank order, each with ``rank`` and ``clusters``
        (cluster numbers joined by ``+``, as in ``blind_spots.csv``).
    cluster_of : dict
        Image id -> cluster, from ``assignments.parquet``.
    setting_of : dict
        Image id -> true setting ("clean" or a planted shift) of every test image.

    Returns
    -------
    per_spot : list of dict
        The input rows plus ``counts`` (images per setting inside),
        ``dominant`` (the most frequent setting), ``precision`` (its share
        of the blind spot) and ``recall`` (share of that setting's images
        inside this blind spot).
    per_shift : list of dict
        For each planted shift: ``recall`` (share of its images inside any
        blind spot), ``rank`` of the blind spot holding most of them (None
        when none does) and ``precision`` (that blind spot's share made of
        this shift: below 1 when the report merged it with clean images or
        with another shift).
    overall : dict
        ``precision``: share of blind-spot images acquired with any shift;
        ``recall``: share of shifted images inside blind spots;
        ``in_blind_spots``: their number; ``top_are_shifts``: blind spots
        exist and the first ``len(SHIFTS)`` of them are each dominated by a
        planted shift, not by clean images; ``cluster_purity``: share of
        all test images whose cluster's majority setting is their own (do
        the clusters separate the settings, before any error is looked at).
    """
    totals = Counter(setting_of.values())
    members_of = [{i for i in setting_of if cluster_of.get(i) in _clusters(s)} for s in spots]
    per_spot = []
    for spot, members in zip(spots, members_of):
        # Most frequent first; a tie goes to the setting listed first in TEST_MIX
        # ("clean" before any shift, so a tie never flatters the recovery).
        order = list(TEST_MIX)
        counts = sorted(Counter(setting_of[i] for i in members).items(), key=lambda kv: (-kv[1], order.index(kv[0])))
        dominant, hits = counts[0] if counts else ("none", 0)
        per_spot.append(
            {
                **spot,
                "counts": dict(counts),
                "dominant": dominant,
                "precision": hits / len(members) if members else float("nan"),
                "recall": hits / totals[dominant] if totals.get(dominant) else float("nan"),
            }
        )
    per_shift = []
    for shift in SHIFTS:
        inside = [sum(setting_of[i] == shift for i in m) for m in members_of]
        best = int(np.argmax(inside)) if inside and max(inside) > 0 else None
        per_shift.append(
            {
                "setting": shift,
                "recall": sum(inside) / totals[shift] if totals[shift] else float("nan"),
                "rank": None if best is None else per_spot[best]["rank"],
                "precision": float("nan") if best is None else inside[best] / len(members_of[best]),
            }
        )
    union = set().union(*members_of) if members_of else set()
    shifted = {i for i, s in setting_of.items() if s != "clean"}
    top = [s["dominant"] for s in per_spot[: len(SHIFTS)]]
    overall = {
        "precision": len(union & shifted) / len(union) if union else float("nan"),
        "recall": len(union & shifted) / len(shifted) if shifted else float("nan"),
        "in_blind_spots": len(union),
        "top_are_shifts": bool(top) and all(d in SHIFTS for d in top),
        "cluster_purity": _purity(cluster_of, setting_of),
    }
    return per_spot, per_shift, overall


def _clusters(spot: dict) -> set[int]:
    return {int(c) for c in str(spot["clusters"]).split("+")}


def _purity(cluster_of: dict[str, int], setting_of: dict[str, str]) -> float:
    """Share of images whose cluster's most frequent setting is their own setting."""
    by_cluster: dict[int, Counter] = {}
    for i, s in setting_of.items():
        if i in cluster_of:
            by_cluster.setdefault(cluster_of[i], Counter())[s] += 1
    n = sum(sum(c.values()) for c in by_cluster.values())
    return sum(c.most_common(1)[0][1] for c in by_cluster.values()) / n if n else float("nan")


# ---------------------------------------------------------------- the run


def _write_predictions(path: Path, specs: list[ImageSpec], labels: np.ndarray, scores: np.ndarray) -> None:
    """What a user has: image, true label, model score. No setting."""
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["image", "finding", "score"])
        for s, y, p in zip(specs, labels, scores):
            out.writerow([s.name, int(y), f"{p:.6f}"])


def _write_truth(path: Path, specs: list[ImageSpec]) -> None:
    """What only the demo knows: how each test image was acquired."""
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["image", "setting", "change", "strength", "finding_kind"])
        for s in specs:
            change, strength = SHIFTS.get(s.setting, ("", ""))
            out.writerow([s.name, s.setting, change, strength, s.finding or ""])


def _cli(argv: list[str], quiet: bool) -> None:
    """Run a ``spectral-fast`` subcommand through the real CLI entry point."""
    from spectral_fast.cli import main

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        code = main(argv)
    if code != 0:
        raise RuntimeError(f"`spectral-fast {' '.join(argv)}` exited with code {code}")


def _read_report(report_dir: Path) -> tuple[list[dict], dict[str, int]]:
    import polars as pl

    spots = pl.read_csv(report_dir / "blind_spots.csv", schema_overrides={"clusters": pl.Utf8})
    spots = spots.filter(pl.col("finding") == "finding").sort("rank")
    assign = pl.read_parquet(report_dir / "assignments.parquet")
    rows = spots.select("rank", "clusters", "n", "error_rate", "lift", "description").to_dicts()
    return rows, dict(zip(assign["id"].to_list(), assign["cluster"].to_list()))


def run_demo(
    out_dir: str | Path = "spectral-fast-demo",
    n: int = DEFAULT_N,
    seed: int = DEFAULT_SEED,
    quiet: bool = False,
    workers: int | None = None,
) -> DemoResult:
    """Run the whole demo (module docstring) and return what it found.

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
    _write_predictions(predictions, test, labels, scores)
    _write_truth(truth, test)
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
    argv = ["report", str(profiles), "--predictions", str(predictions), "--id-col", "image", "--label-col", "finding",
            "--score-col", "score", "-o", str(report_dir), "--images", str(images_dir), "--seed", str(seed)]  # fmt: skip
    say("$ spectral-fast " + " ".join(argv))
    _cli(argv, quiet)
    timings["report"] = time.perf_counter() - t

    spots, cluster_of = _read_report(report_dir)
    setting_of = {s.name: s.setting for s in test}
    per_spot, per_shift, overall = match_blind_spots(spots, cluster_of, setting_of)
    timings["total"] = time.perf_counter() - t0
    result = DemoResult(
        out, report_dir / "report.html", images_dir, predictions, profiles, truth, len(specs) - len(test), len(test),
        settings, per_spot, per_shift, overall, timings,
    )  # fmt: skip
    if not quiet:
        print(summary_text(result), flush=True)
    return result


def summary_text(result: DemoResult) -> str:
    """The closing note: blind spots against the truth, recovery, run time, where the report is."""
    lines = ["", "Blind spots found by the report (it saw pixels, labels and scores; no acquisition labels):"]
    if not result.blind_spots:
        lines.append("  none: no cluster had significantly more errors than the rest")
    for s in result.blind_spots:
        inside = ", ".join(f"{k} {v}" for k, v in s["counts"].items())
        lines.append(
            f"  #{s['rank']} clusters {s['clusters']}: {s['n']} images, error {s['error_rate']:.1%} (lift {s['lift']:.2f})"
            f"; truth: {inside}"
        )
        lines.append(f"      mostly {s['dominant']}: precision {s['precision']:.2f}, recall {s['recall']:.2f}")
    lines.append("Planted shifts (precision: share of the blind spot holding it that is this shift; recall: share caught):")
    for p in result.planted:
        change, strength = SHIFTS[p["setting"]]
        where = f"blind spot #{p['rank']}" if p["rank"] is not None else "in no blind spot"
        lines.append(
            f"  {p['setting']:8s} ({change} {strength:g}): {where}, precision {p['precision']:.2f}, recall {p['recall']:.2f}"
        )
    o = result.overall
    lines.append(
        f"Overall: {o['in_blind_spots']} images in blind spots; precision {o['precision']:.2f} (share acquired with "
        f"a shift), recall {o['recall']:.2f} (share of shifted images caught); top blind spots are planted shifts: "
        f"{'yes' if o['top_are_shifts'] else 'no'}; clusters separate the settings with purity {o['cluster_purity']:.2f}"
    )
    tm = result.timings
    lines.append(
        f"Run time {tm['total']:.0f} s (images {tm['images']:.0f} s, classifier {tm['classifier']:.0f} s, "
        f"profile {tm['profile']:.0f} s, report {tm['report']:.0f} s)"
    )
    lines.append(f"Report: {result.report_html.resolve()}")
    return "\n".join(lines)
