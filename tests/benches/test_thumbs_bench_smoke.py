"""Smoke test of benches/bench_thumbs.py --quick: both thumbnail archives are timed
against the scipy pool, whose features agree with spectral_fast's, and the result
files are written. Nothing here asserts a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("scipy")


@pytest.mark.slow
def test_quick_thumbs(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "benches" / "bench_thumbs.py"), "--quick", "--out-dir", str(out)]
    cmd += ["--cache-dir", str(tmp_path / "cache")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((out / "thumbs.json").read_text())
    assert doc["benchmark"] == "thumbs" and doc["valid_benchmark"] is False
    assert set(doc["archives"]) == {"png96", "png256"}
    for label, res in doc["archives"].items():
        assert {m["pipeline"] for m in res["measurements"]} == {
            "sf_default",
            "sf_no_artefacts",
            "decode_rust",
            "scipy_pool",
        }
        assert res["agreement"]["passed"] and res["artefacts_change_nothing_else"], label
    assert len(doc["targets"]) == 2 and "CPU time" in doc["targets"][0]["target"]
    assert "## Targets" in (out / "thumbs.md").read_text()
