"""Planted slices on the larger NIH set: the size-invariant band axis against the pixel axis, same tables.

A cheaper companion of ``planted_slices.py`` for one question: does the
default ``frequency_axis="field"`` (``docs/method.md#clustering``) find the
planted acquisition slices as well as the bands as profiled
(``frequency_axis="pixel"``)? Same images (``--dataset nih-all``: the NIH
images of ``cxr-real`` and ``nih-extra``), same planted sets, same simulated
errors (error model a: 50 % in the slice, 10 % outside), same blind-spot
rule; only the axis differs. Precision / recall of the top blind spot.

Run from the repository root::

    python evaluation/planted_axis.py --seeds 2

Results: ``evaluation/results/planted_axis.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import planted_slices as ps
from spectral_fast.analysis.clustering import SpectralClusters
from spectral_fast.simulate import acquire

AXES = ("field", "pixel")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="nih-all")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--share", type=float, default=0.2)
    parser.add_argument("--changes", nargs="+", default=list(acquire.CHANGES))
    parser.add_argument("--cache", default="/tmp/spectral_fast_planted_axis")
    parser.add_argument("--out", default=str(ps.ROOT / "evaluation" / "results" / "planted_axis"))
    args = parser.parse_args(argv)
    args.images, args.labels = None, None
    images, _, _ = ps.load_images(args)
    n = len(images)
    cache = ps.Cache(Path(args.cache), images, args.share)
    clean = cache.get("clean", lambda: ps.profile_rows(images))
    records, t0 = [], time.perf_counter()
    for change in args.changes:
        for seed in range(args.seeds):
            idx, rng = ps.planted_set(n, args.share, change, seed)

            def make(idx=idx, rng=rng, change=change):
                rows = ps.profile_rows([acquire.apply(images[i], change, rng=rng) for i in idx])
                return rows.with_columns(pl.Series("__index", idx.astype(np.int64)))

            replaced = cache.get(f"{change}_{seed}", make).select(clean.columns + ["__index"])
            table = ps.with_planted_rows(clean, replaced, idx)
            planted = np.zeros(n, dtype=bool)
            planted[idx] = True
            error = ps.simulated_errors(planted, seed)
            for axis in AXES:
                m = SpectralClusters(random_state=seed, frequency_axis=axis).fit(table)
                p, r, _ = ps.top_spot_scores(m.labels_, m.tree_, m.n_clusters_, m.cluster_centers_, error, planted)
                records.append({"change": change, "seed": seed, "axis": axis, "precision": p, "recall": r})
            print(f"{change} seed {seed}: done ({time.perf_counter() - t0:.0f} s)", flush=True)
    rec = pl.DataFrame(records)
    lines = [
        f"Planted slices, {args.dataset} ({n} images), {args.share:.0%} planted, {args.seeds} seeds, error model a; "
        "top blind spot precision / recall, mean over seeds.",
        "",
        "| axis | " + " | ".join(args.changes) + " |",
        "|---" * (len(args.changes) + 1) + "|",
    ]
    for axis in AXES:
        cells = []
        for c in args.changes:
            g = rec.filter((pl.col("axis") == axis) & (pl.col("change") == c))
            cells.append(f"{g['precision'].mean():.2f} / {g['recall'].mean():.2f}")
        lines.append(f"| {axis} | " + " | ".join(cells) + " |")
    md = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps({"n_images": n, "records": records}, indent=1))
    out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
