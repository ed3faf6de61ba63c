"""Reading a batch of profiles for :mod:`spectral_fast.reliability`: same options as the reference, error rows out.

Profiles made with other options than the reference's (band count, spacing,
window, size) are not comparable band for band, so using them is an error that
names the option. The options come from the run description that
``spectral-fast profile`` stores in its Parquet files
(:func:`spectral_fast.profiling.tables.read_metadata`); the band count is also checked
from the ``band_*`` columns, which works for any table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from spectral_fast import _core
from spectral_fast._shared.progress import bar, stage
from spectral_fast.errors import InvalidInputError
from spectral_fast.profiling.metadata import METADATA_KEY as METADATA_KEY  # re-exported: the run description
from spectral_fast.profiling.metadata import _file_metadata as _file_metadata
from spectral_fast.profiling.metadata import read_metadata as read_metadata
from spectral_fast.profiling.options import ProfileOptions

#: Profile options that must match between the reference and a new batch.
PROFILE_OPTIONS = ("bands", "spacing", "window", "size")


def read_profile_options(path: str | Path) -> dict | None:
    """The profile options (bands, spacing, window, size) a Parquet profiles file was made with.

    Read from the run description ``spectral-fast profile`` stores in the
    file (:func:`spectral_fast.profiling.tables.read_metadata`); None for CSV files
    and Parquet files without one.
    """
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return None
    from spectral_fast.profiling.tables import read_metadata

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
        The usable rows, with the size-invariant band columns of
        :mod:`spectral_fast.profiling.field_bands` added when the profile can be re-binned.
    n_input : int
        Rows before error rows were dropped.
    excluded : dict
        ``error_rows`` (and ``error_examples``); ``artefact_failures`` when computed.

    Raises
    ------
    InvalidInputError
        An empty table, or one with error rows only (``what`` names it in the message).
    """
    from spectral_fast.profiling.field_bands import with_field_bands
    from spectral_fast.profiling.tables import (
        add_artefacts,
        drop_error_rows,
        load_profiles,
    )

    table = load_profiles(profiles)
    n_input = table.height
    if n_input == 0:
        raise InvalidInputError(f"profiles ({what}): empty, 0 rows")
    table, excluded = drop_error_rows(table)
    if table.height == 0:
        raise InvalidInputError(f"profiles ({what}): all {n_input} rows are error rows; nothing to use")
    if artefacts_from is not None:
        table, excluded["artefact_failures"] = add_artefacts(table, artefacts_from, id_col=id_col)
    options = None if isinstance(profiles, pl.DataFrame) else read_profile_options(profiles)
    return with_field_bands(table, options), n_input, excluded


def load_profiles(profiles: pl.DataFrame | str | Path) -> pl.DataFrame:
    """A profile table from a DataFrame or a Parquet/CSV file."""
    if isinstance(profiles, pl.DataFrame):
        return profiles
    path = Path(profiles)
    if not path.exists():
        raise FileNotFoundError(f"profiles file not found: {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pl.read_parquet(path)
    if path.suffix.lower() == ".csv":
        return pl.read_csv(path)
    raise InvalidInputError(f"profiles file {path}: unknown format {path.suffix!r}; use .parquet or .csv")


def add_artefacts(
    table: pl.DataFrame, root: str | Path, *, id_col: str = "id", threads: int | None = None
) -> tuple[pl.DataFrame, int]:
    """Add the artefact features the table lacks, computed from the images ``root / id``.

    The Rust core reads, decodes and profiles the files on its threads
    (``threads``: None reads ``SPECTRAL_FAST_THREADS``, else every core),
    64 at a time behind a progress bar; an image the core cannot decode is
    tried with Pillow and the numpy oracle
    (:mod:`spectral_fast.profiling.artefacts_oracle`; the core's values equal
    the oracle's, ``tests/profiling/test_artefacts_core.py``). Colour images
    become float luma as in ``spectral-fast profile`` (``docs/method.md``),
    so the features equal the ones a profile run stores. Returns the table and the number
    of images that could not be read (their features stay null, which the
    clustering treats as the typical value).
    """
    from spectral_fast.profiling.artefacts_oracle import FEATURE_NAMES

    missing = [c for c in FEATURE_NAMES if c not in table.columns]
    if not missing:
        return table, 0
    if id_col not in table.columns:
        raise InvalidInputError(f"artefacts: the profile table has no id column {id_col!r} to find the images by")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"artefacts: image folder not found: {root}")
    ids = table[id_col].cast(pl.Utf8).fill_null("").to_list()
    values: dict[str, list[float | None]] = {c: [] for c in missing}
    failed = 0
    stage(f"artefact features of {len(ids)} images")
    with bar(len(ids), "artefacts", "img") as progress:
        for start in range(0, len(ids), ARTEFACT_BATCH):
            chunk = ids[start : start + ARTEFACT_BATCH]
            paths = pa.array([str(root / i) for i in chunk], pa.string())
            out = _core.process_batch(
                pa.record_batch({"id": pa.array(chunk, pa.string()), "path": paths}),
                options=ProfileOptions(size=PROFILE_SIZE, bands=8, artefacts=True, threads=threads),
                max_pixels=MAX_PIXELS,
            )
            status = out.column("status").to_pylist()
            columns = {c: out.column(c).to_pylist() for c in missing}
            for row, image_id in enumerate(chunk):
                feats = {c: columns[c][row] for c in missing} if status[row] == "ok" else _oracle(root / image_id)
                failed += feats is None
                for c in missing:
                    values[c].append(None if feats is None else feats[c])
            progress.update(len(chunk))
    extra = pl.DataFrame(values, schema={c: pl.Float64 for c in missing})
    return pl.concat([table, extra], how="horizontal"), failed


#: Images per core call of :func:`add_artefacts` (one progress step).
ARTEFACT_BATCH = 64
#: The core computes the artefact features on the native grid whatever the profile options; the profile
#: that comes with them is discarded, so it is made on a small grid to cost little.
PROFILE_SIZE = 64
#: Larger images are not decoded by the core (decompression-bomb guard, as in ``spectral-fast profile``).
MAX_PIXELS = 100_000_000


def _oracle(path: Path) -> dict[str, float] | None:
    """Artefact features of an image the core could not decode, via Pillow and numpy; None if unreadable."""
    from PIL import Image

    from spectral_fast.profiling.artefacts_oracle import artefact_features

    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("L") if im.mode in ("RGB", "RGBA", "P", "LA") else im)
        return artefact_features(arr)
    except (OSError, ValueError, TypeError):
        return None


def drop_error_rows(table: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """Remove rows the profiler marked as failed (or with missing bands) and count them."""
    band_cols = [c for c in table.columns if c.startswith("band_")]
    bad = pl.lit(False)
    if "error" in table.columns:
        bad = bad | (pl.col("error").cast(pl.Utf8).fill_null("") != "")
    if "status" in table.columns:
        bad = bad | ~pl.col("status").cast(pl.Utf8).fill_null("ok").str.to_lowercase().is_in(["ok", "success", ""])
    for c in band_cols:
        bad = bad | pl.col(c).is_null() | pl.col(c).cast(pl.Float64).is_nan()
    flagged = table.with_columns(bad.alias("__sf_bad"))
    dropped = flagged.filter(pl.col("__sf_bad"))
    info = {"error_rows": dropped.height}
    if dropped.height and "error" in table.columns:
        info["error_examples"] = (
            dropped["error"].cast(pl.Utf8).drop_nulls().unique(maintain_order=True).head(3).to_list()
        )
    return flagged.filter(~pl.col("__sf_bad")).drop("__sf_bad"), info
