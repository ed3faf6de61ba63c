"""Smoke test of benches/bench_artefact_cost.py --quick: it runs both sides at each
thread count and writes JSON and markdown. Nothing here asserts a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_artefact_cost_benchmark(tmp_path):
    cmd = [sys.executable, str(ROOT / "benches" / "bench_artefact_cost.py"), "--quick", "--allow-debug"]
    proc = subprocess.run([*cmd, "--out-dir", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "artefact_cost.json").read_text())
    assert doc["benchmark"] == "artefact_cost" and doc["valid_benchmark"] is False
    assert [r["threads"] for r in doc["rows"]] == [1, 2]
    for row in doc["rows"]:
        assert len(row["off_ms"]) == len(row["on_ms"]) == doc["repeats"] == 2
        assert all(t > 0 for t in row["off_ms"] + row["on_ms"])
    assert "Not a benchmark" in (tmp_path / "artefact_cost.md").read_text()
