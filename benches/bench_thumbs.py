#!/usr/bin/env python3
"""Thumbnail archives (96^2 and 256^2 8-bit PNG): ``profile_archive`` against the scipy pool, by CPU time.

    python benches/bench_thumbs.py            # 1,500 x 96^2 and 600 x 256^2 PNGs, 5 repeats
                                              #   (a few minutes), writes benches/results/thumbs.{json,md}
    python benches/bench_thumbs.py --quick    # smoke run on tiny archives into a temp dir

The thumbnail rows of ``run_all.py`` alone, with more repeats and the CPU-time
ratio first: on a shared machine whose load exceeds its cores, wall time
mostly says how much of a core each pipeline was given, CPU time how much work
it did (``run_all.cpu_view``). Same archives (generated once into the same
cache folder), same pipelines (``run_all.archive_cases``: the default
``profile_archive`` with the durable journal and Parquet output, the same
without the artefact features, the core's decoders alone, and the Pillow +
``scipy.fft`` + bincount peer on a 2-thread pool, whose features are checked
against spectral_fast's in the run), interleaved, medians. 2 threads
everywhere; a debug build is refused. The target (issue 19): the default
``profile_archive`` at >= 3x the scipy pool on both archives.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy, as in run_all

import json
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing as T
import bench_archive as BA
import run_all as RA

FULL = {"thumbs": RA.FULL["thumbs"], "repeats": 5}
QUICK = {"thumbs": RA.QUICK["thumbs"], "repeats": 1}


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Thumbnail archives: profile_archive against the scipy pool",
        "",
        f"{T.run_line(doc)}, release build, "
        f"{RA.THREADS} threads, {doc['config']['repeats']} repeats; load average {doc['load'][0]} at the start, "
        f"{doc['load'][1]} at the end; other processes kept {doc['foreign_load_cores']} cores busy on average. "
        "CPU ms per image are the process's CPU time (all threads) over the timed calls.",
        "",
    ]
    rows = []
    for label, res in doc["archives"].items():
        cpu = RA.cpu_view(res)["ms_per_image"]
        for meas in res["measurements"]:
            p = meas["pipeline"]
            rows.append([label, p, T.fmt_ms(cpu[p]), T.fmt_ms(meas["ms_per_unit"]), f"{meas['cores_used']:.2f}"])
    lines.append(T.md_table(["archive", "pipeline", "CPU ms / image", "wall ms / image", "cores used"], rows))
    lines += ["", "## Targets", "", T.targets_table(doc["targets"]), ""]
    return "\n".join(lines)


def targets(archives: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for label, res in archives.items():
        cvs, vs = RA.cpu_view(res).get("vs_scipy_pool", {}), res.get("vs_scipy_pool", {})
        agree = res.get("agreement", {}).get("passed", False)
        out.append(
            {
                "target": f">= {RA.TARGETS['thumbs_vs_scipy']:.0f}x the scipy pool by CPU time, {label} "
                "(default [no artefacts]; then wall)",
                "measured": f"{T.fmt_ratio(cvs.get('default'))} [{T.fmt_ratio(cvs.get('no_artefacts'))}]; "
                f"wall {T.fmt_ratio(vs.get('default'))} [{T.fmt_ratio(vs.get('no_artefacts'))}]"
                + ("" if agree else "; features DISAGREE"),
                "met": agree and cvs.get("default", 0) >= RA.TARGETS["thumbs_vs_scipy"],
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args, cfg, out_dir, cache = T.archive_cli(
        argv, __doc__, "thumbs", QUICK, FULL, (RA.DEFAULT_CACHE, RA.DEFAULT_DATA, RA.DEFAULT_OUT)
    )
    from spectral_fast import _core
    from spectral_fast.profiling import oracle as reference

    build = T.require_release_build(_core, allow_debug=args.allow_debug or args.quick)
    load0 = [round(x, 2) for x in os.getloadavg()]
    work = Path(tempfile.mkdtemp(prefix="bench_thumbs_work_"))
    archives: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=RA.THREADS) as pool, T.ForeignLoad() as foreign:
        peer = RA.Peer(reference, pool)
        for side, n in cfg["thumbs"]:
            label = f"png{side}"
            files = BA.make_archive(cache / label, n, side, args.data, T.log)
            T.log(f"timing {label}: {len(files)} files")
            cases, info = RA.archive_cases(label, files, work, peer, floor=None)
            archives[label] = RA.summarise(T.run_interleaved(cases, repeats=cfg["repeats"]), info)
    doc: dict[str, Any] = {
        **T.doc_header("thumbs", args, build),
        "machine": T.machine_info(),
        "config": cfg,
        "threads": RA.THREADS,
        "load": [load0, [round(x, 2) for x in os.getloadavg()]],
        "foreign_load_cores": foreign.cores,
        "archives": archives,
    }
    doc["targets"] = targets(archives)
    T.publish(out_dir, "thumbs", json.loads(json.dumps(doc, default=str)), markdown(doc))
    return 0 if all(r.get("agreement", {}).get("passed", False) for r in archives.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
