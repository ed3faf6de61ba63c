"""Profile whole archives: folders, lists, globs and tables of encoded images, to one Parquet file.

The unit of work is :func:`process_batch`, a pure function from an Arrow
record batch of encoded images to a record batch of profiles, which is what
a scale-out engine (Ray Data ``map_batches``, Spark ``mapInArrow``, Daft)
calls. :func:`profile_archive` drives it over local inputs: it plans the
inputs (:mod:`spectral_fast.ingest.sources`), streams batches through the Rust core
(files are read, decoded and profiled on the core's threads, without the
GIL), and writes the rows durably as they finish
(:mod:`spectral_fast.ingest.journal`), so a killed run can be resumed.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from spectral_fast import _core
from spectral_fast.ingest import dicom_fallback as _fallback
from spectral_fast.profiling.options import ProfileOptions, resolve_options

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_MAX_PIXELS", "checked_options", "journal_options", "process_batch"]

#: Decompression-bomb guard: images whose header announces more pixels are error rows.
DEFAULT_MAX_PIXELS = 100_000_000
#: Files per batch: enough to keep every thread busy, few enough that a kill
#: loses little and a batch of encoded bytes stays well under Arrow's 2 GiB.
DEFAULT_BATCH_SIZE = 64


def process_batch(
    batch: Any,
    options: ProfileOptions | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    dicom_fallback: bool = True,
    **overrides: Any,
) -> pa.RecordBatch | pa.Table:
    """Decode and profile every encoded image of one Arrow record batch.

    Parameters
    ----------
    batch : pyarrow.RecordBatch (or anything with ``__arrow_c_array__``), or a table
        A table (``pyarrow.Table``, polars ``DataFrame``, anything with
        ``__arrow_c_stream__``; Ray Data's ``batch_format="pyarrow"``) gives
        a ``pyarrow.Table`` back. Columns ``id`` (string) and ``bytes`` (binary: encoded PNG, JPEG,
        DICOM or TIFF files; binary, large_binary and binary_view are read
        without a copy), or ``id`` and ``path`` (files the core reads). An
        optional string column ``read_error`` marks rows that are already
        known to be unreadable (its text becomes the error).
    options : ProfileOptions or None, default None
        The profile options as one object (None: ``ProfileOptions()``); the
        keyword arguments ``size`` .. ``threads`` override its fields.
    size, bands, spacing, window, artefacts
        As in :func:`spectral_fast.profile`: ``artefacts=False`` leaves out
        the artefact feature columns (their cost: ``docs/benchmarks.md``);
        every other column is bit-identical either way.
    threads : int or None
        Core threads; ``None`` reads ``SPECTRAL_FAST_THREADS``, else all cores.
        Use 1 inside engines that already run one process per core.
    max_pixels : int, default 100_000_000
        Images whose header announces more pixels are error rows, refused
        before any pixel buffer is allocated (decompression-bomb guard).
    dicom_fallback : bool, default True
        Decode DICOM transfer syntaxes the core cannot (JPEG 2000, JPEG-LS)
        with pydicom when it is installed (``spectral-fast[dicom]``).

    Returns
    -------
    pyarrow.RecordBatch (pyarrow.Table for a table)
        One row per input row, in order: ``id``, ``band_00 ..``, ``low``,
        ``slope``, ``centroid``, ``entropy``, ``hf_ratio``, ``mean``, ``std``,
        the artefact features ``jpeg_block``, ``peak_max``, ``axis_mid``,
        ``axis_high``, ``hist_comb``, ``peak_freq`` (as in
        :func:`spectral_fast.profile`; not with ``artefacts=False``), ``height``, ``width``, ``status`` (``"ok"``/``"error"``), ``error``,
        ``format`` (``png``, ``jpeg``, ``dicom``, ``tiff``), ``bit_depth``,
        ``pixel_spacing_mm`` (DICOM PixelSpacing, else ImagerPixelSpacing),
        ``bytes`` (encoded size), ``error_kind`` (a stable short name such
        as ``corrupt``, ``too_large``, ``not_an_image``, ``unreadable``),
        ``mode`` (``gray``, ``rgb``, ``rgba`` as stored) and the DICOM
        acquisition tags, null for other formats or when absent or unreadable:
        ``dicom_modality``, ``dicom_manufacturer``, ``dicom_model``,
        ``dicom_station``, ``dicom_institution``, ``dicom_detector_type``,
        ``dicom_detector_id``, ``dicom_view``, ``dicom_body_part``,
        ``dicom_photometric``, ``dicom_intensity_relationship``,
        ``dicom_filter_type``, ``dicom_grid``, ``dicom_processing``,
        ``dicom_processing_code`` (text, cleaned and at most 64 characters)
        and ``dicom_kvp``, ``dicom_exposure_mas``, ``dicom_tube_current_ma``,
        ``dicom_exposure_time_ms`` (numbers; ``docs/method.md#acquisition-metadata``).

    Raises
    ------
    InvalidInputError, InvalidTypeError
        Invalid options, or a batch without the required columns.
    """
    opts = resolve_options(options, overrides, "process_batch")
    if not hasattr(batch, "__arrow_c_array__") and hasattr(batch, "__arrow_c_stream__"):
        # A table (what Ray Data's map_batches passes): each of its batches, one table back.
        table = batch if isinstance(batch, pa.Table) else pa.table(batch)
        schema = _core.archive_schema(opts.bands, artefacts=opts.artefacts)
        parts = [
            process_batch(b, opts, max_pixels=max_pixels, dicom_fallback=dicom_fallback) for b in table.to_batches()
        ]
        return pa.Table.from_batches(parts, schema=schema)
    out = _core.process_batch(batch, options=opts, max_pixels=max_pixels)
    if dicom_fallback:
        out = _apply_dicom_fallback(batch, out, opts, max_pixels)
    return out


def journal_options(options: ProfileOptions, max_pixels: int) -> dict[str, Any]:
    """The options as a run records them (journal, Parquet metadata): every
    field but ``threads``, which changes no value, plus ``max_pixels``.

    The keys and their order are those of runs written before
    :class:`ProfileOptions` existed, so those runs still resume and merge.
    """
    return dict(
        size=options.size,
        bands=options.bands,
        spacing=options.spacing,
        window=options.window,
        artefacts=options.artefacts,
        max_pixels=max_pixels,
    )


def checked_options(options: ProfileOptions, *, max_pixels: int) -> tuple[dict[str, Any], pa.Schema]:
    """The profile options a run records in its journal, checked by the core, and the output schema.

    A resume or a merge must repeat exactly these (local and Ray runs build
    them here, so their keys agree); a bad option or thread count raises
    before any file is read or any worker starts.
    """
    if not isinstance(options, ProfileOptions):
        options = resolve_options(options, {}, "checked_options")  # None, or a clear InvalidTypeError
    # pa.nulls, not pa.array([]) or pa.record_batch(dict), which import pandas (CLI start-up: docs/benchmarks.md).
    empty = pa.RecordBatch.from_arrays([pa.nulls(0, pa.string()), pa.nulls(0, pa.binary())], names=["id", "bytes"])
    schema = _core.process_batch(empty, options=options, max_pixels=max_pixels).schema
    return journal_options(options, max_pixels), schema


# ---------------------------------------------------------------- DICOM fallback


def _apply_dicom_fallback(batch: Any, out: pa.RecordBatch, options: ProfileOptions, max_pixels: int) -> pa.RecordBatch:
    """Re-decode rows with a transfer syntax the core lacks, with pydicom, and profile them."""
    kinds = out.column("error_kind")
    rows = [i for i, k in enumerate(kinds.to_pylist()) if k == "unsupported_transfer_syntax"]
    if not rows or not _fallback.available():
        return out
    from spectral_fast.profiling.profiler import profile

    if not isinstance(batch, pa.RecordBatch):
        batch = pa.record_batch(batch)
    table = out.to_pylist()
    for i in rows:
        _fallback_row(batch, i, table[i], options, max_pixels, profile)
    return pa.RecordBatch.from_pylist(table, schema=out.schema)


def _fallback_row(
    batch: pa.RecordBatch, i: int, row: dict[str, Any], options: ProfileOptions, max_pixels: int, profile: Any
) -> None:
    """Decode and profile row ``i`` with pydicom, in place; any failure stays this row's error.

    Every ``Exception`` is caught (pydicom and its plugins raise AttributeError,
    KeyError, ValueError, RecursionError ... on crafted files), MemoryError
    included: a refused allocation is this file's problem, already freed.
    KeyboardInterrupt and SystemExit are not: they stop the run, which a
    resume continues.
    """
    try:
        data = _encoded(batch, i)
        decoded = _fallback.decode(data, max_pixels)
        prof = profile(decoded.pixels, options, threads=1).row(0, named=True)
    except _fallback.FallbackError as exc:
        row["error"] = str(exc)
        row["error_kind"] = exc.kind or row["error_kind"]
        return
    except OSError as exc:
        row.update(error=f"cannot read file: {exc}", error_kind="unreadable")
        return
    except MemoryError as exc:
        row.update(error=f"pydicom fallback ran out of memory: MemoryError: {exc}", error_kind="too_large")
        return
    except Exception as exc:  # nothing per file may escape the batch
        row.update(error=f"pydicom fallback failed: {type(exc).__name__}: {exc}", error_kind="corrupt")
        return
    row.update(prof)
    row.update(
        format="dicom",
        bit_depth=decoded.bit_depth,
        pixel_spacing_mm=decoded.pixel_spacing_mm,
        error_kind=None if prof["status"] == "ok" else "profile",
        mode="gray" if decoded.pixels.ndim == 2 else "rgb",
        **{k: v for k, v in decoded.tags.items() if k in row},
    )


def _encoded(batch: pa.RecordBatch, i: int) -> bytes:
    names = batch.schema.names
    if "bytes" in names:
        return batch.column("bytes")[i].as_py()
    with open(batch.column("path")[i].as_py(), "rb") as fh:
        return fh.read()
