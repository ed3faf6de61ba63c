"""``bh_adjust`` (scipy's false_discovery_control) against the step-up implementation it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from spectral_fast._shared.stats import bh_adjust


def step_up(p: np.ndarray) -> np.ndarray:
    """The earlier implementation, kept here as the oracle."""
    p = np.asarray(p, dtype=np.float64)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


@pytest.mark.parametrize("seed", range(20))
def test_equals_the_step_up_on_random_p_values_with_ties(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 60))
    p = rng.random(m) ** 3
    p[rng.random(m) < 0.3] = rng.choice(p, size=1)[0]  # ties
    p = np.round(p, int(rng.integers(1, 4))) if seed % 2 else p  # more ties, and exact zeros
    np.testing.assert_allclose(bh_adjust(p), step_up(p), rtol=1e-12, atol=0)


def test_edge_cases_as_before():
    assert bh_adjust(np.array([])).shape == (0,)
    np.testing.assert_array_equal(bh_adjust(np.array([0.01, np.nan, 0.04])), step_up(np.array([0.01, np.nan, 0.04])))
    assert np.isnan(bh_adjust(np.array([0.01, np.nan]))).all()
    np.testing.assert_allclose(bh_adjust(np.array([1.0 + 1e-12, 0.5])), [1.0, 1.0])
    np.testing.assert_allclose(bh_adjust(np.array([0.0, 0.0, 1.0])), step_up(np.array([0.0, 0.0, 1.0])))
