"""Profile-like tables with a known slice, for the reliability, monitor and CLI tests."""

from __future__ import annotations

import numpy as np
import polars as pl


def make_profiles(n: int, seed: int, shift_share: float, *, bands: int = 32, offset: float = 0.0):
    """Profile-like table with a blurred slice (less high-frequency energy) of share ``shift_share``.

    Returns the table, the slice mask and per-image errors drawn with rate
    0.5 inside the slice and 0.1 outside: the classifier's blind spot.
    """
    rng = np.random.default_rng(seed)
    base = np.interp(np.linspace(0, 31, bands), np.arange(32), BASE)
    x = base + rng.normal(0, 0.15, (n, 1)) + rng.normal(0, 0.05, (n, bands)) + offset
    slice_ = rng.random(n) < shift_share
    x[slice_, int(bands * 0.6) :] -= 1.5
    data = {f"band_{i:02d}": x[:, i] for i in range(bands)}
    data.update(id=[f"s{seed}/{i:04d}.png" for i in range(n)], status=["ok"] * n, error=[None] * n)
    error = np.where(slice_, rng.random(n) < 0.5, rng.random(n) < 0.1)
    return pl.DataFrame(data, schema_overrides={"error": pl.Utf8}), slice_, error


BASE = np.linspace(-1.0, -6.0, 32)
