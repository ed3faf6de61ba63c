"""The demo's classifier: a small computer-aided-detection model for nodules and opacities.

Bright-blob candidates from a difference of Gaussians, per-candidate filter
responses and a pixel patch, a gradient-boosted tree per candidate; the
image score is its most suspicious candidate, calibrated to a probability
on held-out clean images. It is trained on cleanly acquired images only, and
its errors on other acquisitions are whatever they turn out to be: nothing
here knows about acquisition settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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

    def raw_scores(self, features: list[np.ndarray]) -> np.ndarray:
        """Probability of each image's most suspicious candidate (0 for an image without candidates).

        One model call for all images' candidates: a call per image paid the
        model's thread start-up a thousand times over, which on a busy
        machine was most of the demo's classifier time.
        """
        counts = np.array([len(f) for f in features], dtype=np.intp)
        scores = np.zeros(len(features))
        has = counts > 0
        if has.any():
            proba = self.model.predict_proba(np.concatenate([f for f in features if len(f)]))[:, 1]
            starts = np.cumsum(counts[has]) - counts[has]
            scores[has] = np.maximum.reduceat(proba, starts)
        return scores

    def predict_proba(self, features: list[np.ndarray]) -> np.ndarray:
        """Calibrated probability of a finding, one per image (``features``: one array per image)."""
        return self.calibration.predict_proba(_logit(self.raw_scores(features))[:, None])[:, 1]


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
    raw = clf.raw_scores([f for f, _ in calibrate])
    labels = np.array([lab for _, lab in calibrate])
    clf.calibration = LogisticRegression().fit(_logit(raw)[:, None], labels)
    return clf
