"""The archive-scale statistics: permutation counts drawn per group, the counted AUROC bootstrap."""

from __future__ import annotations

import numpy as np

from spectral_fast._shared.stats import auroc, permuted_counts, resampled_aurocs


def test_resampled_aurocs_equal_ranking_each_resample():
    rng = np.random.default_rng(4)
    truth = rng.random(300) < 0.3
    score = np.round(rng.random(300), 2)  # ties
    got = resampled_aurocs(truth, score, np.random.default_rng(9), 200)
    draws = np.random.default_rng(9)
    want = []
    for _ in range(200):
        idx = draws.integers(0, 300, 300)
        if truth[idx].any() and not truth[idx].all():
            want.append(auroc(truth[idx], score[idx]))
    assert np.array_equal(got, np.array(want))


def test_permuted_counts_follow_the_shuffle_distribution():
    sizes = np.array([50, 0, 150, 300])
    labels = np.repeat(np.arange(4), sizes)
    error = np.zeros(500, bool)
    error[:120] = True
    drawn = permuted_counts(sizes, 120, 4000, np.random.default_rng(0))
    assert drawn.shape == (4000, 4) and (drawn.sum(axis=1) == 120).all() and (drawn <= sizes).all()
    rng = np.random.default_rng(1)
    shuffled = np.array([np.bincount(labels, weights=rng.permutation(error), minlength=4) for _ in range(4000)])
    assert np.allclose(drawn.mean(axis=0), 120 * sizes / 500, atol=0.5)
    assert np.allclose(drawn.std(axis=0), shuffled.std(axis=0), rtol=0.1, atol=0.05)
