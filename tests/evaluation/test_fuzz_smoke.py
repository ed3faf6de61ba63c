"""Smoke test of evaluation/fuzz_archive.py: its --quick run, and that it pins a failure on the one input.

Nothing here asserts a timing.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "evaluation" / "fuzz_archive.py"

pytest.importorskip("psutil")
pytest.importorskip("pydicom")


def _module():
    spec = importlib.util.spec_from_file_location("fuzz_archive", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_archive"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_quick_run_profiles_50_mutants_per_format_without_findings(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--keep", str(tmp_path / "kept"), "--json", str(tmp_path / "f.json")],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for fmt in ("png", "jpeg", "tiff", "dicom"):
        assert f"| {fmt} | 50 | 1 |" in proc.stdout
    assert "Findings: none" in proc.stdout


# A stand-in for the real worker: fails in a chosen way on one named file.
FAKE_WORKER = r"""
import json, os, signal, sys, time
folder, out = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(folder))
if "crash.bin" in names:
    os.kill(os.getpid(), signal.SIGSEGV)
if "hang.bin" in names:
    time.sleep(60)
if "raise.bin" in names:
    raise AttributeError("'FileMetaDataset' object has no attribute 'TransferSyntaxUID'")
if "big.bin" in names:
    hog = bytearray(400 << 20)
with open(out, "w") as fh:
    json.dump({"rows": [{"id": n, "status": "ok", "kind": None} for n in names], "maxrss_kib": 0}, fh)
"""


@pytest.mark.parametrize(
    ("culprit", "kind"),
    [("crash.bin", "crash"), ("hang.bin", "hang"), ("raise.bin", "exception"), ("big.bin", "memory")],
)
def test_bisection_attributes_a_failure_to_its_single_input(tmp_path, culprit, kind):
    fuzz = _module()
    files = []
    for i in range(7):
        files.append(tmp_path / f"in_{i}.bin")
        files[-1].write_bytes(b"x")
    files.insert(5, tmp_path / culprit)
    files[5].write_bytes(b"x")
    work = tmp_path / "work"
    work.mkdir()
    opts = dict(timeout=5.0, rss_limit=3 << 30, mem_flag=300 << 20, worker=FAKE_WORKER)
    assert fuzz.run_batch(files, work, **opts).kind == kind
    found = fuzz.bisect(files, work, **opts)
    assert [(f.name, o.kind) for f, o, _ in found] == [(culprit, kind)]


# Every row is fine except the first, which the core reports as a caught panic.
PANIC_WORKER = r"""
import json, os, sys
folder, out = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(folder))
rows = [{"id": n, "status": "error" if i == 0 else "ok", "kind": "decoder_panic" if i == 0 else None}
        for i, n in enumerate(names)]
with open(out, "w") as fh:
    json.dump({"rows": rows, "maxrss_kib": 0}, fh)
"""


def test_an_input_whose_row_is_a_caught_panic_is_kept(tmp_path):
    fuzz = _module()
    keep = tmp_path / "kept"
    opts = dict(timeout=30.0, rss_limit=3 << 30, mem_flag=1 << 30, worker=PANIC_WORKER)
    tallies, findings = fuzz.fuzz(6, 3, 3, keep, formats=("png",), use_real=False, **opts)
    assert tallies["png"].failures["panic"] == 2  # one per batch of 3
    assert [(f["kind"], f["inputs"]) for f in findings] == [
        ("panic", ["png_000000.png"]),
        ("panic", ["png_000003.png"]),
    ]
    assert sorted(p.name for p in keep.iterdir()) == ["png_000000.png", "png_000003.png"]
    assert "| png | 6 | 2 |" in fuzz.report(tallies, findings, keep)


def test_mutants_depend_only_on_the_seed():
    fuzz = _module()
    assert fuzz.make_seeds(use_real=False) == fuzz.make_seeds(use_real=False)
