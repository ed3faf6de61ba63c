"""Decode the DICOM transfer syntaxes the Rust core cannot (JPEG 2000, JPEG-LS) with pydicom.

Used only for rows the core marks ``unsupported_transfer_syntax``, and only
when pydicom is importable (the ``spectral-fast[dicom]`` extra installs it
with the pylibjpeg-openjpeg and pyjpegls plugins). The sample maths is the
core's (``rust/decode/dicom.rs``): stored values masked to BitsStored,
MONOCHROME1 mirrored within the stored range, then RescaleSlope /
RescaleIntercept; VOI windows are ignored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


class FallbackError(Exception):
    """The fallback could not decode this file; the message says why."""


@dataclass
class Decoded:
    pixels: np.ndarray  # (H, W) gray or (H, W, 3) RGB, a dtype the core reads
    bit_depth: int
    pixel_spacing_mm: float | None


def available() -> bool:
    """Whether pydicom can be imported (its plugins are checked per file)."""
    try:
        import pydicom  # noqa: F401
    except ImportError:
        return False
    return True


def decode(data: bytes, max_pixels: int) -> Decoded:
    """Decode one DICOM file's first (only) frame to modality values."""
    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data))
        rows, cols = int(ds.Rows), int(ds.Columns)
    except Exception as exc:  # pydicom raises many types for bad files
        raise FallbackError(f"pydicom cannot read this DICOM: {exc}") from exc
    if rows * cols > max_pixels:
        raise FallbackError(
            f"DICOM image of {cols}x{rows} = {rows * cols} pixels exceeds the limit of {max_pixels} pixels "
            "(raise max_pixels to profile it)"
        )
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise FallbackError(f"multi-frame object ({frames} frames); one radiograph per file is expected")
    syntax = ds.file_meta.TransferSyntaxUID
    try:
        arr = ds.pixel_array
    except Exception as exc:
        raise FallbackError(
            f"DICOM transfer syntax {syntax.name} ({syntax}) could not be decoded by pydicom either: {exc}"
        ) from exc
    bits_stored = int(ds.get("BitsStored", ds.BitsAllocated))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    spp = int(ds.get("SamplesPerPixel", 1))
    pi = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if spp == 1 and pi in ("MONOCHROME1", "MONOCHROME2"):
        pixels = _gray(arr, bits_stored, signed, pi == "MONOCHROME1", ds)
    elif spp == 3 and arr.ndim == 3 and arr.shape[2] == 3:
        # pydicom returns RGB (YBR converted); the core turns it into luma.
        pixels = np.ascontiguousarray(arr.astype(np.uint8 if bits_stored <= 8 else np.uint16, copy=False))
    else:
        raise FallbackError(f"unsupported PhotometricInterpretation {pi} with {spp} samples per pixel")
    return Decoded(pixels, bits_stored, _spacing(ds))


def _gray(arr: np.ndarray, bits: int, signed: bool, invert: bool, ds) -> np.ndarray:
    v = arr.astype(np.int64) & ((1 << bits) - 1)
    if signed:
        v = np.where(v >> (bits - 1) == 1, v - (1 << bits), v)
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1
    if invert:
        v = lo + hi - v
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    if slope == 1.0 and intercept == 0.0:
        if not signed and bits <= 8:
            return v.astype(np.uint8)
        if not signed and bits <= 16:
            return v.astype(np.uint16)
        if signed and bits <= 16:
            return v.astype(np.int16)
    return v.astype(np.float64) * slope + intercept


def _spacing(ds) -> float | None:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        if value is None:
            continue
        try:
            try:
                values = [float(x) for x in value][:2]  # MultiValue "row\\column"
            except TypeError:
                values = [float(value)]  # a single DS value
        except (TypeError, ValueError):
            continue
        if values and all(np.isfinite(x) and x > 0 for x in values):
            return float(sum(values) / len(values))
    return None
