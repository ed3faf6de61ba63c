"""Reading predictions and joining them to profiles by id."""

from __future__ import annotations

import polars as pl
import pytest

from spectral_fast.analysis.predictions import PartialMatchWarning, join_predictions, normalise_id, read_predictions
from spectral_fast.errors import InvalidInputError


def profiles(ids):
    return pl.DataFrame({"id": ids, "band_00": [float(i) for i in range(len(ids))]})


def test_normalise_id_modes():
    assert normalise_id("a/b/c.png", "exact") == "a/b/c.png"
    assert normalise_id("a/b/c.png", "basename") == "c.png"
    assert normalise_id("C:\\x\\c.png", "basename") == "c.png"
    assert normalise_id("a/b/c.tar.png", "stem") == "c.tar"
    assert normalise_id("a/.hidden", "stem") == ".hidden"
    assert normalise_id("noext", "stem") == "noext"


def test_read_csv_and_parquet(tmp_path):
    df = pl.DataFrame({"image": ["a.png", "b.png"], "y": [0, 1], "p": [0.2, 0.7]})
    df.write_csv(tmp_path / "p.csv")
    df.write_parquet(tmp_path / "p.parquet")
    assert read_predictions(tmp_path / "p.csv").equals(df)
    assert read_predictions(tmp_path / "p.parquet").equals(df)
    with pytest.raises(FileNotFoundError):
        read_predictions(tmp_path / "missing.csv")
    (tmp_path / "p.xlsx").write_text("x")
    with pytest.raises(InvalidInputError, match="unknown format"):
        read_predictions(tmp_path / "p.xlsx")


def test_exact_join_keeps_profile_order_and_renames_clashes():
    prof = profiles(["x/a.png", "x/b.png", "x/c.png"])
    pred = pl.DataFrame({"id": ["x/c.png", "x/a.png", "x/b.png"], "band_00": [9.0, 9.0, 9.0], "y": [1, 0, 1]})
    out = join_predictions(prof, pred)
    assert out["id"].to_list() == ["x/a.png", "x/b.png", "x/c.png"]
    assert out["y"].to_list() == [0, 1, 1]
    assert "band_00_prediction" in out.columns and "prediction_id" in out.columns


def test_basename_and_stem_matching():
    prof = profiles(["site1/a.png", "site1/b.png"])
    pred = pl.DataFrame({"file": ["/data/a.png", "/data/b.png"], "y": [0, 1]})
    out = join_predictions(prof, pred, id_col="file", match="basename")
    assert out["y"].to_list() == [0, 1]
    pred2 = pl.DataFrame({"file": ["a", "b"], "y": [0, 1]})
    assert join_predictions(prof, pred2, id_col="file", match="stem")["y"].to_list() == [0, 1]


def test_few_matches_is_an_error_with_examples_from_both_sides():
    prof = profiles(["site1/a.png", "site1/b.png", "site1/c.png"])
    pred = pl.DataFrame({"id": ["a.png", "b.png", "c.png"], "y": [0, 1, 0]})
    with pytest.raises(InvalidInputError, match=r"only 0 of 3.*site1/a.png.*'a.png'.*basename"):
        join_predictions(prof, pred)


def test_partial_match_and_duplicates_warn_with_counts():
    prof = profiles([f"{i}.png" for i in range(10)])
    pred = pl.DataFrame({"id": [f"{i}.png" for i in range(8)] + ["0.png", "zz.png"], "y": [0] * 10})
    with pytest.warns(PartialMatchWarning, match=r"joined 8 images.*1 duplicate.*2 of 10 profiles have no prediction"):
        out = join_predictions(prof, pred)
    assert out.height == 8


def test_ambiguous_basenames_are_dropped_with_a_warning():
    prof = profiles(["a/x.png", "b/x.png", "a/y.png", "a/z.png"])
    pred = pl.DataFrame({"id": ["x.png", "y.png", "z.png"], "y": [1, 0, 1]})
    with pytest.warns(PartialMatchWarning, match="2 profiles share 1 ids"):
        out = join_predictions(prof, pred, match="basename")
    assert out["id"].to_list() == ["a/y.png", "a/z.png"]


def test_missing_id_column_names_it():
    with pytest.raises(InvalidInputError, match="'image'.*columns are"):
        join_predictions(profiles(["a"]), pl.DataFrame({"id": ["a"]}), id_col="image")
    with pytest.raises(InvalidInputError, match="match must be"):
        join_predictions(profiles(["a"]), pl.DataFrame({"id": ["a"]}), match="fuzzy")


def test_partial_match_error_shows_real_ids_of_both_sides_and_only_looser_modes():
    """All predictions matched but they cover a third of the profiles: their ids are shown, not []."""
    prof = profiles([f"site/{i}.png" for i in range(9)])
    pred = pl.DataFrame({"id": ["0.png", "1.png", "2.png"], "y": [0, 1, 0]})
    with pytest.raises(InvalidInputError) as exc:
        join_predictions(prof, pred, match="basename")
    text = str(exc.value)
    assert "profile ids without a prediction e.g. ['site/3.png', 'site/4.png', 'site/5.png']" in text
    assert "prediction ids (all 3 matched) e.g. ['0.png', '1.png', '2.png']" in text
    assert "e.g. []" not in text
    assert "match='stem'" in text and "match='basename'" not in text
    assert "accept 33% coverage with min_match_share (CLI: --min-match)" in text
    with pytest.warns(PartialMatchWarning, match="6 of 9 profiles have no prediction"):
        assert join_predictions(prof, pred, match="basename", min_match_share=0.3).height == 3
    with pytest.raises(InvalidInputError, match=r"only 0 of 9.*\(at least 50% needed\)") as exc:
        join_predictions(prof, pred.with_columns(pl.lit("x.png").alias("id")), match="stem")
    assert "To go on" not in str(exc.value)  # nothing looser than stem, and no coverage to accept
    with pytest.raises(InvalidInputError, match=r"min_match_share must be a number in \(0, 1\], got 0"):
        join_predictions(prof, pred, min_match_share=0)
