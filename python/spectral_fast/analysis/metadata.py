"""Acquisition metadata of the analysed images: what the files say, and what the user adds.

The profile table already holds what the decoder saw: height and width
(turned into ``short_side`` and ``aspect``), ``format``, ``bit_depth``,
``mode``, ``pixel_spacing_mm`` and the DICOM acquisition tags (``dicom_*``:
manufacturer, model, station, institution, detector, view, processing and
exposure fields). A user table (CSV or Parquet,
one row per image, joined by id like the predictions) adds columns such as
site, scanner or view. These variables are evidence for describing blind
spots (:mod:`spectral_fast.analysis.contrast`) and are scanned for value
groups with excess errors (:mod:`spectral_fast.analysis.metadata_scan`); they
do not enter the clustering (``docs/method.md#acquisition-metadata``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from spectral_fast.errors import InvalidInputError

#: Acquisition columns of a profile table (decoded from the file) used as evidence; and every ``dicom_*`` column.
PROFILE_METADATA = ("format", "bit_depth", "mode", "pixel_spacing_mm")
#: Prefix of the DICOM acquisition tag columns of a profile table (``rust/decode/dicom_tags.rs``).
DICOM_PREFIX = "dicom_"


def align_metadata(
    table: pl.DataFrame,
    metadata: pl.DataFrame | str | Path,
    columns: list[str],
    *,
    id_col: str = "id",
    profile_id_col: str = "id",
    match: str = "exact",
) -> pl.DataFrame:
    """``columns`` of ``metadata`` in the row order of ``table`` (null where an image has no metadata row).

    Ids are compared as for predictions (``match``); a metadata id that
    occurs twice is an error, as is a table none of whose ids match.
    """
    from spectral_fast.analysis.predictions import check_columns, normalise_id, read_predictions

    meta = metadata if isinstance(metadata, pl.DataFrame) else read_predictions(metadata)
    if not columns:
        raise InvalidInputError("metadata: name the columns to use (metadata_cols / --metadata-cols)")
    check_columns(meta, [id_col, *columns], what="metadata")
    keys = [normalise_id(str(v), match) for v in meta[id_col].to_list()]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:3]
        raise InvalidInputError(f"metadata: ids must be unique (under match={match!r}); repeated: {dup}")
    index = {k: i for i, k in enumerate(keys)}
    rows = [index.get(normalise_id(str(v), match)) for v in table[profile_id_col].to_list()]
    if all(r is None for r in rows):
        raise InvalidInputError(
            f"metadata: no id matches the profiles (e.g. {keys[:2]} vs {table[profile_id_col].head(2).to_list()}); "
            "check the id column and match"
        )
    return meta.select(pl.col(columns).gather(pl.Series(rows, dtype=pl.UInt32)))


def metadata_variables(
    table: pl.DataFrame,
    metadata: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Acquisition variables of each row of ``table``: the profile's own, then every column of ``metadata``.

    ``metadata`` must be aligned with ``table`` (:func:`align_metadata`).
    Profile columns that are all null are left out.
    """
    out: list[pl.Series] = []
    if "height" in table.columns and "width" in table.columns:
        h = table["height"].cast(pl.Float64).to_numpy()
        w = table["width"].cast(pl.Float64).to_numpy()
        out.append(pl.Series("short_side", np.fmin(h, w)))
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(pl.Series("aspect", np.round(w / h, 2)))
    dicom = [c for c in table.columns if c.startswith(DICOM_PREFIX)]
    for c in (*PROFILE_METADATA, *dicom):
        if c in table.columns and table[c].null_count() < table.height:
            out.append(table[c])
    if metadata is not None:
        out += [metadata[c] for c in metadata.columns if c not in {s.name for s in out}]
    return pl.DataFrame(out) if out else pl.DataFrame()
