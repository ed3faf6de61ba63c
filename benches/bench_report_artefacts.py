#!/usr/bin/env python3
"""``report --artefacts`` benchmark: artefact features of a profile table computed from its images.

    python benches/bench_report_artefacts.py [--threads 2] [--repeats 1]

Times, in one process on the images of ``../shared/data/cxr-real`` (or
``$SPECTRAL_FAST_DATA``), the two ways of filling the artefact columns of a
profile table that lacks them:

* ``numpy``: the earlier implementation, Pillow decode + the numpy oracle
  (``spectral_fast.profiling.artefacts_oracle.artefact_features``), one image
  after the other;
* ``core``: :func:`spectral_fast.profiling.tables.add_artefacts`, the Rust core
  reading, decoding and profiling the files on ``--threads`` threads.

It also checks the two agree within the parity tolerance of
``tests/profiling/test_artefacts_core.py`` (1e-9 relative + 1e-9 absolute,
``peak_freq`` 1e-12) and writes ``benches/results/report_artefacts.{md,json}``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing as T
from spectral_fast.profiling.artefacts_oracle import FEATURE_NAMES
from spectral_fast.profiling.tables import _oracle, add_artefacts

RTOL = ATOL = 1e-9


def numpy_artefacts(table: pl.DataFrame, root: Path) -> pl.DataFrame:
    """The earlier ``add_artefacts``: Pillow + the numpy oracle, one image at a time."""
    rows = []
    for image_id in table["id"]:
        feats = _oracle(root / image_id)
        rows.append({c: None if feats is None else feats[c] for c in FEATURE_NAMES})
    return pl.concat([table, pl.DataFrame(rows, schema={c: pl.Float64 for c in FEATURE_NAMES}, orient="row")],
                     how="horizontal")  # fmt: skip


def out_of_tolerance(got: pl.DataFrame, want: pl.DataFrame, grey: list[bool]) -> int:
    """Values outside the parity tolerance, over the grey images Pillow can read.

    Colour images are left out: the core turns RGB(A) into float luma
    (``docs/method.md``, as ``spectral-fast profile`` does) where Pillow's
    ``convert("L")`` rounds to 8 bits, so ``hist_comb`` differs by design.
    """
    bad = 0
    for c in FEATURE_NAMES:
        for g, w, keep in zip(got[c].to_list(), want[c].to_list(), grey):
            if not keep or w is None:
                continue
            if g is None:
                bad += 1
            elif math.isnan(w):
                bad += not math.isnan(g)
            else:
                bad += abs(g - w) > ATOL + RTOL * abs(w)
    return bad


def _is_grey(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.mode not in ("RGB", "RGBA", "P", "LA")
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    from spectral_fast import _core

    build = T.require_release_build(_core)
    data = Path(os.environ.get("SPECTRAL_FAST_DATA", Path(__file__).resolve().parents[2] / "shared/data/cxr-real"))
    ids = sorted(str(p.relative_to(data)) for p in (data / "images").iterdir())
    table = pl.DataFrame({"id": ids})
    times: dict[str, list[float]] = {"numpy": [], "core": [], "numpy_cpu": [], "core_cpu": []}
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        want = numpy_artefacts(table, data)
        times["numpy"].append(time.perf_counter() - t0)
        times["numpy_cpu"].append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        got, failed = add_artefacts(table, data, threads=args.threads)
        times["core"].append(time.perf_counter() - t0)
        times["core_cpu"].append(time.process_time() - c0)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    grey = [_is_grey(data / i) for i in ids]
    bad = out_of_tolerance(got, want, grey)
    record = {
        "images": len(ids), "threads": args.threads, "repeats": args.repeats,
        "numpy_s": med["numpy"], "core_s": med["core"], "speedup": med["numpy"] / med["core"],
        "numpy_cpu_s": med["numpy_cpu"], "core_cpu_s": med["core_cpu"], "load_average": os.getloadavg(),
        "compared": sum(grey) - want["jpeg_block"].null_count(),
        "out_of_tolerance": bad, "core_failures": failed, "build": build, "machine": T.machine_info(),
    }  # fmt: skip
    rows = [
        [name, f"{med[key]:.2f}", f"{1000 * med[key] / len(ids):.0f}", f"{med[key + '_cpu']:.2f}"]
        for name, key in (
            ("numpy (Pillow + artefacts_oracle, 1 thread)", "numpy"),
            (f"core (add_artefacts, {args.threads} threads)", "core"),
        )
    ]
    text = (
        f"# report --artefacts: {len(ids)} images of cxr-real\n\n"
        + T.md_table(["path", "wall s", "wall ms/img", "CPU s"], rows)
        + f"\n\nwall speed-up {record['speedup']:.1f}x (CPU time {med['numpy_cpu'] / med['core_cpu']:.1f}x), "
        f"load average {record['load_average'][0]:.1f}; values out of tolerance: {bad} "
        f"({record['compared']} grey images both read); unreadable by the core path: {failed}\n"
    )
    out = Path(__file__).resolve().parent / "results"
    T.write_json(out / "report_artefacts.json", record)
    T.write_text(out / "report_artefacts.md", text)
    print(text)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
