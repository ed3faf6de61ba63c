"""Read a model's predictions and join them to profiles by image id.

Ids rarely match character for character between a profiler run (paths
relative to the archive root) and a training pipeline (absolute paths, bare
file names, names without extension). ``match`` says how to compare them:
``"exact"``, ``"basename"`` (last path component, ``/`` or ``\\``) or
``"stem"`` (base name without its last extension). Too few matches is an
error that shows examples from both sides; partial matches and duplicate ids
are warnings with counts.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import polars as pl

from spectral_fast.errors import InvalidInputError, InvalidTypeError

MATCH_MODES = ("exact", "basename", "stem")
#: Below this share of profiles matched, a join is an error rather than a warning.
MIN_MATCH_SHARE = 0.5


class PartialMatchWarning(UserWarning):
    """Some ids matched, some did not, or some were duplicated."""


def read_predictions(path: str | Path) -> pl.DataFrame:
    """Read a CSV (``.csv``, ``.tsv``, ``.txt``) or Parquet (``.parquet``, ``.pq``) file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"predictions file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pl.read_parquet(path)
        if suffix in (".csv", ".tsv", ".txt"):
            return pl.read_csv(path, separator="\t" if suffix == ".tsv" else ",", infer_schema_length=10000)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidInputError(f"could not read predictions file {path}: {exc}") from None
    raise InvalidInputError(f"predictions file {path}: unknown format {suffix!r}; use .csv, .tsv or .parquet")


def normalise_id(value: str, match: str) -> str:
    """The comparison key of one id under ``match``."""
    if match == "exact":
        return value
    base = value.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    if match == "basename":
        return base
    stem, dot, _ = base.rpartition(".")
    return stem if dot and stem else base


def join_predictions(
    profiles: pl.DataFrame,
    predictions: pl.DataFrame,
    *,
    id_col: str = "id",
    profile_id_col: str = "id",
    match: str = "exact",
    min_match_share: float = MIN_MATCH_SHARE,
) -> pl.DataFrame:
    """Inner join of ``profiles`` and ``predictions`` on image id.

    Parameters
    ----------
    profiles, predictions : polars.DataFrame
        Profile table and prediction table.
    id_col, profile_id_col : str
        Id column in ``predictions`` and in ``profiles``.
    match : {"exact", "basename", "stem"}
        How ids are compared (module docstring).
    min_match_share : float
        Fewer matched profiles than this share raises.

    Returns
    -------
    polars.DataFrame
        The profile columns, then the prediction columns (the prediction id
        column renamed ``prediction_id`` when it differs from the profile id),
        one row per matched image, in profile order.

    Raises
    ------
    InvalidInputError
        Missing id column, unknown ``match``, or too few matches (with
        examples of unmatched ids from both sides).

    Warns
    -----
    PartialMatchWarning
        Some profiles or predictions unmatched, or duplicate ids.
    """
    if match not in MATCH_MODES:
        raise InvalidInputError(f"match must be one of {MATCH_MODES}, got {match!r}")
    if (
        isinstance(min_match_share, bool)
        or not isinstance(min_match_share, (int, float))
        or not (0.0 < min_match_share <= 1.0)
    ):
        raise InvalidInputError(f"min_match_share must be a number in (0, 1], got {min_match_share!r}")
    if id_col not in predictions.columns:
        raise InvalidInputError(
            f"the predictions have no id column {id_col!r} (CLI: --pred-id-col); columns are {predictions.columns}"
        )
    if profile_id_col not in profiles.columns:
        raise InvalidInputError(
            f"the profile table has no id column {profile_id_col!r} (CLI: --profile-id-col); columns are "
            f"{profiles.columns}"
        )
    if profiles.height == 0:
        raise InvalidInputError("the profile table is empty")
    key = "__sf_key"
    left = profiles.with_columns(
        pl.col(profile_id_col)
        .cast(pl.Utf8)
        .map_elements(lambda v: normalise_id(v, match), return_dtype=pl.Utf8)
        .alias(key)
    )
    right = predictions.with_columns(
        pl.col(id_col).cast(pl.Utf8).map_elements(lambda v: normalise_id(v, match), return_dtype=pl.Utf8).alias(key)
    )
    notes = []
    nulls = right[key].null_count()
    if nulls:
        notes.append(f"{nulls} predictions with an empty id were dropped")
        right = right.filter(pl.col(key).is_not_null())
    dup_right = right.height - right[key].n_unique()
    if dup_right:
        notes.append(f"{dup_right} duplicate prediction ids (first kept)")
        right = right.unique(subset=key, keep="first", maintain_order=True)
    counts = left.group_by(key).len()
    ambiguous = counts.filter(pl.col("len") > 1)
    if ambiguous.height:
        n_amb = int(ambiguous["len"].sum())
        notes.append(f"{n_amb} profiles share {ambiguous.height} ids under match={match!r} (ambiguous, dropped)")
        left = left.join(ambiguous.select(key), on=key, how="anti")

    rename = {}
    for c in right.columns:
        if c == key:
            continue
        if c == id_col and c == profile_id_col:
            rename[c] = "prediction_id"
        elif c in left.columns:
            rename[c] = f"{c}_prediction"
    right = right.rename(rename)
    joined = left.join(right, on=key, how="inner", maintain_order="left")
    matched = joined.height
    if matched == 0 or matched < min_match_share * profiles.height:
        raise InvalidInputError(
            _too_few_matches(left, right, key, profile_id_col, rename.get(id_col, id_col), matched, match,
                             profiles.height, min_match_share)
        )  # fmt: skip
    if matched < profiles.height:
        notes.append(f"{profiles.height - matched} of {profiles.height} profiles have no prediction")
    unused = right.height - matched
    if unused:
        notes.append(f"{unused} of {right.height} predictions have no profile")
    if notes:
        warnings.warn(f"joined {matched} images; " + "; ".join(notes), PartialMatchWarning, stacklevel=2)
    return joined.drop(key)


