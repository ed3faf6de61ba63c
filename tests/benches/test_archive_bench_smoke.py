"""Smoke test of the archive benchmark (benches/bench_archive.py --quick): it runs,
writes JSON and markdown, checks every peer against spectral_fast, and measures
memory in subprocesses. Nothing here asserts a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("scipy")


@pytest.mark.slow
def test_quick_archive_benchmark(tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "benches" / "bench_archive.py"),
        "--quick",
        "--out-dir",
        str(tmp_path / "out"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "out" / "archive.json").read_text())
    assert doc["benchmark"] == "archive" and doc["valid_benchmark"] is False
    (result,) = doc["results"].values()
    assert {m["pipeline"] for m in result["measurements"]} == {
        "spectral_fast",
        "sf_with_artefacts",
        "reference",
        "scipy_pool",
        "decode_rust",
        "decode_pillow",
    }
    assert all(a["passed"] for a in result["agreement"].values()), result["agreement"]
    assert set(result["agreement"]) == {"sf_with_artefacts", "reference", "scipy_pool"}
    assert result["with_artefacts"]["vs_reference"] > 0 and result["with_artefacts"]["vs_scipy_pool"] > 0
    runs = doc["memory"]["runs"]
    assert [r["images"] for r in runs] == doc["config"]["rss"] and all(r["ok"] == r["images"] for r in runs)
    assert doc["projection"]["images"] == 112_120 and doc["projection"]["minutes"] > 0
    md = (tmp_path / "out" / "archive.md").read_text()
    assert "## Targets" in md and "Projected time for 112,120 images" in md
