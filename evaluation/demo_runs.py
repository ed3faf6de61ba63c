"""The built-in demo, measured: wall time, CPU time and recovery of the planted shifts over several seeds.

Each seed runs :func:`spectral_fast.demo.run_demo` with the default size,
exactly what ``spectral-fast demo --seed S`` runs (the CLI calls it), and
records the classifier's error per acquisition setting, the precision and
recall of the blind spot holding each planted shift, and the time taken.
Wall time depends on what else the machine runs, so CPU time (this process
plus its image workers) and the load average during the run are recorded
next to it.

Run from the repository root::

    python evaluation/demo_runs.py                 # seeds 0, 1, 2 at the default n
    python evaluation/demo_runs.py --seeds 0 --n 900

Results go to ``evaluation/results/demo.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from spectral_fast import __version__
from spectral_fast.demo import DEFAULT_N, SHIFTS, run_demo


def _cpu_seconds() -> float:
    """User + system time of this process and of its reaped children (the image workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_seed(seed: int, n: int, workers: int | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="sf-demo-") as out:
        cpu0, load0 = _cpu_seconds(), os.getloadavg()[0]
        result = run_demo(out, n=n, seed=seed, quiet=True, workers=workers)
        cpu, load1 = _cpu_seconds() - cpu0, os.getloadavg()[0]
    return {
        "seed": seed,
        "n": n,
        "wall_s": round(result.timings["total"], 1),
        "stages_s": {k: round(v, 1) for k, v in result.timings.items() if k != "total"},
        "cpu_s": round(cpu, 1),
        "load_avg_1min": [round(load0, 2), round(load1, 2)],
        "error_rate": {r["setting"]: round(r["error_rate"], 4) for r in result.settings},
        "planted": [
            {
                "setting": p["setting"],
                "rank": p["rank"],
                "precision": round(p["precision"], 3),
                "recall": round(p["recall"], 3),
            }
            for p in result.planted
        ],
        "blind_spots": [{"rank": s["rank"], "n": s["n"], "counts": s["counts"]} for s in result.blind_spots],
        "overall": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.overall.items()},
    }


def markdown(runs: list[dict], cores: int) -> str:
    settings = list(runs[0]["error_rate"])
    lines = [
        f"# Demo runs (spectral_fast {__version__}, n = {runs[0]['n']}, {cores} cores)",
        "",
        "Command: `python evaluation/demo_runs.py` (each seed is `spectral-fast demo --seed S`).",
        "",
        "| seed | wall s | CPU s | load (1 min) | "
        + " | ".join(f"error {s}" for s in settings)
        + " | "
        + " | ".join(f"{s} P / R (spot)" for s in SHIFTS)
        + " | top spots are shifts |",
        "|" + "---|" * (4 + len(settings) + len(SHIFTS) + 1),
    ]
    for r in runs:
        planted = {p["setting"]: p for p in r["planted"]}
        cells = [
            str(r["seed"]),
            f"{r['wall_s']:.0f}",
            f"{r['cpu_s']:.0f}",
            f"{r['load_avg_1min'][0]:.1f}-{r['load_avg_1min'][1]:.1f}",
        ]
        cells += [f"{100 * r['error_rate'][s]:.1f} %" for s in settings]
        cells += [
            f"{planted[s]['precision']:.2f} / {planted[s]['recall']:.2f} ({'#' + str(planted[s]['rank']) if planted[s]['rank'] else 'no spot'})"
            for s in SHIFTS
        ]
        cells.append("yes" if r["overall"]["top_are_shifts"] else "no")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Stages (s): "
        + "; ".join(f"seed {r['seed']}: " + ", ".join(f"{k} {v:.0f}" for k, v in r["stages_s"].items()) for r in runs),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n", type=int, default=DEFAULT_N)
    parser.add_argument("--workers", type=int, default=None, help="image worker processes (default: every core)")
    parser.add_argument("--out", type=Path, default=ROOT / "evaluation" / "results" / "demo")
    args = parser.parse_args()
    runs = []
    for seed in args.seeds:
        runs.append(run_seed(seed, args.n, args.workers))
        print(json.dumps(runs[-1]), flush=True)
    cores = os.cpu_count() or 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"version": __version__, "cores": cores, "runs": runs}, indent=1)
    )
    args.out.with_suffix(".md").write_text(markdown(runs, cores))
    print(markdown(runs, cores))


if __name__ == "__main__":
    main()