def _too_few_matches(
    left: pl.DataFrame, right: pl.DataFrame, key: str, left_id: str, right_id: str,
    matched: int, match: str, n_profiles: int, min_match_share: float,
) -> str:  # fmt: skip
    """The error for a join below ``min_match_share``: ids of both sides, the next looser mode, the option."""
    unmatched_left = left.join(right.select(key), on=key, how="anti")[left_id].cast(pl.Utf8)
    unmatched_right = right.join(left.select(key), on=key, how="anti")[right_id].cast(pl.Utf8)
    prediction_ids = unmatched_right if unmatched_right.len() else right[right_id].cast(pl.Utf8)
    which = "without a profile" if unmatched_right.len() else f"all {right.height} matched"
    looser = MATCH_MODES[MATCH_MODES.index(match) + 1 :]
    hints = []
    if looser:
        hints.append("compare ids more loosely with match=" + " or ".join(repr(m) for m in looser) + " (CLI: --match)")
    if matched:
        hints.append(f"accept {matched / n_profiles:.0%} coverage with min_match_share (CLI: --min-match)")
    return (
        f"only {matched} of {n_profiles} profiles matched a prediction by {match} id (at least "
        f"{min_match_share:.0%} needed); profile ids without a prediction e.g. {unmatched_left.head(3).to_list()}; "
        f"prediction ids ({which}) e.g. {prediction_ids.head(3).to_list()}."
        + (" To go on: " + "; or ".join(hints) + "." if hints else "")
    )


def check_columns(table: pl.DataFrame, columns: list[str], what: str = "predictions") -> None:
    """Raise naming every missing column and listing the ones there are."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InvalidInputError(f"column(s) {missing} not found in the {what}; columns are {table.columns}")


def as_numeric(table: pl.DataFrame, column: str):
    """A column as float64 numpy (booleans become 0/1); raises naming the column otherwise."""
    series = table[column]
    if series.dtype == pl.Boolean:
        series = series.cast(pl.Float64)
    if not series.dtype.is_numeric():
        raise InvalidTypeError(f"column {column!r} must be numeric or boolean, got {series.dtype}")
    return series.cast(pl.Float64).fill_null(float("nan")).to_numpy()
