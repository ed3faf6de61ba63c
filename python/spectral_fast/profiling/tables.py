"""Reading a batch of profiles for :mod:`spectral_fast.reliability`: same options as the reference, error rows out.

Profiles made with other options than the reference's (band count, spacing,
window, size) are not comparable band for band, so using them is an error that
names the option. The options come from the run description that
``spectral-fast profile`` stores in its Parquet files
(:func:`spectral_fast.journal.read_metadata`); the band count is also checked
from the ``band_*`` columns, which works for any table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from spectral_fast.errors import InvalidInputError, InvalidTypeError

#: Profile options that must match between the reference and a new batch.
PROFILE_OPTIONS = ("bands", "spacing", "window", "size")


def read_profile_options(path: str | Path) -> dict | None:
    """The profile options (bands, spacing, window, size) a Parquet profiles file was made with.

    Read from the run description ``spectral-fast profile`` stores in the
    file (:func:`spectral_fast.journal.read_metadata`); None for CSV files
    and Parquet files without one.
    """
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return None
    from spectral_fast.journal import read_metadata

    options = (read_metadata(path) or {}).get("options")
    if not isinstance(options, dict) or "bands" not in options:
        return None
    return {k: options.get(k) for k in PROFILE_OPTIONS}


def band_columns(columns: list[str]) -> list[str]:
    """The ``band_*`` columns of a profile table, in name order."""
    return sorted(c for c in columns if c.startswith("band_"))


def check_profile_options(reference: dict, table_columns: list[str], options: dict | None) -> list[str]:
    """Raise if a batch's profiles were made with other options than the reference's.

    The band count is always compared (from the ``band_*`` columns, and from
    the batch's recorded options when there are any); spacing, window and
    size when both sides recorded them (``"?"`` or absent means unknown).
    Returns the names of the options that were compared.
    """
    n_bands = len(band_columns(table_columns))
    ref_bands = reference.get("bands", "?")
    declared = (options or {}).get("bands")
    if ref_bands not in (None, "?"):
        if declared is not None and int(declared) != int(ref_bands):
            raise InvalidInputError(
                f"bands: the profiles were made with bands={declared} but the model with bands={ref_bands}; "
                f"profile the images again with bands={ref_bands}"
            )
        if n_bands != int(ref_bands):
            raise InvalidInputError(
                f"bands: the profiles have {n_bands} band_* columns but the model was fitted on profiles with "
                f"bands={ref_bands}; profile the images again with bands={ref_bands}"
            )
    checked = ["bands"]
    for name in ("spacing", "window", "size"):
        ref_value = reference.get(name, "?")
        if options is None or name not in options or ref_value == "?" or options[name] == "?":
            continue
        if options[name] != ref_value:
            raise InvalidInputError(
                f"{name}: the profiles were made with {name}={options[name]!r} but the model with "
                f"{name}={ref_value!r}; profile the images again with {name}={ref_value!r}"
            )
        checked.append(name)
    return checked


def load_usable_profiles(
    profiles: pl.DataFrame | str | Path,
    *,
    artefacts_from: str | Path | None = None,
    id_col: str = "id",
    what: str = "the batch",
) -> tuple[pl.DataFrame, int, dict]:
    """Load a profile table, drop and count its error rows, and add artefact features from the images if asked.

    Shared by the report (reference set) and :func:`prepare_batch` (new batches).

    Returns
    -------
    table : polars.DataFrame
        The usable rows.
    n_input : int
        Rows before error rows were dropped.
    excluded : dict
        ``error_rows`` (and ``error_examples``); ``artefact_failures`` when computed.

    Raises
    ------
    InvalidInputError
        An empty table, or one with error rows only (``what`` names it in the message).
    """
    from spectral_fast.report import add_artefacts, drop_error_rows, load_profiles

    table = load_profiles(profiles)
    n_input = table.height
    if n_input == 0:
        raise InvalidInputError(f"profiles ({what}): empty, 0 rows")
    table, excluded = drop_error_rows(table)
    if table.height == 0:
        raise InvalidInputError(f"profiles ({what}): all {n_input} rows are error rows; nothing to use")
    if artefacts_from is not None:
        table, excluded["artefact_failures"] = add_artefacts(table, artefacts_from, id_col=id_col)
    return table, n_input, excluded


def prepare_batch(
    profiles: pl.DataFrame | str | Path,
    reference: Any,
    *,
    options: dict | None = None,
    id_col: str = "id",
    artefacts_from: str | Path | None = None,
) -> tuple[pl.DataFrame, dict]:
    """Load a batch of profiles, check it matches the reference, drop and count error rows.

    Parameters
    ----------
    profiles : polars.DataFrame or path
        The batch's profile table.
    reference : Reference
        What the batch is compared with (its ``profile_options`` and ``features``).
    options : dict, optional
        Profile options of a DataFrame (a Parquet file's own are read otherwise).
    id_col : str
        Id column (row numbers when absent).
    artefacts_from : path, optional
        Folder the ids are relative to: artefact features the model clusters
        on but the table lacks are computed from the images
        (:func:`spectral_fast.report.add_artefacts`, as the report does).

    Returns
    -------
    table : polars.DataFrame
        The usable rows.
    info : dict
        ``n_input``, ``error_rows`` (and ``error_examples``), ``artefact_failures``
        when computed, ``options_checked`` and ``options``.
    """
    if not isinstance(profiles, (pl.DataFrame, str, Path)):
        raise InvalidTypeError(f"profiles must be a polars DataFrame or a path, got {type(profiles).__name__}")
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
