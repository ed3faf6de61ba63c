"""Spectral profiles of images as a polars DataFrame: the public face of the Rust core.

The maths is documented (and implemented slowly, as the test oracle) in
:mod:`spectral_fast.profiling.oracle`; :func:`profile` computes the same numbers with
the Rust core, in parallel, without the GIL.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import polars as pl

from spectral_fast import _core
from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.profiling.artefacts_oracle import ALL_NAMES as ARTEFACT_NAMES
from spectral_fast.profiling.options import ProfileOptions, resolve_options

__all__ = ["band_edges", "feature_matrix", "profile"]

#: Pixel dtypes the core reads directly (anything else is rejected, not converted).
SUPPORTED_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)
_DTYPE_NAMES = "uint8, uint16, int16, float32, float64"


class _ArrowStream(Protocol):
    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any: ...


class _ArrowArray(Protocol):
    def __arrow_c_array__(self, requested_schema: Any = None) -> Any: ...


#: What :func:`profile` accepts.
Images = np.ndarray | Sequence[Any] | _ArrowStream | _ArrowArray

# Rayon's worker threads are not copied into a forked child (DataLoader
# workers, multiprocessing with fork): the child must build its own pool.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_core._after_fork_in_child)


def profile(images: Images, options: ProfileOptions | None = None, **overrides: Any) -> pl.DataFrame:
    """Spectral profile of each image: how its energy spreads over radial frequency bands.

    Parameters
    ----------
    images : array, list of arrays, or Arrow table
        One image as a 2-D ``(H, W)`` array or an ``(H, W, 3|4)`` colour
        array; a stack as an ``(N, H, W)`` (or ``(N, H, W, 3|4)``) array; a
        list of such single images, each with its own shape and dtype; or an
        Arrow table (pyarrow ``Table``/``RecordBatch``, polars ``DataFrame``,
        anything exposing ``__arrow_c_stream__`` or ``__arrow_c_array__``) with
        a ``pixels`` column (list, large_list or fixed_size_list of pixel
        values, row-major, read without a copy) and integer ``height`` and
        ``width`` columns; the channel count (1, 3 or 4) follows from the
        length. Dtypes: uint8, uint16, int16, float32, float64. A 3-D array
        whose last axis has length 3 or 4 is one colour image (luma
        ``0.299 R + 0.587 G + 0.114 B``, alpha ignored).
    options : ProfileOptions or None, default None
        The options below as one object (None: ``ProfileOptions()``); each
        keyword argument below overrides that field of it.
    size : int or None, default None
        Resize to ``size x size`` (centre crop to a square, then area
        averaging when shrinking, bilinear when enlarging) before the FFT.
        ``None`` keeps the native grid, which preserves acquisition detail.
    bands : int, default 32
        Number of radial bands, 1 to 254.
    spacing : {"log", "linear"}, default "log"
        Spacing of the band edges between ``1 / min(H, W)`` and 0.5 cycles/pixel.
    window : {"hann", "none"}, default "hann"
        Window applied after removing the mean.
    artefacts : bool, default True
        Also compute the artefact features (the columns ``jpeg_block`` ..
        ``peak_freq`` below), which the blind-spot report clusters on. They
        cost about as much again as the profile; ``False`` leaves their
        columns out and changes no other value.
    threads : int or None, default None
        Worker threads; ``None`` reads ``SPECTRAL_FAST_THREADS``, else uses
        every core. 1 runs serially. Results are identical for any value.

    Returns
    -------
    polars.DataFrame
        One row per image, in input order: ``band_00 .. band_{B-1}`` (log10
        of each band's share of the energy), ``low`` (the same for energy
        below the first band, DC included), ``slope``, ``centroid``,
        ``entropy``, ``hf_ratio``, ``mean``, ``std``, the artefact features
        ``jpeg_block``, ``peak_max``, ``axis_mid``, ``axis_high``,
        ``hist_comb``, ``peak_freq`` (all Float64; see
        :mod:`spectral_fast.profiling.artefacts_oracle`, always of the native image), native
        ``height`` and ``width`` (Int64), ``status`` (``"ok"`` or
        ``"error"``) and ``error`` (the reason, null when ok). Features of
        error rows are null; one bad image never stops the others.
        ``hist_comb`` is NaN for images that are not integer-valued (e.g.
        RGB after luma), ``jpeg_block`` for a side of exactly 8 px.

    Raises
    ------
    InvalidInputError
        Invalid option values, empty input, wrong array dimensions, or Arrow
        lengths that do not match ``height x width``.
    InvalidTypeError
        Unsupported input types or dtypes (e.g. int64, bool, complex).

    Notes
    -----
    For an image ``x`` (mean removed, windowed), ``P = |rfft2(x)|^2`` and each
    coefficient's radial frequency is ``r = sqrt((ky/H)^2 + (kx/W)^2)``. Band
    ``b`` holds ``e_b <= r < e_{b+1}``; its feature is
    ``log10(E_b / E_total + 1e-12)``. See :mod:`spectral_fast.profiling.oracle`.

    The artefact features need the spectrum of the Hann-windowed native
    image. With ``size=None`` and ``window="hann"`` (the defaults) that is the
    profile's own spectrum and costs no extra FFT; with other options the core
    runs one more native FFT per image for them.

    Examples
    --------
    >>> import numpy as np, spectral_fast as sf
    >>> img = np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
    >>> df = sf.profile(img, bands=8)
    >>> df.select("band_00", "band_07", "status").shape
    (1, 3)
    """
    opts = resolve_options(options, overrides, "profile")
    if hasattr(images, "__arrow_c_stream__") or hasattr(images, "__arrow_c_array__"):
        out = _core.profile_arrow(images, options=opts)
    else:
        arrays, stacked = _as_arrays(images)
        out = _core.profile_numpy(arrays, stacked=stacked, options=opts)
    df = _to_frame(out)
    return df if opts.artefacts else df.drop(ARTEFACT_NAMES)


def band_edges(height: int, width: int, bands: int = 32, spacing: str = "log") -> np.ndarray:
    """Edges ``e_0 .. e_B`` of the radial bands, in cycles per pixel.

    Parameters
    ----------
    height, width : int
        Size of the grid that is transformed (``size`` when resizing).
    bands : int, default 32
        Number of bands, 1 to 254.
    spacing : {"log", "linear"}, default "log"
        ``e_i = r_min (0.5 / r_min)^(i / B)`` or ``r_min + i (0.5 - r_min) / B``
        with ``r_min = 1 / min(height, width)``.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(bands + 1,)``, from ``1 / min(height, width)`` to 0.5.
    """
    return _core.band_edges(height, width, bands, spacing)


def feature_matrix(df: pl.DataFrame, include_low: bool = False) -> np.ndarray:
    """The band features of the ``ok`` rows of a :func:`profile` frame, for scikit-learn.

    Parameters
    ----------
    df : polars.DataFrame
        Output of :func:`profile`.
    include_low : bool, default False
        Put the ``low`` column (energy below the first band) first.

    Returns
    -------
    numpy.ndarray
        float64, C-ordered, shape ``(n_ok, B)`` (``B + 1`` with ``low``), rows
        in the frame's order with error rows left out.
    """
    if not isinstance(df, pl.DataFrame):
        raise InvalidTypeError(f"df must be a polars.DataFrame from spectral_fast.profile, got {type(df).__name__}")
    band_cols = sorted((c for c in df.columns if c.startswith("band_")), key=lambda c: int(c[5:]))
    missing = [c for c in ("status", "low") if c not in df.columns]
    if not band_cols or missing:
        raise InvalidInputError(
            f"df must be a frame from spectral_fast.profile (band_* columns, 'low', 'status'); missing {missing or ['band_*']}"
        )
    cols = (["low"] if include_low else []) + band_cols
    ok = df.filter(pl.col("status") == "ok").select(cols)
    return np.ascontiguousarray(ok.to_numpy(), dtype=np.float64)


def _as_arrays(images: Any) -> tuple[list[np.ndarray], bool]:
    """Normalise numpy-like input to a list of C-contiguous arrays and a stack flag."""
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise InvalidInputError("images is empty: there is no image to profile")
        arrays = [_checked_array(img, f"images[{i}]") for i, img in enumerate(images)]
        for i, a in enumerate(arrays):
            if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
                raise InvalidInputError(f"images[{i}] must be 2-D (H, W) or (H, W, 3|4), got shape {a.shape}")
        return arrays, False
    if isinstance(images, (str, bytes)) or images is None or not hasattr(images, "__array__"):
        raise InvalidTypeError(
            f"images must be a numpy array, a list of arrays or an Arrow table, got {type(images).__name__}"
        )
    a = _checked_array(images, "images")
    colour = a.ndim in (3, 4) and a.shape[-1] in (3, 4)
    if a.ndim == 2 or (a.ndim == 3 and colour):
        return [a], False
    if a.ndim == 3 or (a.ndim == 4 and colour):
        if a.shape[0] == 0:
            raise InvalidInputError("images is empty: the stack holds no image")
        return [a], True
    raise InvalidInputError(f"images must have shape (H, W), (H, W, 3|4), (N, H, W) or (N, H, W, 3|4), got {a.shape}")


def _checked_array(obj: Any, name: str) -> np.ndarray:
    """An array of a supported dtype, native byte order and C order.

    Copies are explicit and value-preserving: Fortran-ordered or strided views
    become C-contiguous (the core rejects them rather than misread them) and
    byte-swapped data is swapped. Other dtypes are refused, not cast.
    """
    a = np.asarray(obj)
    if a.dtype.type not in SUPPORTED_DTYPES:
        raise InvalidTypeError(f"{name} dtype must be one of {_DTYPE_NAMES}, got {a.dtype}")
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return a


def _to_frame(out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str | None]]) -> pl.DataFrame:
    """Build the result frame from the core's column-major arrays."""
    bands_t, scalars, height, width, errors = out
    n_bands = bands_t.shape[0]
    digits = max(2, len(str(n_bands - 1)))
    columns: dict[str, Any] = {f"band_{i:0{digits}d}": bands_t[i] for i in range(n_bands)}
    columns.update(zip(_core.SCALARS, scalars))
    # -1 marks a size the core could not know (a null Arrow row).
    columns["height"] = pl.Series(height).set(pl.Series(height < 0), None)
    columns["width"] = pl.Series(width).set(pl.Series(width < 0), None)
    columns["status"] = pl.Series(["ok" if e is None else "error" for e in errors], dtype=pl.String)
    columns["error"] = pl.Series(errors, dtype=pl.String)
    df = pl.DataFrame(columns)
    if any(e is not None for e in errors):
        # NaN marks error rows in the core's arrays; ok rows keep a genuine
        # NaN (e.g. the slope of a one-band profile), error rows become null.
        features = [*columns.keys()][: n_bands + len(_core.SCALARS)]
        ok = pl.col("status") == "ok"
        df = df.with_columns([pl.when(ok).then(pl.col(c)).otherwise(None).alias(c) for c in features])
    return df
