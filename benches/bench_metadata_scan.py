"""CPU cost of the metadata scan (``spectral_fast.analysis.metadata_scan``) at archive scale.

A generated table of N images (default 112,320, the NIH ChestX-ray14 size)
with five acquisition variables (25 value groups), patients of about four
images each and a planted miss group; prints the CPU time (``time.process_time``,
this process, numpy's BLAS threads as configured) of the scan alone and with
its default bootstrap resamples, the best of ``--repeat`` runs. Ratios and
CPU time, not wall time: the machine may be shared.

    python benches/bench_metadata_scan.py [--n 112320] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl

from spectral_fast.analysis.metadata_scan import scan_metadata


def table(n: int, seed: int = 0):
    """Variables, errors, labels and patients of ``n`` generated images (view = AP among label 1: 40 % missed)."""
    rng = np.random.default_rng(seed)
    variables = pl.DataFrame({
        "view": rng.choice(["AP", "PA"], n), "short_side": rng.choice([1024.0, 2048, 512, 640], n),
        "aspect": np.round(rng.normal(1, 0.1, n), 2), "site": rng.choice(list("abcdefgh"), n),
        "format": rng.choice(["PNG", "DICOM"], n),
    })  # fmt: skip
    truth = rng.random(n) < 0.3
    ap = (variables["view"] == "AP").to_numpy()
    error = np.where(ap & truth, rng.random(n) < 0.4, rng.random(n) < 0.1)
    return variables, error, truth, rng.integers(0, max(n // 4, 1), n).astype(str)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=112_320)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    variables, error, truth, groups = table(args.n)
    for label, resamples in (("scan only", 0), ("scan + default resamples", None)):
        best = float("inf")
        for _ in range(args.repeat):
            t = time.process_time()
            rows, _ = scan_metadata(variables, error, truth, groups=groups, n_resamples=resamples)
            best = min(best, time.process_time() - t)
        print(f"{args.n} images, {label}: {best:.2f} s CPU (best of {args.repeat}); spots: {len(rows)}")


if __name__ == "__main__":
    main()
