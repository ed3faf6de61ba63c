"""Statistics shared by the analysis and reliability layers: intervals, AUROC, tests, multiple testing."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054


#: Tables larger than this are analysed at archive scale (``docs/method.md#archive-scale``): the clustering
#: is fitted on a seeded sample of this many images and every image assigned, and permutation tests draw
#: their counts per cluster (:func:`permuted_counts`) instead of shuffling images. Smaller tables: unchanged.
ARCHIVE_SCALE_N = 10_000

#: Above this many images a cluster's AUROC interval uses the Hanley-McNeil
#: normal approximation instead of the bootstrap (which would re-rank it 500 times).
BOOTSTRAP_MAX_N = 5000
#: Resampled values :func:`resampled_aurocs` holds at once (resamples x images): bounds its memory.
BOOTSTRAP_BLOCK = 1 << 20


def wilson_interval(k: np.ndarray | int, n: np.ndarray | int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion ``k / n`` (NaN where n = 0)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    lo, hi = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    # at k = 0 or k = n the bound equals 0 or 1 up to rounding (5e-17): make it exact
    return np.where(lo < 1e-12, 0.0, lo), np.where(hi > 1.0 - 1e-12, 1.0, hi)


def auroc(truth: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count one half); NaN with one class."""
    from scipy.stats import rankdata

    truth = np.asarray(truth, dtype=bool)
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def bootstrap_auroc(
    truth: np.ndarray, score: np.ndarray, rng: np.random.Generator, n_boot: int = 500
) -> tuple[float, float]:
    """Percentile 95 % bootstrap interval of the AUROC (resamples lacking a class are skipped)."""
    truth = np.asarray(truth, dtype=bool)
    if truth.all() or not truth.any():
        return float("nan"), float("nan")
    n = len(truth)
    if n > BOOTSTRAP_MAX_N:
        return hanley_mcneil_interval(truth, score)
    score = np.asarray(score, dtype=np.float64)
    if np.isnan(score).any():  # every resample's AUROC would be NaN
        return float("nan"), float("nan")
    values = resampled_aurocs(truth, score, rng, n_boot)
    if len(values) < 20:
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def resampled_aurocs(truth: np.ndarray, score: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """AUROC of each of ``n_boot`` resamples with replacement that hold both classes, in draw order.

    Each resample is ``rng.integers(0, n, n)``, drawn in blocks of
    :data:`BOOTSTRAP_BLOCK` values (the same draws as one call per resample).
    Its AUROC is the Mann-Whitney count from how often it drew each image,
    over the tie groups of the scores sorted once, instead of ranking every
    resample; the counts are whole and half numbers, so the values equal
    :func:`auroc` of each resample exactly.
    """
    n = len(truth)
    order = np.argsort(score, kind="stable")
    ranked = score[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # first image of each tie group
    positive = np.asarray(truth, dtype=bool)[order]
    per_block = max(1, BOOTSTRAP_BLOCK // n)
    out = []
    for first in range(0, n_boot, per_block):
        b = min(per_block, n_boot - first)
        draws = rng.integers(0, n, (b, n)) + n * np.arange(b)[:, None]
        times = np.bincount(draws.ravel(), minlength=b * n).reshape(b, n)[:, order]
        pos = np.add.reduceat(np.where(positive, times, 0), starts, axis=1)
        neg = np.add.reduceat(np.where(positive, 0, times), starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg  # negatives scored lower than the group
        twice_u = (pos * (2 * below + neg)).sum(axis=1)
        n_pos = pos.sum(axis=1)
        n_neg = n - n_pos
        both = (n_pos > 0) & (n_neg > 0)
        out.append((twice_u[both] / 2.0) / (n_pos[both] * n_neg[both]))
    return np.concatenate(out) if out else np.zeros(0)


def hanley_mcneil_interval(truth: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """Normal-approximation 95 % interval of the AUROC (Hanley & McNeil 1982), for large clusters."""
    a = auroc(truth, score)
    n1, n2 = int(truth.sum()), int((~truth).sum())
    q1, q2 = a / (2.0 - a), 2.0 * a * a / (1.0 + a)
    se = math.sqrt(max(a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a), 0.0) / (n1 * n2))
    return max(0.0, a - Z95 * se), min(1.0, a + Z95 * se)


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1): ``scipy.stats.false_discovery_control``.

    Any NaN makes every adjusted value NaN (the family is undefined); values a
    rounding above 1 (e.g. from a survival function) count as 1.
    """
    from scipy.stats import false_discovery_control

    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    if np.isnan(p).any():
        return np.full(p.shape, np.nan)
    return np.asarray(false_discovery_control(np.clip(p, 0.0, 1.0), method="bh"), dtype=np.float64)


def enrichment_p(errors_in: int, n_in: int, errors_total: int, n_total: int) -> float:
    """One-sided hypergeometric p-value: this many or more errors in a group of n_in."""
    from scipy.stats import hypergeom

    if n_in == 0:
        return 1.0
    return float(hypergeom.sf(errors_in - 1, n_total, errors_total, n_in))


def bernoulli_llr(errors_in: int, n_in: int, errors_total: int, n_total: int) -> float:
    """Kulldorff's Bernoulli log-likelihood ratio for an elevated rate inside a group (0 if not elevated)."""
    c, n, C, N = errors_in, n_in, errors_total, n_total
    if n == 0 or n == N or c / n <= (C - c) / (N - n):
        return 0.0

    def ll(k: float, m: float) -> float:
        if m == 0:
            return 0.0
        p = k / m
        return (k * math.log(p) if k > 0 else 0.0) + ((m - k) * math.log(1.0 - p) if m > k else 0.0)

    return ll(c, n) + ll(C - c, N - n) - ll(C, N)


def mutual_information(labels: np.ndarray, error: np.ndarray, k: int) -> float:
    """Mutual information (nats) between cluster and error."""
    labels = np.asarray(labels, dtype=np.int64)
    sizes = np.bincount(labels, minlength=k)
    return mutual_information_counts(np.bincount(labels, weights=np.asarray(error, dtype=np.float64), minlength=k),
                                     sizes)  # fmt: skip


def mutual_information_counts(errors: np.ndarray, sizes: np.ndarray) -> float:
    """Mutual information (nats) between cluster and error from each cluster's error count and size."""
    errors = np.asarray(errors, dtype=np.float64)
    joint = np.column_stack([sizes - errors, errors])
    joint /= joint.sum()
    pc, pe = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pc @ pe)[nz])).sum())


