"""Smoke test of the real-world evaluation in its --quick mode, on the real images.

It keeps ``python evaluation/real_world.py --quick`` runnable and checks that
every table is produced and every score is a share in [0, 1]. Nothing here
asserts a timing or a finder's quality (the full run records that).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"

pytest.importorskip("sklearn")


@pytest.mark.skipif(
    not all((DATA / d / "metadata.csv").exists() for d in ("cxr-real", "nih-extra")),
    reason="needs ../shared/data/cxr-real and ../shared/data/nih-extra",
)
def test_quick_real_world_evaluation_produces_its_tables(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "evaluation" / "real_world.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "real_world.json").read_text())
    md = (tmp_path / "real_world.md").read_text()
    names = [s["scenario"] for s in result["scenarios"]]
    assert names == ["site_shortcut", "view_shortcut", "detector_shift"]
    for name in names:
        assert f"| {name} |" in md
    assert "Null control" in md and "supervised ceiling" in md
    shares = []
    for sc in result["scenarios"]:
        assert sc["n_test"] > 0 and len(sc["seeds"]) == 1
        shares.append(sc["balanced_accuracy"])
        for direction in ("miss", "false_alarm"):
            if sc["failing"][direction] is not None:
                shares += [sc[direction][m] for m in ("precision", "recall", "precision_top1", "recall_top1")]
        aris = [r[k] for r in sc["seeds"] for k in ("ari_site", "ari_view", "ari_spacing")]
        assert all(-1.0 <= v <= 1.0 for v in aris), aris  # ARIs can dip below 0 by chance
    shares += [v for k, v in result["diagnostics"].items() if k.startswith("ceiling")]
    assert shares and all(0.0 <= v <= 1.0 for v in shares), shares
    assert all(-1.0 <= v <= 1.0 for k, v in result["diagnostics"].items() if k.startswith("ari"))
    assert 0 <= result["null"]["seeds_with_spot"] <= result["null"]["n_seeds"] == 2
    assert 0 <= result["null"]["seeds_with_any_spot"] <= 2 and "Arm 2" in md
    # the metadata arm scores the same scenarios on three spot sets; group precision is never below 0 or above 1
    assert [s["scenario"] for s in result["scenarios_metadata"]] == names
    for sc in result["scenarios_metadata"]:
        for direction, fail in sc["failing"].items():
            if fail is not None:
                for k in ("union", "spectral", "metadata"):
                    m = sc["sets"][k][direction]
                    assert all(0.0 <= m[v] <= 1.0 for v in ("precision", "error_precision", "recall")), m
    # The oracle found the shortcut's failure: the classifier really fails somewhere.
    assert any(f is not None for sc in result["scenarios"] for f in sc["failing"].values())
