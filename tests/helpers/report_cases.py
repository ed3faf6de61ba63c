"""A small report case with a hostile image id, for the pipeline and browser tests."""

from __future__ import annotations

import numpy as np
import polars as pl

NASTY = "site<1>/a&b \"q\" 'x'.png"


def make_case(tmp_path=None, n=160, seed=0):
    """Profiles with a blurred 20 % slice where a fake model errs 50 % of the time (10 % elsewhere)."""
    rng = np.random.default_rng(seed)
    base = np.linspace(-1.0, -6.0, 32)
    bands = base + rng.normal(0, 0.15, (n, 1)) + rng.normal(0, 0.05, (n, 32))
    slice_ = np.zeros(n, bool)
    slice_[rng.choice(n, n // 5, replace=False)] = True
    bands[slice_, 20:] -= 2.0
    ids = [f"img/{i:03d}.png" for i in range(n)]
    ids[int(np.flatnonzero(slice_)[0])] = NASTY
    prof = pl.DataFrame({"id": ids, **{f"band_{i:02d}": bands[:, i] for i in range(32)}})
    prof = prof.with_columns(
        jpeg_block=pl.Series(rng.normal(0.1, 0.02, n)),
        height=pl.lit(1024),
        width=pl.lit(1024),
        status=pl.lit("ok"),
        error=pl.lit(None, dtype=pl.Utf8),
    )
    truth = rng.integers(0, 2, n)
    error = np.zeros(n, bool)
    for group, rate in ((slice_, 0.5), (~slice_, 0.1)):
        members = np.flatnonzero(group)
        error[rng.choice(members, int(round(rate * len(members))), replace=False)] = True
    score = np.where(error != truth.astype(bool), 0.8, 0.2)
    score = np.clip(score + rng.normal(0, 0.05, n), 0, 1)
    # a second finding given as predicted labels
    truth2 = rng.integers(0, 2, n)
    pred2 = np.where(rng.random(n) < 0.15, 1 - truth2, truth2)
    preds = pl.DataFrame({"image": ids, "y": truth, "p": score, "y2": truth2, "hat2": pred2})
    if tmp_path is not None:
        # three real PNG files for thumbnails, including the nasty id
        from PIL import Image

        for i in [ids[0], ids[1], NASTY]:
            path = tmp_path / "imgs" / i
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(path)
    return prof, preds, slice_
