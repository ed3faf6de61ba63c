"""What the artefact features cost: process CPU time of the default ``profile()`` over ``artefacts=False``.

Usage::

    python benches/bench_artefact_cost.py             # 24 decoded 1024^2 NIH images, 1 and 2 threads
    python benches/bench_artefact_cost.py --quick     # smoke run: 4 synthetic 256^2 images

Issue 19's target is at most +15 % on a decoded 1024^2 batch. Both sides run
interleaved in one process and are timed by process CPU time
(``time.process_time``, all threads), so other load on a shared machine moves
the ratio far less than wall time; the best and the median of the repeats are
reported. Writes ``benches/results/artefact_cost.{md,json}`` (quick: a temp dir).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import doc_header, machine_info, md_table, publish, require_release_build
from bench_core import DEFAULT_DATA, _synthetic, load_sources

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.15


def cpu_ms_per_image(run: Any, n: int) -> float:
    """Process CPU time of one call of ``run``, in ms per image."""
    t0 = time.process_time()
    run()
    return (time.process_time() - t0) / n * 1e3


def measure(batch: np.ndarray, threads: int, repeats: int) -> dict[str, Any]:
    """Interleaved repeats of both sides at one thread count."""
    import spectral_fast as sf

    times: dict[bool, list[float]] = {False: [], True: []}
    sf.profile(batch[:1], threads=threads)  # plans and tables built once, untimed
    for _ in range(repeats):
        for artefacts in (False, True):
            times[artefacts].append(
                cpu_ms_per_image(lambda a=artefacts: sf.profile(batch, artefacts=a, threads=threads), len(batch))
            )
    off, on = times[False], times[True]
    return {
        "threads": threads,
        "off_ms": off,
        "on_ms": on,
        "cost_best": min(on) / min(off) - 1.0,
        "cost_median": statistics.median(on) / statistics.median(off) - 1.0,
    }


def render(doc: dict[str, Any]) -> str:
    rows = [
        [
            r["threads"],
            f"{min(r['off_ms']):.2f}",
            f"{min(r['on_ms']):.2f}",
            f"{r['cost_best'] * 100:+.0f} %",
            f"{r['cost_median'] * 100:+.0f} %",
        ]
        for r in doc["rows"]
    ]
    lines = [
        "# Artefact feature cost",
        "",
        f"`{doc['command']}` on {doc['machine']['cpu_model']}; {doc['inputs']}; {doc['repeats']} interleaved "
        f"repeats; process CPU time per image (all threads); {doc['build']['profile']} build; load average "
        f"{doc['load_average']['start'][0]:.1f} at the start, {doc['load_average']['end'][0]:.1f} at the end. "
        f"Target: at most {TARGET * 100:.0f} %.",
        "",
    ]
    if not doc["valid_benchmark"]:
        lines += ["**Not a benchmark: smoke run (quick mode or non-release build).**", ""]
    headers = ["threads", "artefacts=False CPU ms", "default CPU ms", "cost (best)", "cost (median)"]
    return "\n".join(lines + [md_table(headers, rows)]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run on 4 synthetic 256^2 images")
    ap.add_argument("--batch", type=int, default=24, help="decoded 1024^2 images (default 24)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out-dir", type=Path, help="default benches/results (quick: a temp dir)")
    ap.add_argument("--allow-debug", action="store_true", help="with --quick only: run on a debug build")
    args = ap.parse_args()
    if args.allow_debug and not args.quick:
        ap.error("--allow-debug is only accepted with --quick")
    import spectral_fast._core as core

    build = require_release_build(core, allow_debug=args.allow_debug)
    if args.quick:
        images, meta = _synthetic(4, 256), {"source": "synthetic 256^2"}
        repeats = 2
    else:
        images, meta = load_sources(args.data, args.batch)
        repeats = args.repeats
    batch = np.stack(images)
    doc = doc_header("artefact_cost", args, build)
    load_start = os.getloadavg()
    rows = [measure(batch, t, repeats) for t in args.threads]
    doc.update(
        load_average={"start": load_start, "end": os.getloadavg()},
        machine=machine_info(),
        inputs=f"{len(batch)} x {batch.shape[1]}x{batch.shape[2]} {batch.dtype} images, {meta['source']}",
        repeats=repeats,
        rows=rows,
    )
    out_dir = args.out_dir or (
        Path(tempfile.mkdtemp(prefix="bench-artefact-cost-")) if args.quick else REPO / "benches" / "results"
    )
    publish(out_dir, "artefact_cost", doc, render(doc))


if __name__ == "__main__":
    main()
