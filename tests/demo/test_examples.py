"""examples/quickstart.py, the smallest data-free use of the package: it must work and show the blur."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SETTINGS = {"clean", "blur sigma 1.5 px"}
QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"


def test_quickstart_prints_profiles_that_separate_blur():
    out = subprocess.run(
        [sys.executable, str(QUICKSTART)], capture_output=True, text=True, check=True, timeout=600
    ).stdout
    # Data rows of the 3-column summary table: "│ setting ┆ mean hf_ratio ┆ mean slope │".
    rows = [line.strip("│ ").split("┆") for line in out.splitlines() if line.count("┆") == 2]
    summary = {cells[0].strip(): float(cells[1]) for cells in rows if cells[0].strip() in SETTINGS}
    assert set(summary) == SETTINGS
    # Blur removes high-frequency energy: the mean hf_ratio must drop.
    assert summary["blur sigma 1.5 px"] < summary["clean"] / 10
    assert "error" not in out
