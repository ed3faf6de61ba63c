"""Smoke test of the core benchmark (benches/bench_core.py) in --quick mode.

Checks that the benchmark runs, writes its JSON and markdown, records the
machine and thread settings, and that every pipeline it times agrees with the
reference. It never asserts anything about timings.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benches" / "bench_core.py"

pytest.importorskip("scipy")
pytest.importorskip("pyfftw")
pytest.importorskip("PIL")
pytest.importorskip("threadpoolctl")


def _core_available() -> bool:
    try:
        importlib.import_module("spectral_fast._core")
    except ImportError:
        return False
    return True


def _run(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    cmd = [
        sys.executable,
        str(BENCH),
        "--quick",
        "--sizes",
        "32,64",
        "--batch",
        "3",
        "--repeats",
        "1",
        "--out-dir",
        str(tmp_path),
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"bench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    doc = json.loads((tmp_path / "core.json").read_text())
    return proc, doc


def _check_common(doc: dict, tmp_path: Path) -> None:
    for key in (
        "schema_version",
        "benchmark",
        "command",
        "valid_benchmark",
        "build",
        "machine",
        "inputs",
        "config",
        "results",
        "ratios",
        "targets",
        "agreement",
        "fftw_planning_s",
        "foreign_load_cores",
    ):
        assert key in doc, key
    assert doc["benchmark"] == "core"
    assert doc["valid_benchmark"] is False  # a quick run is never a benchmark
    machine = doc["machine"]
    for key in ("cpu_model", "logical_cpus", "python", "versions", "env", "timestamp_utc"):
        assert key in machine, key
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "RAYON_NUM_THREADS"):
        assert var in machine["env"], var
    assert doc["config"]["sizes"] == [32, 64]
    assert doc["config"]["threads"] == [1, 2]

    pipelines = {(r["size"], r["pipeline"], r["threads"]) for r in doc["results"]}
    for size in (32, 64):
        assert (size, "reference", 1) in pipelines
        for t in (1, 2):
            for p in ("scipy", "pyfftw", "floor_pyfftw", "floor_scipy"):
                assert (size, p, t) in pipelines, (size, p, t)
        assert (size, "scipy_pythreads", 2) in pipelines
    for r in doc["results"]:
        for key in ("ms_per_image", "images_per_s", "median_s", "times_s", "repeats", "label", "cores_used"):
            assert key in r, key
        assert r["median_s"] > 0 and r["repeats"] == 1

    # the numeric agreement check ran for every full pipeline and passed
    agreement = doc["agreement"]
    assert agreement["passed"] is True, agreement
    for size in ("32", "64"):
        checked = agreement["by_size"][size]
        for name in ("scipy/t1", "scipy/t2", "scipy_pythreads/t2", "pyfftw/t1", "pyfftw/t2"):
            assert checked[name]["passed"] is True, (size, name, checked[name])
            assert checked[name]["images"] == 3
    md = (tmp_path / "core.md").read_text()
    assert "# Core benchmark" in md and "Agreement with the reference" in md
    assert "Not a benchmark" in md


@pytest.mark.slow
def test_quick_peers_only(tmp_path: Path) -> None:
    _, doc = _run(tmp_path, "--no-core")
    _check_common(doc, tmp_path)
    assert doc["build"] is None
    assert not any(r["pipeline"] == "spectral_fast" for r in doc["results"])


@pytest.mark.skipif(not _core_available(), reason="spectral_fast._core is not built")
@pytest.mark.slow
def test_quick_with_core(tmp_path: Path) -> None:
    _, doc = _run(tmp_path, "--allow-debug")
    _check_common(doc, tmp_path)
    assert doc["build"]["profile"] in ("release", "debug")
    pipelines = {(r["pipeline"], r["threads"]) for r in doc["results"]}
    assert ("spectral_fast", 1) in pipelines and ("spectral_fast", 2) in pipelines
    for size in ("32", "64"):
        for t in (1, 2):
            check = doc["agreement"]["by_size"][size][f"spectral_fast/t{t}"]
            assert check["passed"] is True, check
    peers = {(r["peer"], r["threads"]) for r in doc["ratios"]}
    assert ("reference", 2) in peers and ("scipy", 2) in peers and ("floor_pyfftw", 1) in peers


def test_allow_debug_needs_quick(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--allow-debug", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--allow-debug" in proc.stderr


def test_refuses_debug_and_unknown_builds() -> None:
    sys.path.insert(0, str(ROOT / "benches"))
    try:
        timing = importlib.import_module("_timing")
    finally:
        sys.path.remove(str(ROOT / "benches"))

    release = SimpleNamespace(__name__="fake", build_info=lambda: {"profile": "release", "version": "0"})
    assert timing.require_release_build(release)["profile"] == "release"

    debug = SimpleNamespace(__name__="fake", build_info=lambda: {"profile": "debug", "version": "0"})
    with pytest.raises(timing.BuildProfileError, match="debug"):
        timing.require_release_build(debug)
    assert timing.require_release_build(debug, allow_debug=True)["profile"] == "debug"

    legacy = SimpleNamespace(__name__="fake", build_profile=lambda: "debug")
    with pytest.raises(timing.BuildProfileError):
        timing.require_release_build(legacy)

    silent = SimpleNamespace(__name__="fake")
    with pytest.raises(timing.BuildProfileError, match="build_info"):
        timing.require_release_build(silent)


def test_interleaving_and_stats() -> None:
    sys.path.insert(0, str(ROOT / "benches"))
    try:
        timing = importlib.import_module("_timing")
    finally:
        sys.path.remove(str(ROOT / "benches"))
    order: list[str] = []
    cases = [timing.Case(name=n, fn=lambda n=n: order.append(n) or n, units=2) for n in "abc"]
    ms = timing.run_interleaved(cases, repeats=3, warmup=1)
    assert order[:3] == ["a", "b", "c"]  # warm-ups
    assert order[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # rotated each repeat
    assert [m.warmup_result for m in ms] == ["a", "b", "c"]
    assert all(len(m.times) == 3 and m.per_unit_ms > 0 for m in ms)
    selfc = timing.Case(name="s", fn=lambda: 0.5, units=5, self_timed=True)
    (m,) = timing.run_interleaved([selfc], repeats=2, warmup=0)
    assert m.times == [0.5, 0.5] and m.per_unit_ms == pytest.approx(100.0)
    assert timing.md_table(["a", "b"], [[1, 2]]).splitlines() == ["| a | b |", "| :--- | ---: |", "| 1 | 2 |"]
