"""The planted benchmark's side-by-side comparison and the merge of runs made side by side."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "evaluation"))

pytest.importorskip("sklearn")


def _result(values: dict[str, list[tuple[float, float]]], n_images: int = 100, finder: str = "spectral_fast") -> dict:
    records = [
        {"change": c, "seed": s, "errors": "a", "finder": finder, "precision": p, "recall": r}
        for c, pr in values.items()
        for s, (p, r) in enumerate(pr)
    ]
    return {"n_images": n_images, "share": 0.2, "seeds": max(len(v) for v in values.values()), "records": records,
            "edge_overshoot": {"clean": {}, "planted_median": {c: 1.0 for c in values}}}  # fmt: skip


def test_no_worse_is_within_one_standard_error_of_the_difference():
    from planted_compare import mean_se, verdict

    assert mean_se(np.array([1.0, 0.0])) == pytest.approx((0.5, 0.5))
    assert mean_se(np.array([0.7])) == (0.7, 0.0)
    base = {"precision": np.array([1.0, 0.8]), "recall": np.array([0.9, 0.9])}  # se 0.1 and 0
    # precision 0.1 lower: exactly one SE of the difference (sqrt(0.1^2 + 0)); recall higher
    assert verdict(base, {"precision": np.array([0.8, 0.8]), "recall": np.array([1.0, 1.0])}) == (True, [])
    # recall 0.3 lower with no spread: worse
    assert verdict(base, {"precision": np.array([0.9, 0.9]), "recall": np.array([0.6, 0.6])}) == (False, ["recall"])


def test_compare_writes_one_row_per_shared_change_with_its_verdict():
    from planted_compare import compare

    base = _result({"blur": [(1.0, 1.0), (1.0, 0.9)], "sharpen": [(0.9, 0.9), (0.8, 0.9)]})
    new = _result({"blur": [(1.0, 1.0), (1.0, 1.0)], "sharpen": [(0.95, 0.4), (0.95, 0.45)], "grid": [(1, 1)]})
    text = compare(base, new, "small", "large")
    rows = [line for line in text.splitlines() if line.startswith("| blur") or line.startswith("| sharpen")]
    assert rows[0].endswith("| yes |") and rows[1].endswith("| no: recall |")
    assert "| grid" not in text  # only changes both runs have


def test_merge_joins_runs_of_the_same_set_and_refuses_different_ones():
    from planted_slices import merge_results

    a, b = _result({"blur": [(1, 1)]}), _result({"gamma": [(1, 0.5)]})
    merged = merge_results([a, b])
    assert [r["change"] for r in merged["records"]] == ["blur", "gamma"]
    assert set(merged["edge_overshoot"]["planted_median"]) == {"blur", "gamma"}
    with pytest.raises(SystemExit, match="differ in image count"):
        merge_results([a, _result({"gamma": [(1, 1)]}, n_images=50)])
