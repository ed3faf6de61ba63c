"""Smoke test of the archive-scale report benchmark (benches/bench_report_scale.py) on a tiny table.

Runs the benchmark's CLI in --quick mode on a small source table (600 jittered
rows, the archive-scale path from 300 rows), checks that it writes its JSON
and markdown with both runs, the peak RSS of each child and the agreement of
the blind spots. It never asserts anything about timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

from helpers.report_cases import make_case

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benches" / "bench_report_scale.py"


def _source(tmp_path: Path) -> Path:
    prof, preds, _ = make_case(n=160, seed=3)
    src = tmp_path / "source"
    src.mkdir()
    prof.write_parquet(src / "profiles.parquet")
    preds.rename({"y": "finding", "p": "score"}).select("image", "finding", "score").write_csv(src / "predictions.csv")
    return src


def test_quick_run_writes_times_memory_and_agreement(tmp_path):
    cmd = [sys.executable, str(BENCH), "--quick", "--source", str(_source(tmp_path)), "--sizes", "600",
           "--cache-dir", str(tmp_path / "cache"), "--out-dir", str(tmp_path / "out")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"bench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
    doc = json.loads((tmp_path / "out" / "report_scale.json").read_text())
    assert (tmp_path / "out" / "report_scale.md").read_text().startswith("| rows |")
    (row,) = doc["rows"]
    assert row["n"] == 600
    for run in ("default", "full"):
        assert row[run]["peak_rss_mib"] > 10 and row[run]["wall_s"] > 0 and row[run]["html_kib"] > 1
    assert row["full"]["args"] == ["--max-fit-samples", "all"]
    agreement = row["agreement_vs_full"]
    assert -1.0 <= agreement["ari"] <= 1.0
    for values in agreement["jaccard_reference_to_other"].values():
        assert all(0.0 <= v <= 1.0 for v in values)
    assert row["default"]["stages_cpu_s"]["clustering fit"] > 0  # CPU per stage (benches/_report_stages.py)
    # compared with that full fit again without refitting it
    out2 = tmp_path / "out2"
    proc = subprocess.run([*cmd[:-1], str(out2), "--full-from", f"600={row['full']['dir']}"], capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, f"bench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
    (again,) = json.loads((out2 / "report_scale.json").read_text())["rows"]
    assert again["full"]["from"] == row["full"]["dir"] and again["full"]["cpu_s"] == row["full"]["cpu_s"]
    assert again["agreement_vs_full"]["ari"] == agreement["ari"]  # same default run, same reference
    # the synthesised table: 600 jittered copies of the 160 source rows, unique ids
    data = next((tmp_path / "cache").glob("*rows600"))
    table = pl.read_parquet(data / "profiles.parquet")
    assert table.height == 600 and table["id"].n_unique() == 600
    assert pl.read_csv(data / "predictions.csv")["image"].to_list() == table["id"].to_list()
