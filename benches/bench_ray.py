#!/usr/bin/env python3
"""Ray benchmark: the overhead of profiling on Ray Data against the local profiler, on the same 2 cores.

    python benches/bench_ray.py            # full run (~5-10 min on 2 cores), writes
                                           #   benches/results/ray.json and ray.md
    python benches/bench_ray.py --quick    # smoke run on a tiny archive into a temp dir

Both engines run in one process on one machine, on the same files, with the
same total CPU budget: a local Ray instance started with ``num_cpus=2``
against the local profiler with ``threads=2``. So the ratio is Ray's cost
(scheduling, object store, worker processes, moving profile rows back to the
driver) that a cluster pays for spreading the work, not a speed-up: on a
cluster the Ray path scales with the nodes while the local profiler cannot.

Data sets:

* ``cxr-real``: ``../shared/data/cxr-real/images`` (198 PNGs, mostly 1024^2
  8-bit, and 2 DICOMs).
* ``synthetic-1024``: 1024^2 8-bit PNGs made from the real NIH images by
  ``bench_archive.make_archive`` (same cache folder, so the archive
  benchmark's files are reused).

Pipelines (each writes the profiles of every file, 32 log bands, Hann window):

* ``local_t2``: ``profile_archive(list, out, threads=2)``.
* ``ray_cli_1cpu``: ``profile_archive(list, out, engine="ray")``: the CLI's
  ``--engine ray`` path, 1 CPU and 1 core thread per Ray task, profile rows
  journalled by the driver into the same single Parquet file.
* ``ray_cli_2cpu``: the same with ``threads=2``: 2 CPUs and 2 core threads per
  task (fewer, larger tasks).
* ``ray_shards``: ``write_profiles(read_binary_files(folder), shards/)``:
  workers read the files into Ray's object store and write Parquet shards.

Every Ray output is checked to equal the local table (shards after
``combine_profiles``) inside the run. Ray's start-up (``ray.init``) and its
first, cold run (worker processes importing the package) are timed once,
apart from the warm medians. Runs are interleaved (round robin, rotated each
repeat); medians. A debug build of the extension is refused.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Ray's sockets on 127.0.0.1 only (this benchmark runs a single-node instance);
# must be set before Ray is imported.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing as T
from bench_archive import DEFAULT_CACHE, make_archive

REPO = T.REPO_ROOT
DEFAULT_OUT = REPO / "benches" / "results"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cxr-real" / "images"

FULL = {"size": 1024, "synthetic": 300, "repeats": 5, "cpus": 2}
QUICK = {"size": 96, "synthetic": 24, "repeats": 1, "cpus": 2}
#: Default archive cache, data and results folders.
DIRS = (DEFAULT_CACHE, DEFAULT_DATA, DEFAULT_OUT)


def build_cases(files: list[Path], label: str, work: Path, cpus: int) -> list[T.Case]:
    import polars as pl
    import ray.data

    from spectral_fast.ingest.local import profile_archive
    from spectral_fast.ingest.merge import combine_profiles
    from spectral_fast.ingest.ray import write_profiles

    listing = work / f"{label}.txt"
    listing.write_text("".join(f"{f}\n" for f in files))
    n = len(files)

    def run(engine: str, threads: int | None, name: str):
        out = work / f"{label}-{name}.parquet"

        def fn() -> pl.DataFrame:
            profile_archive(listing, out, engine=engine, threads=threads, overwrite=True, progress=False)
            return pl.read_parquet(out)

        return fn

    shards = work / f"{label}-shards"

    def ray_shards() -> pl.DataFrame:
        shutil.rmtree(shards, ignore_errors=True)
        ds = ray.data.read_binary_files([str(f) for f in files], include_paths=True)
        # The local run's ids come from a list file outside the images'
        # folder, so they are the absolute paths, as Ray reports them: no root.
        write_profiles(ds, shards)
        return combine_profiles(shards)

    def case(name: str, fn, **labels: Any) -> T.Case:
        return T.Case(f"{label}/{name}", fn, n, {"pipeline": name, **labels})

    return [
        case(f"local_t{cpus}", run("local", cpus, "local"), engine="local", threads=cpus),
        case("ray_cli_1cpu", run("ray", 1, "ray1"), engine="ray", cpus_per_task=1),
        case(f"ray_cli_{cpus}cpu", run("ray", cpus, f"ray{cpus}"), engine="ray", cpus_per_task=cpus),
        case("ray_shards", ray_shards, engine="ray", cpus_per_task=1),
    ]


def agreement(measurements: list[T.Measurement]) -> dict[str, bool]:
    local = measurements[0].warmup_result
    out = {}
    for m in measurements[1:]:
        got = m.warmup_result
        # Shards carry no order: compare them with the local table sorted by id.
        out[m.case.labels["pipeline"]] = bool(got.equals(local if got["id"].equals(local["id"]) else local.sort("id")))
    return out


def cold_start(files: list[Path], work: Path, cpus: int) -> dict[str, float]:
    """Seconds for ``ray.init`` and for the first (cold-worker) Ray run; local for scale."""
    import ray

    from spectral_fast.ingest.local import profile_archive

    listing = work / "cold.txt"
    listing.write_text("".join(f"{f}\n" for f in files))
    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    init_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    profile_archive(listing, work / "cold.parquet", engine="ray", threads=1, overwrite=True, progress=False)
    first_s = time.perf_counter() - t0
    return {"ray_init_s": round(init_s, 2), "first_ray_run_s": round(first_s, 2), "images": len(files)}


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        "# Ray benchmark: Ray Data against the local profiler on the same cores",
        "",
        f"`{doc['command']}` on {m['cpu_model']} ({m['logical_cpus']} logical CPUs), Ray {doc['ray_version']} "
        f"started with `num_cpus={doc['config']['cpus']}`, commit {str(m.get('git_commit'))[:10]}; other processes "
        f"kept {doc['foreign_load_cores']} cores busy on average during the timed runs (shared machine: read "
        "ratios, not absolute times). Overhead = Ray time / local time (1.00x = no overhead).",
        "",
    ]
    for label, res in doc["results"].items():
        lines += [f"## {label} ({res['files']} files)", ""]
        rows = []
        for r in res["measurements"]:
            p = r["pipeline"]
            rows.append(
                [
                    p,
                    T.fmt_ms(r["ms_per_unit"]),
                    f"{r['units_per_s']:.1f}",
                    T.fmt_ratio(res["overhead"][p]),
                    f"{r['iqr_rel']:.0%}",
                    "-" if p.startswith("local") else ("yes" if res["identical"][p] else "NO"),
                ]
            )
        lines.append(
            T.md_table(["pipeline", "ms / image", "images / s", "overhead vs local", "IQR", "identical to local"], rows)
        )
        lines.append("")
    c = doc["cold_start"]
    lines += [
        "## Start-up (once per session)",
        "",
        f"`ray.init` took {c['ray_init_s']} s; the first Ray run over {c['images']} images, whose worker processes "
        f"start and import the package, took {c['first_ray_run_s']} s. The medians above are warm runs.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args, cfg, out_dir, cache = T.archive_cli(argv, __doc__, "ray", QUICK, FULL, DIRS)
    log = T.log
    try:
        import ray
        import ray.data  # configures its loggers on import: quiet them after
    except ImportError:
        log("bench_ray: Ray is not installed; pip install '.[ray]'")
        return 2
    from spectral_fast import _core

    build = T.require_release_build(_core, allow_debug=args.allow_debug or args.quick)
    cpus = cfg["cpus"]
    import logging

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # plans and progress lines, per run
    synth = make_archive(cache / "archive", cfg["synthetic"], cfg["size"], args.data, log)
    work = Path(tempfile.mkdtemp(prefix="bench_ray_work_"))
    datasets: dict[str, list[Path]] = {}
    if args.data.is_dir() and not args.quick:
        datasets["cxr-real"] = sorted(p for p in args.data.iterdir() if p.is_file())
    datasets[f"synthetic-{cfg['size']}"] = synth

    if ray.is_initialized():
        raise SystemExit("bench_ray: Ray is already initialised in this process; run the benchmark on its own")
    first = next(iter(datasets.values()))
    cold = cold_start(first, work, cpus)
    log(f"ray.init {cold['ray_init_s']} s, first run {cold['first_ray_run_s']} s")
    results: dict[str, Any] = {}
    try:
        with T.ForeignLoad() as load:
            for label, files in datasets.items():
                log(f"timing {label}: {len(files)} files")
                ms = T.run_interleaved(build_cases(files, label, work, cpus), repeats=cfg["repeats"], log=log)
                local = ms[0].median
                results[label] = {
                    "files": len(files),
                    "measurements": [{**m.to_dict(), "pipeline": m.case.labels["pipeline"]} for m in ms],
                    "overhead": {m.case.labels["pipeline"]: m.median / local for m in ms},
                    "identical": agreement(ms),
                }
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    doc = {
        **T.doc_header("ray", args, build),
        "machine": T.machine_info(modules=("numpy", "pyarrow", "polars", "ray")),
        "ray_version": ray.__version__,
        "config": cfg,
        "foreign_load_cores": load.cores,
        "cold_start": cold,
        "results": results,
    }
    T.publish(out_dir, "ray", doc, markdown(doc))
    return 0 if all(ok for r in results.values() for ok in r["identical"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
