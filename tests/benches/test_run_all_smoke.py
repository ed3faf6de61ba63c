"""Smoke test of the one benchmark command (benches/run_all.py --quick): every
section runs and is written, the peers agree with spectral_fast, the artefact
features change no other column. Nothing here asserts a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("scipy")
pytest.importorskip("pyfftw")
pytest.importorskip("pydicom")


@pytest.mark.slow
def test_quick_run_all(tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "benches" / "run_all.py"),
        "--quick",
        "--out-dir",
        str(tmp_path / "out"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "out" / "all.json").read_text())
    assert doc["benchmark"] == "all" and doc["valid_benchmark"] is False
    assert set(doc["archives"]) == {"png128", "png96", "png256", "rgb120x96", "dicom16_native", "dicom16_jpegll"}
    for label, res in doc["archives"].items():
        pipelines = {m["pipeline"] for m in res["measurements"]}
        assert {"sf_default", "sf_no_artefacts", "decode_rust"} <= pipelines, label
        assert res["artefacts_change_nothing_else"], label
        assert res["floor"]["share_default"] > 0, label
        if res["peer_problem"] is None:
            assert res["agreement"]["passed"], (label, res["agreement"])
    # The floor rows of the large PNG: decode alone and the bare FFT alone.
    assert doc["archives"]["png128"]["floor"]["parts"] == ["decode_rust", "fft_floor"]
    assert [r["rows"] for r in doc["report"]] == [300, 600] and all(r["exit"] == 0 for r in doc["report"])
    startup = {s["command"]: s for s in doc["startup"]}
    first, whole = (
        startup["spectral-fast profile, until the first image starts"],
        startup["spectral-fast profile (one 96^2 PNG), whole run"],
    )
    assert "spectral-fast --help" in startup and 0 < first["cpu_s"] <= whole["cpu_s"]
    md = (tmp_path / "out" / "all.md").read_text()
    assert "## Targets" in md and "## Start-up" in md and "## report" in md
