"""``monitor`` says why: machine-readable reasons, a verdict line led by the rule that fired, extrapolation flagged."""

from __future__ import annotations

import json
import re
import typing

import numpy as np
import polars as pl
import pytest

from helpers.profile_tables import make_profiles
from spectral_fast.analysis.pipeline import Finding, analyze
from spectral_fast.reliability.monitoring import MonitorSummary, Reason, monitor
from spectral_fast.render.folders import write_monitor, write_report

RULES = {"unknown_territory", "accuracy_drop", "blind_spot_share", "mix_shift", "band_shift"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reasons")
    table, _, error = make_profiles(400, 0, 0.25)
    truth = np.random.default_rng(0).random(table.height) < 0.5
    preds = pl.DataFrame({"id": table["id"], "y": truth.astype(int), "p": np.where(truth != error, 0.8, 0.2)})
    write_report(analyze(table, preds, [Finding("y", score_col="p")], n_perm=199, n_boot=10), tmp / "r")
    return tmp / "r"


def _check_reasons(summary):
    for r in summary["reasons"]:
        assert set(r) == set(Reason.__annotations__) and r["rule"] in RULES and r["level"] in ("alert", "drift")
        assert 0.0 <= r["p_value"] <= 1.0 and r["sentence"]
    levels = [r["level"] for r in summary["reasons"]]
    assert levels == sorted(levels)  # alerts first


def test_unknown_territory_leads_the_line_and_accuracy_is_an_extrapolation(model_dir, tmp_path):
    batch, _, _ = make_profiles(100, 13, 0.0, offset=2.0)
    res = monitor(model_dir, batch, unknown_alert=0.25)
    s = res.summary
    assert s["verdict"] == "alert" and s["accuracy_extrapolated"] is True and s["accuracy"]["y"]["extrapolated"]
    first = s["reasons"][0]
    assert first["rule"] == "unknown_territory" and first["level"] == "alert"
    assert first["value"] == 1.0 and first["threshold"] == 0.25 and first["p_value"] < 1e-6
    a = s["accuracy"]["y"]
    head = re.escape(
        "ALERT: 100 % of the batch is unknown territory (threshold 25 %, expected 1 %, p < 1e-6); "
        f"expected accuracy (y) {a['reference']:.3f} -> {a['batch']:.3f}"
    )
    assert re.match(head + r"( \([^)]*\))? is an extrapolation[;.]", s["verdict_line"]), s["verdict_line"]
    _check_reasons(s)
    doc = json.loads(write_monitor(res, tmp_path / "m")["json"].read_text())
    assert doc["reasons"][0]["rule"] == "unknown_territory" and doc["accuracy_extrapolated"] is True


def test_drift_toward_a_blind_spot_names_its_rules_and_no_extrapolation(model_dir):
    batch, _, _ = make_profiles(300, 12, 0.7)
    s = monitor(model_dir, batch).summary
    rules = [r["rule"] for r in s["reasons"]]
    assert s["verdict"] == "alert" and rules[0] == "accuracy_drop"
    assert {"mix_shift", "blind_spot_share", "band_shift"} <= set(rules)
    drop = s["reasons"][0]
    assert drop["finding"] == "y" and drop["value"] == s["accuracy"]["y"]["change"] and drop["threshold"] == -0.02
    assert drop["p_value"] < 0.05
    assert s["accuracy_extrapolated"] is False and "extrapolation" not in s["verdict_line"]
    assert s["verdict_line"].startswith(f"ALERT: {drop['sentence']}; ")
    _check_reasons(s)


def test_a_same_batch_is_ok_with_no_reasons_and_the_summary_matches_its_type(model_dir):
    batch, _, _ = make_profiles(300, 11, 0.25)
    s = monitor(model_dir, batch).summary
    assert s["verdict"] == "ok" and s["reasons"] == [] and s["verdict_line"].startswith("OK: no rule fired.")
    assert set(s) == set(typing.get_type_hints(MonitorSummary))
