#!/usr/bin/env python3
"""``spectral-fast report`` at archive scale: time, peak RSS and blind spots against a full fit.

    python benches/bench_report_scale.py [--sizes 10000,112320] [--before /path/to/other/python]

Synthesises profile tables of each size by jittering real profiles (the
demo's test set by default: its profiles and its classifier's predictions,
made once with :func:`spectral_fast.demo.run_demo` and cached; or
``--source DIR`` with ``profiles.parquet`` and ``predictions.csv``). Every
copy of a row gets Gaussian noise of 0.1 of each float column's spread and
its score 0.02, so copies are near-duplicates, not duplicates.

For each size it runs ``spectral-fast report`` end to end in a child process:

* ``default``: this tree's defaults (above ``ARCHIVE_SCALE_N`` images the
  archive-scale path: clustering fitted on a seeded sample, permutation
  counts drawn per cluster; ``docs/method.md#archive-scale``);
* ``full``: ``--max-fit-samples all``, the clustering fitted on every image
  and permutations shuffling images (the reference the blind spots are
  checked against);
* ``before`` (with ``--before PYTHONPATH``): another checkout's package, e.g.
  the commit before this change, with its own defaults;
* ``full_seed`` (with ``--yardstick-seed S``): the full fit again with
  another seed. Its agreement with ``full`` is the yardstick: how far a full
  fit is from itself, so how close "the same blind spots as a full fit" can be.

Each child records its wall time, CPU time and peak RSS (VmHWM of its own
address space; ``getrusage`` of a child would carry the benchmark's peak
across fork + exec) and its CPU seconds per stage (``_report_stages.py``:
clustering fits, refits, page, reference, ...). The check: adjusted Rand index of the cluster
assignments and, for every blind spot of the reference, the best Jaccard
index of its images with a blind spot of the same finding in the other run
(and the other way round). Results: ``benches/results/report_scale.{md,json}``.

``run(quick)`` is the entry point of the umbrella benchmark; ``--quick`` runs
a tiny configuration (a small demo, 600 rows, sample of 300) into a temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing as T

ROOT = T.REPO_ROOT
DEFAULT_OUT = ROOT / "benches" / "results"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "spectral_fast_bench_report_scale"
#: Jitter of a copy: this share of each float column's standard deviation (scores: absolute).
JITTER, SCORE_JITTER = 0.1, 0.02

FULL = {"sizes": (10_000, 112_320), "demo_n": 1800, "max_fit_samples": None, "refits": 10, "n_perm": 999,
        "full_max": 112_320}  # fmt: skip
QUICK = {"sizes": (600,), "demo_n": 240, "max_fit_samples": 300, "refits": 2, "n_perm": 99, "full_max": 600}
TARGETS = {"n": 112_320, "seconds": 30.0, "peak_rss_gib": 1.0}
#: Each run's record (time, memory, stages), written into its report folder.
RUN_RECORD = "bench_run.json"

#: The child: runs the CLI, then reports its own CPU time and peak RSS on the last stderr line.
CHILD = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
stages = os.environ.get("BENCH_REPORT_STAGES")
if stages:
    sys.path.insert(0, stages)
    import _report_stages
    _report_stages.install()
from spectral_fast.cli import main
code = main(sys.argv[1:])
peak = None
try:
    with open("/proc/self/status") as fh:
        peak = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
u = resource.getrusage(resource.RUSAGE_SELF)
print("BENCH " + json.dumps({"code": code, "peak_kib": peak, "cpu_s": u.ru_utime + u.ru_stime,
                             "wall_in_s": time.perf_counter() - t0,
                             "stages": _report_stages.result() if stages else None}), file=sys.stderr)
sys.exit(code)
"""


def demo_source(cache: Path, n: int, log=T.log) -> Path:
    """The demo's profiles and predictions (test set), made once per ``n`` and kept in ``cache``."""
    out = cache / f"demo-n{n}"
    if (out / "profiles.parquet").is_file() and (out / "predictions.csv").is_file():
        return out
    from spectral_fast.demo import run_demo

    log(f"making the demo's profiles and predictions ({n} images) in {out}")
    run_demo(out, n=n, quiet=True)
    return out


