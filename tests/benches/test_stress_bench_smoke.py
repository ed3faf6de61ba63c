"""Smoke test of the stress-overhead benchmark (benches/bench_stress.py --quick).

It runs, writes JSON and markdown, times inference and the three overhead
cases, and its filter agrees with the numpy oracle. Nothing here asserts a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.mark.slow
def test_quick_stress_benchmark(tmp_path):
    cmd = [sys.executable, str(ROOT / "benches" / "bench_stress.py"), "--quick", "--out-dir", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "stress.json").read_text())
    assert doc["benchmark"] == "stress" and doc["valid_benchmark"] is False
    names = [m["name"] for m in doc["measurements"]]
    assert names == [
        "inference",
        "inference, 8 conv layers",
        "filter 224 px, a curve per image",
        "filter 256 px + resize to 224",
        "filter 1024 px + resize to 224",
        "filter 224 px, one curve per call (the stress run)",
    ]
    assert all(m["units"] == 4 and m["repeats"] == 1 for m in doc["measurements"])
    assert doc["ratios"]["inference"] == 1.0 and doc["target"]["limit"] == 0.2
    assert set(doc["target"]) >= {"ratio", "cpu_ratio", "met", "cpu_met"}
    assert doc["agreement"]["passed"], doc["agreement"]
    md = (tmp_path / "stress.md").read_text()
    assert "## Target" in md and "CPU / inference" in md
