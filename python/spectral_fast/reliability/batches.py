"""A new batch of profiles made ready for the reference: same profile options, error rows out, features present."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from spectral_fast._shared.frames import to_polars_or_path
from spectral_fast.errors import InvalidInputError
from spectral_fast.profiling.tables import (
    check_profile_options,
    load_usable_profiles,
    read_profile_options,
)


def prepare_batch(
    profiles: Any,
    reference: Any,
    *,
    options: dict | None = None,
    id_col: str = "id",
    artefacts_from: str | Path | None = None,
) -> tuple[pl.DataFrame, dict]:
    """Load a batch of profiles, check it matches the reference, drop and count error rows.

    Parameters
    ----------
    profiles : dataframe or path
        The batch's profile table: a Parquet/CSV file or any dataframe
        (:func:`spectral_fast._shared.frames.to_polars`).
    reference : Reference
        What the batch is compared with (its ``profile_options`` and ``features``).
    options : dict, optional
        Profile options of a DataFrame (a Parquet file's own are read otherwise).
    id_col : str
        Id column (row numbers when absent).
    artefacts_from : path, optional
        Folder the ids are relative to: artefact features the model clusters
        on but the table lacks are computed from the images
        (:func:`spectral_fast.profiling.tables.add_artefacts`, as the report does).

    Returns
    -------
    table : polars.DataFrame
        The usable rows.
    info : dict
        ``n_input``, ``error_rows`` (and ``error_examples``), ``artefact_failures``
        when computed, ``options_checked`` and ``options``.
    """
    profiles = to_polars_or_path(profiles, "profiles")
    if options is None and not isinstance(profiles, pl.DataFrame):
        options = read_profile_options(profiles)
    table, n_input, excluded = load_usable_profiles(profiles, artefacts_from=artefacts_from, id_col=id_col)
    checked = check_profile_options(reference.profile_options, table.columns, options)
    missing = [c for c in reference.features if c not in table.columns]
    if missing:
        hint = "" if artefacts_from is not None else "; give the image folder (CLI --images ROOT) to compute them"
        raise InvalidInputError(f"profiles lack the feature columns {missing} the model was fitted on{hint}")
    if id_col not in table.columns:
        table = table.with_row_index("__row").with_columns(pl.col("__row").cast(pl.Utf8).alias(id_col)).drop("__row")
    info = {"n_input": n_input, **excluded, "options_checked": checked, "options": options}
    return table, info