def synthesise(source: Path, n: int, out: Path, *, seed: int = 0, id_col: str = "image") -> Path:
    """``n`` profiles and predictions made of jittered copies of ``source``'s rows (cached in ``out``)."""
    if (out / "profiles.parquet").is_file() and (out / "predictions.csv").is_file():
        return out
    prof = pl.read_parquet(source / "profiles.parquet")
    pred = pl.read_csv(source / "predictions.csv").rename({id_col: "id"})
    both = prof.join(pred, on="id", how="inner", suffix="_prediction")
    rng = np.random.default_rng(seed)
    rows = np.arange(n) % both.height
    big = both[rows]
    ids = [f"c{c:04d}/{i}" for c, i in zip(np.arange(n) // both.height, big["id"].to_list())]
    jitter = [
        pl.Series("id", ids),
        pl.Series("score", np.clip(big["score"].to_numpy() + rng.normal(0.0, SCORE_JITTER, n), 0, 1)),
    ]
    for name, dtype in prof.schema.items():
        if dtype == pl.Float64:
            spread = float(np.nan_to_num(np.nanstd(both[name].to_numpy()))) if both[name].is_not_nan().any() else 0.0
            jitter.append(pl.Series(name, big[name].to_numpy() + rng.normal(0.0, JITTER * spread, n)))
    big = big.with_columns(jitter)
    out.mkdir(parents=True, exist_ok=True)
    big.select(prof.columns).write_parquet(out / "profiles.parquet")
    big.select(pred.columns).rename({"id": id_col}).write_csv(out / "predictions.csv")
    return out


def run_report(data: Path, out: Path, pythonpath: str | None, cfg: dict, extra: list[str]) -> dict[str, Any]:
    """``spectral-fast report`` on ``data`` in a child process: wall, CPU, peak RSS.

    ``pythonpath`` None: the installed package (the one this process imports); else that package dir.
    """
    argv = ["report", str(data / "profiles.parquet"), "--predictions", str(data / "predictions.csv"),
            "--pred-id-col", "image", "--label-col", "finding", "--score-col", "score", "-o", str(out),
            "--overwrite", "--quiet", "--refits", str(cfg["refits"]), "--n-perm", str(cfg["n_perm"]), *extra]  # fmt: skip
    env = dict(os.environ) if pythonpath is None else dict(os.environ, PYTHONPATH=pythonpath)
    env["BENCH_REPORT_STAGES"] = str(Path(__file__).resolve().parent)  # CPU per stage (_report_stages)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, *argv], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"report failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}")
    rec = json.loads(lines[-1][6:])
    result = {"wall_s": round(wall, 2), "cpu_s": round(rec["cpu_s"], 2), "peak_rss_mib": round(rec["peak_kib"] / 1024, 1),
              "html_kib": round((out / "report.html").stat().st_size / 1024, 1), "args": extra,
              "stages_cpu_s": rec.get("stages"), "dir": str(out)}  # fmt: skip
    (out / RUN_RECORD).write_text(json.dumps(result, indent=1) + "\n")  # for --full-from of a later run
    return result


def spot_sets(report_dir: Path, stable_only: bool = False) -> tuple[np.ndarray, dict[str, list[set[str]]]]:
    """Cluster of every image (sorted by id) and each finding's blind spots (or stable ones) as sets of image ids."""
    a = pl.read_parquet(report_dir / "assignments.parquet").sort("id")
    spots = pl.read_csv(report_dir / "blind_spots.csv", schema_overrides={"clusters": pl.Utf8})
    by_cluster: dict[int, list[str]] = {}
    for i, c in zip(a["id"].to_list(), a["cluster"].to_list()):
        by_cluster.setdefault(int(c), []).append(i)
    out: dict[str, list[set[str]]] = {}
    for row in spots.iter_rows(named=True):
        if stable_only and row.get("stable") is not True:
            continue
        members = {i for c in str(row["clusters"]).split("+") for i in by_cluster.get(int(c), [])}
        out.setdefault(row["finding"], []).append(members)
    return a["cluster"].to_numpy(), out


def agreement(reference: Path, other: Path) -> dict[str, Any]:
    """Adjusted Rand index of the assignments and best-match Jaccard of the blind spots, both ways."""
    from sklearn.metrics import adjusted_rand_score

    lab_ref, spots_ref = spot_sets(reference)
    lab_oth, spots_oth = spot_sets(other)

    def best(spots: list[set[str]], against: list[set[str]]) -> list[float]:
        return [round(max((len(s & o) / len(s | o) for o in against), default=0.0), 3) for s in spots]

    findings = sorted(set(spots_ref) | set(spots_oth))

    def union_jaccard(stable_only: bool) -> dict[str, float]:
        ref, oth = spot_sets(reference, stable_only)[1], spot_sets(other, stable_only)[1]
        out = {}
        for f in findings:
            a, b = set().union(*ref.get(f, [])), set().union(*oth.get(f, []))
            out[f] = round(len(a & b) / len(a | b), 3) if a | b else 1.0
        return out

    return {
        "union_jaccard": union_jaccard(False),
        "union_jaccard_stable": union_jaccard(True),
        "ari": round(float(adjusted_rand_score(lab_ref, lab_oth)), 4),
        "spots_reference": {f: [len(s) for s in spots_ref.get(f, [])] for f in findings},
        "spots_other": {f: [len(s) for s in spots_oth.get(f, [])] for f in findings},
        "jaccard_reference_to_other": {f: best(spots_ref.get(f, []), spots_oth.get(f, [])) for f in findings},
        "jaccard_other_to_reference": {f: best(spots_oth.get(f, []), spots_ref.get(f, [])) for f in findings},
    }


def run(quick: bool, *, sizes: tuple[int, ...] | None = None, before: str | None = None, source: Path | None = None,
        cache: Path = DEFAULT_CACHE, work: Path | None = None, full_max: int | None = None,
        fast_sample: int | None = None, full_from: dict[int, Path] | None = None, yardstick_seed: int | None = None,
        log=T.log) -> dict[str, Any]:  # fmt: skip
    """Time ``report`` at each size (default, full fit, optionally another checkout) and compare blind spots.

    ``full_from``: per size, the folder of an earlier full-fit run of this benchmark on the same table (it
    holds the run's record): compared with, not fitted again. ``yardstick_seed``: also fit the full
    reference with this seed and compare it with the seed-0 full fit (where both exist).
    """
    cfg = dict(QUICK if quick else FULL)
    if fast_sample:
        cfg["max_fit_samples"] = fast_sample
    sizes = tuple(sizes or cfg["sizes"])
    full_max = cfg["full_max"] if full_max is None else full_max
    source = source or demo_source(cache, cfg["demo_n"], log)
    work = work or Path(tempfile.mkdtemp(prefix="bench_report_scale_"))
    fast = ["--max-fit-samples", str(cfg["max_fit_samples"])] if cfg["max_fit_samples"] else []
    rows = []
    for n in sizes:
        data = synthesise(source, n, cache / f"{source.name}-rows{n}")
        row: dict[str, Any] = {"n": n}
        with T.ForeignLoad() as load:
            log(f"n = {n}: default")
            row["default"] = run_report(data, work / f"default-{n}", None, cfg, fast)
            if n in (full_from or {}):
                row["full"] = {**json.loads((full_from[n] / RUN_RECORD).read_text()), "from": str(full_from[n])}
                (work / f"full-{n}").symlink_to(full_from[n].resolve(), target_is_directory=True)
            elif n <= full_max:
                log(f"n = {n}: full fit")
                row["full"] = run_report(data, work / f"full-{n}", None, cfg, ["--max-fit-samples", "all"])
            if before:
                log(f"n = {n}: before ({before})")
                row["before"] = run_report(data, work / f"before-{n}", before, cfg, [])
            if yardstick_seed is not None and "full" in row:
                log(f"n = {n}: full fit, seed {yardstick_seed}")
                seeded = ["--max-fit-samples", "all", "--seed", str(yardstick_seed)]
                row["full_seed"] = run_report(data, work / f"full_seed-{n}", None, cfg, seeded)
        row["foreign_load_cores"] = load.cores
        for ref in ("full", "before"):
            if ref in row:
                row[f"agreement_vs_{ref}"] = agreement(work / f"{ref}-{n}", work / f"default-{n}")
                row[f"speedup_vs_{ref}"] = round(row[ref]["wall_s"] / row["default"]["wall_s"], 2)
        if "full_seed" in row:  # the yardstick: a full fit against itself with another seed
            row["agreement_full_vs_full_seed"] = agreement(work / f"full-{n}", work / f"full_seed-{n}")
        rows.append(row)
        log(json.dumps(row))
    return {"config": {**cfg, "sizes": list(sizes)}, "before": before, "yardstick_seed": yardstick_seed,
            "source": str(source), "rows": rows,
            "targets": TARGETS, "machine": T.machine_info(("numpy", "scipy", "sklearn", "polars"))}  # fmt: skip


def markdown(doc: dict[str, Any]) -> str:
    """The results table and the agreement of the blind spots."""
    heads = ["rows", "run", "wall s", "CPU s", "peak RSS MiB", "report.html KiB"]
    lines = []
    for row in doc["rows"]:
        for name in ("before", "full", "full_seed", "default"):
            if name in row:
                r = row[name]
                lines.append([f"{row['n']:,}", name, r["wall_s"], r["cpu_s"], r["peak_rss_mib"], r["html_kib"]])
    text = [T.md_table(heads, lines), ""]
    for row in doc["rows"]:
        stages = row["default"].get("stages_cpu_s")
        if stages:  # own CPU seconds per stage (benches/_report_stages.py), largest first
            text += [f"CPU seconds per stage, {row['n']:,} rows, default:", "",
                     T.md_table(["stage", "CPU s"], [[k, v] for k, v in stages.items()]), ""]  # fmt: skip
    for row in doc["rows"]:
        a = row.get("agreement_full_vs_full_seed")
        if a:
            text.append(f"- {row['n']:,} rows, yardstick, full fit (seed 0) against full fit (seed "
                        f"{doc['yardstick_seed']}): ARI {a['ari']}, images in any blind spot Jaccard "
                        f"{a['union_jaccard']} (stable spots {a['union_jaccard_stable']}), spots "
                        f"{a['spots_reference']} vs {a['spots_other']}, best Jaccard {a['jaccard_reference_to_other']} "
                        f"(back: {a['jaccard_other_to_reference']})")  # fmt: skip
        for ref in ("full", "before"):
            a = row.get(f"agreement_vs_{ref}")
            if a:
                text.append(f"- {row['n']:,} rows, default against {ref}: ARI {a['ari']}, images in any blind spot "
                            f"Jaccard {a['union_jaccard']} (stable spots {a['union_jaccard_stable']}), "
                            f"spots {a['spots_reference']} vs {a['spots_other']}, best Jaccard "
                            f"{a['jaccard_reference_to_other']} (back: {a['jaccard_other_to_reference']}), "
                            f"wall time ratio {row[f'speedup_vs_{ref}']}x, CPU time ratio "
                            f"{row[ref]['cpu_s'] / row['default']['cpu_s']:.2f}x; other load "
                            f"{row['foreign_load_cores']} cores")  # fmt: skip
    return "\n".join(text) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny configuration, results in a temp dir")
    ap.add_argument("--sizes", type=lambda v: tuple(int(x) for x in v.split(",")), default=None)
    ap.add_argument("--before", metavar="PYTHONPATH", help="also time another checkout's package (its python/ dir)")
    ap.add_argument("--source", type=Path, help="folder with profiles.parquet and predictions.csv (default: demo)")
    ap.add_argument("--full-max", type=int, default=None, help="largest size also run with a full fit")
    ap.add_argument(
        "--fast-sample",
        type=int,
        default=None,
        metavar="N",
        help="run 'default' with --max-fit-samples N (the archive-scale path from N rows, e.g. at 10k)",
    )
    ap.add_argument("--full-from", action="append", default=[], metavar="N=DIR",
                    help="compare size N with the full-fit folder DIR of an earlier run of this benchmark on the same "
                         "table (default: fit it again)")  # fmt: skip
    ap.add_argument("--yardstick-seed", type=int, default=None, metavar="S",
                    help="also fit the full reference with seed S: how far a full fit is from itself")  # fmt: skip
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--out-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    out = args.out_dir or (Path(tempfile.mkdtemp(prefix="bench_report_scale_out_")) if args.quick else DEFAULT_OUT)
    doc = run(args.quick, sizes=args.sizes, before=args.before, source=args.source, cache=args.cache_dir,
              full_max=args.full_max, fast_sample=args.fast_sample, yardstick_seed=args.yardstick_seed,
              full_from={int(k): Path(v) for k, v in (a.split("=", 1) for a in args.full_from)})  # fmt: skip
    doc = {"schema_version": T.SCHEMA_VERSION, "benchmark": "report_scale", "quick": args.quick,
           "date": time.strftime("%Y-%m-%d"), **doc}  # fmt: skip
    T.publish(out, "report_scale", doc, markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
