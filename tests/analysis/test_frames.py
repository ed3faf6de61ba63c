"""Every table argument of the Python API takes any dataframe, or says what it takes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from helpers.profile_tables import make_profiles
from spectral_fast.analysis.clustering import SpectralClusters
from spectral_fast.analysis.pipeline import Finding, analyze
from spectral_fast.analysis.predictions import PartialMatchWarning
from spectral_fast.errors import InvalidTypeError
from spectral_fast.reliability.monitoring import monitor
from spectral_fast.reliability.risk import predict


class StreamOnly:
    """A table known only by the Arrow PyCapsule stream interface (as DuckDB, Daft, nanoarrow export)."""

    def __init__(self, table: pl.DataFrame) -> None:
        self._arrow = table.to_arrow()

    def __arrow_c_stream__(self, requested_schema=None):
        return self._arrow.__arrow_c_stream__(requested_schema)


FORMS = {
    "polars": lambda t: t,
    "pandas": lambda t: t.to_pandas(),
    "pyarrow.Table": lambda t: t.to_arrow(),
    "pyarrow.RecordBatch": lambda t: t.to_arrow().to_batches()[0],
    "__arrow_c_stream__": StreamOnly,
}


@pytest.fixture(scope="module")
def case():
    table, _, error = make_profiles(240, 0, 0.25)
    table = table.with_columns(pl.col(c).cast(pl.Float64) for c in table.columns if c.startswith("band_"))
    truth = np.random.default_rng(0).random(table.height) < 0.5
    preds = pl.DataFrame({"id": table["id"], "y": truth.astype(int), "p": np.where(truth != error, 0.8, 0.2)})
    return table, preds


@pytest.mark.parametrize("form", sorted(FORMS))
def test_spectral_clusters_takes_any_dataframe(case, form):
    table, _ = case
    want = SpectralClusters(4, random_state=0).fit(table)
    got = SpectralClusters(4, random_state=0).fit(FORMS[form](table))
    assert list(got.feature_names_in_) == list(want.feature_names_in_)
    np.testing.assert_array_equal(got.labels_, want.labels_)
    np.testing.assert_array_equal(want.predict(FORMS[form](table)), want.labels_)
    np.testing.assert_allclose(want.transform(FORMS[form](table)), want.transform(table))


def test_get_feature_names_out_names_the_transform_columns(case):
    table, _ = case
    model = SpectralClusters(4, random_state=0).fit(table)
    names = model.get_feature_names_out()
    assert names.tolist() == ["spectralclusters0", "spectralclusters1", "spectralclusters2", "spectralclusters3"]
    assert len(names) == model.transform(table).shape[1]
    assert model.get_feature_names_out(model.feature_names_in_).tolist() == names.tolist()
    with pytest.raises(ValueError, match="differ from the features"):
        model.get_feature_names_out(["a", "b"])


def test_analyze_predict_and_monitor_take_any_dataframe(case):
    table, preds = case
    findings = [Finding("y", score_col="p")]
    want = analyze(table, preds, findings, n_perm=19, n_boot=10)
    for form in ("pandas", "pyarrow.Table", "__arrow_c_stream__"):
        got = analyze(FORMS[form](table), FORMS[form](preds), findings, n_perm=19, n_boot=10)
        assert got.slices.equals(want.slices), form


def test_predict_and_monitor_take_any_dataframe(case, tmp_path):
    from spectral_fast.render.folders import write_report

    table, preds = case
    write_report(analyze(table, preds, [Finding("y", score_col="p")], n_perm=19, n_boot=10), tmp_path / "r")
    batch, _, _ = make_profiles(80, 3, 0.5)
    want = predict(tmp_path / "r", batch)
    scores = pl.DataFrame({"id": batch["id"], "p": np.linspace(0, 1, batch.height)}).head(60)
    with pytest.warns(PartialMatchWarning, match="20 of 80 profiles have no prediction"):  # accepted by min_match
        got = predict(tmp_path / "r", batch.to_pandas(), predictions=scores.to_pandas(), min_match=0.5)
    assert got.images.drop("risk_combined_y").equals(want.images)
    assert (
        monitor(tmp_path / "r", batch.to_arrow()).summary["verdict"]
        == monitor(tmp_path / "r", batch).summary["verdict"]
    )


@pytest.mark.parametrize("bad", [{"id": ["a"]}, [[1.0, 2.0]], 3.5])
def test_anything_else_is_a_type_error_naming_what_is_accepted(case, bad):
    table, preds = case
    accepted = "polars or pandas DataFrame, a pyarrow Table or RecordBatch, or any object with __arrow_c_stream__"
    with pytest.raises(InvalidTypeError, match=accepted):
        analyze(bad, preds, [Finding("y", score_col="p")])
    with pytest.raises(InvalidTypeError, match=accepted):
        analyze(table, bad, [Finding("y", score_col="p")])


def test_a_pandas_frame_with_object_columns_is_named_by_column(case):
    table, _ = case
    frame = table.to_pandas()
    frame["band_03"] = frame["band_03"].astype(str) + "x"
    with pytest.raises(InvalidTypeError, match=r"feature columns must be numeric, got \{'band_03': 'String'\}"):
        SpectralClusters(4, random_state=0).fit(frame)
    assert isinstance(frame, pd.DataFrame) and pa.table(frame).num_rows == table.height


def test_the_report_summary_has_exactly_the_keys_of_its_type(case):
    import typing

    from spectral_fast.analysis.summary_types import ReportSummary

    table, preds = case
    summary = analyze(table, preds, [Finding("y", score_col="p")], n_perm=19, n_boot=10).summary
    assert type(summary) is dict and set(summary) == set(typing.get_type_hints(ReportSummary))