def permuted_counts(sizes: np.ndarray, cases: int, n_perm: int, rng: np.random.Generator) -> np.ndarray:
    """Cases per group in ``n_perm`` random permutations, drawn without shuffling images.

    Shuffling ``cases`` cases over the images of groups of ``sizes`` images
    and counting them per group gives multivariate hypergeometric counts;
    they are drawn directly, which costs per group, not per image
    (``docs/method.md#archive-scale``). Returns a float array (n_perm, groups).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    return rng.multivariate_hypergeometric(sizes, int(cases), size=n_perm).astype(np.float64)


def worst_share(labels: np.ndarray, error: np.ndarray, k: int, coverage: float) -> float:
    """Share of all errors held by the highest-error clusters covering ``coverage`` of the images.

    Clusters are taken by error rate, highest first; the cluster that crosses
    the coverage contributes the covered fraction of its errors.
    """
    n, total = len(labels), int(error.sum())
    if total == 0:
        return float("nan")
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    errs = np.bincount(labels, weights=error.astype(np.float64), minlength=k)
    rate = np.divide(errs, sizes, out=np.zeros(k), where=sizes > 0)
    budget, held = coverage * n, 0.0
    for c in np.argsort(-rate, kind="stable"):
        take = min(sizes[c], budget)
        if take <= 0:
            break
        held += errs[c] * take / sizes[c]
        budget -= take
    return float(held / total)


def is_probability(score: np.ndarray) -> np.ndarray:
    """Per value: a number in [0, 1] (NaN and infinities are not), the one rule for model scores."""
    return np.isfinite(score) & (score >= 0.0) & (score <= 1.0)
