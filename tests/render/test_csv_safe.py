"""CSV files the package writes never start a cell with a spreadsheet formula (OWASP CSV injection)."""

from __future__ import annotations

import csv
import re

import polars as pl

from helpers.report_cases import make_case
from spectral_fast._shared.serialize import CSV_FORMULA_START, csv_safe
from spectral_fast.analysis.pipeline import Finding, analyze
from spectral_fast.render.folders import write_report

NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def test_csv_safe_prefixes_formula_strings_and_leaves_numbers_alone():
    frame = pl.DataFrame(
        {"s": ["=1+1", "+x", "-cmd", "@SUM(A1)", "\tx", "\rx", "ok", None, "-0.5", "'already"], "n": [-1.5] * 10}
    )
    out = csv_safe(frame)
    assert out["s"].to_list() == ["'=1+1", "'+x", "'-cmd", "'@SUM(A1)", "'\tx", "'\rx", "ok", None, "-0.5", "'already"]
    assert out["n"].to_list() == frame["n"].to_list() and out.schema == frame.schema


def test_report_csvs_neutralise_an_image_id_starting_with_equals(tmp_path):
    prof, preds, _ = make_case(n=160)
    evil = [f'=HYPERLINK("http://x/{i}")' for i in range(prof.height)]
    prof = prof.with_columns(id=pl.Series(evil))
    preds = preds.with_columns(image=pl.Series(evil))
    rep = analyze(prof, preds, [Finding("y", score_col="p")], id_col="image", n_clusters=4, n_perm=49, n_boot=20)
    assert rep.slices["exemplars"].str.starts_with("=").any()  # the hazard is really there
    paths = write_report(rep, tmp_path / "out")
    for name in ("slices", "blind_spots"):
        with open(paths[name], newline="") as fh:
            cells = [c for row in csv.reader(fh) for c in row]
        assert cells
        bad = [c for c in cells if c.startswith(CSV_FORMULA_START) and not NUMBER.match(c)]
        assert not bad, (name, bad[:3])
    back = pl.read_csv(paths["slices"])
    assert back["exemplars"].drop_nulls().str.starts_with("'=").any()
    for col, dtype in rep.slices.schema.items():
        if dtype.is_float():
            assert back[col].fill_nan(None).to_list() == rep.slices[col].fill_nan(None).to_list(), col
        elif dtype.is_integer():
            assert back[col].to_list() == rep.slices[col].to_list(), col
