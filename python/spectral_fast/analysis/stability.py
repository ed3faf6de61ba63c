"""Does a blind spot come back when the clustering is refitted on a resample?

A declared blind spot is a set of images. The clustering is refitted
``n_refits`` times, each on a random half of the images (drawn without
replacement) with its own seed, one restart and otherwise the same parameters
and number of clusters; every image is then assigned by the refit, and the
blind spots are searched again with the same rule (fewer permutations). The
refits together cost about half of the main fit at the default B = 10. A spot's stability is the mean over refits of the
best Jaccard index between its images and a refit spot of a compatible
direction (the same, or ``both`` on either side); 0 for a refit that finds no
such spot. Spots under :data:`STABLE` are marked unstable (kept, flagged).
Why and the threshold's evidence: ``docs/method.md#stability``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from spectral_fast._shared.progress import counted
from spectral_fast.errors import InvalidInputError

#: Mean best Jaccard from which a blind spot counts as stable.
STABLE = 0.5


def compatible(a: str, b: str) -> bool:
    """Whether blind spots of directions ``a`` and ``b`` can be the same failure."""
    return a == b or "both" in (a, b)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard index of two image masks (0 when both are empty)."""
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else 0.0


def best_jaccard(spot: np.ndarray, direction: str, others: list[tuple[np.ndarray, str]]) -> float:
    """Largest Jaccard index between the image mask ``spot`` and a compatible mask of ``others`` (0 if none)."""
    return max((jaccard(spot, mask) for mask, d in others if compatible(direction, d)), default=0.0)


def refit_spots(
    fit_assign: Callable[[np.ndarray, int], tuple[np.ndarray, list[list[int]], np.ndarray]],
    find: Callable[[np.ndarray, list[list[int]], np.ndarray], list[tuple[np.ndarray, str]]],
    n: int,
    n_refits: int,
    seed: int,
) -> list[list[tuple[np.ndarray, str]]]:
    """Blind spots of each refit as (image mask, direction) pairs.

    ``fit_assign(rows, seed)`` fits the clustering on the given rows (indices
    of a half-sample) and returns every image's cluster, the tree's
    members and the centres; ``find(labels, members, centres)`` returns the
    spots.
    """
    if isinstance(n_refits, bool) or not isinstance(n_refits, (int, np.integer)) or n_refits < 0:
        raise InvalidInputError(f"n_refits must be 0 or more, got {n_refits}")
    rng = np.random.default_rng(seed)
    out = []
    for b in counted(range(n_refits), n_refits, "stability refits", "fit"):
        rows = np.sort(rng.choice(n, max(n // 2, 1), replace=False))
        labels, members, centres = fit_assign(rows, seed + 1 + b)
        out.append(find(labels, members, centres))
    return out


def stability_scores(spots: list[tuple[np.ndarray, str]], refits: list[list[tuple[np.ndarray, str]]]) -> list[float]:
    """Mean best Jaccard of each spot over the refits (NaN without refits)."""
    if not refits:
        return [float("nan")] * len(spots)
    return [float(np.mean([best_jaccard(mask, d, r) for r in refits])) for mask, d in spots]
