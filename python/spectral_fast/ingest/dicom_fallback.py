"""Decode the DICOM transfer syntaxes the Rust core cannot (JPEG 2000, JPEG-LS) with pydicom.

Used only for rows the core marks ``unsupported_transfer_syntax``, and only
when pydicom is importable (the ``spectral-fast[dicom]`` extra installs it
with the pylibjpeg-openjpeg and pyjpegls plugins). The sample maths is the
core's (``rust/decode/dicom.rs``): stored values masked to BitsStored,
MONOCHROME1 mirrored within the stored range, then RescaleSlope /
RescaleIntercept; VOI windows are ignored. The acquisition tags
(:func:`acquisition_tags`) follow ``rust/decode/dicom_tags.rs``.
"""

from __future__ import annotations

import io
import unicodedata
import warnings
from dataclasses import dataclass, field

import numpy as np


class FallbackError(Exception):
    """The fallback could not decode this file; the message says why.

    ``kind`` is the row's ``error_kind`` (``None`` keeps the core's
    ``unsupported_transfer_syntax``).
    """

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Decoded:
    pixels: np.ndarray  # (H, W) gray or (H, W, 3) RGB, a dtype the core reads
    bit_depth: int
    pixel_spacing_mm: float | None
    tags: dict[str, str | float | None] = field(default_factory=dict)


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
        raise FallbackError(f"pydicom cannot read this DICOM: {type(exc).__name__}: {exc}", kind="corrupt") from exc
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    _check_size(rows, cols, frames, max_pixels, "DICOM image")
    if frames > 1:
        raise FallbackError(f"multi-frame object ({frames} frames); one radiograph per file is expected")
    # The codec sizes its buffer from the embedded frame's own header, not from
    # Rows/Columns: check that header before pydicom decodes anything.
    embedded = _embedded_size(ds.get("PixelData") or b"")
    if embedded is not None:
        ecols, erows = embedded
        _check_size(erows, ecols, 1, max_pixels, "embedded frame")
        if (erows, ecols) != (rows, cols):
            raise FallbackError(
                f"embedded frame is {ecols}x{erows} but the DICOM header says Columns x Rows = {cols}x{rows}",
                kind="corrupt",
            )
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is None:
        raise FallbackError("corrupt DICOM: the file meta has no TransferSyntaxUID", kind="corrupt")
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
    return Decoded(pixels, bits_stored, _spacing(ds), acquisition_tags(ds))


def _check_size(rows: int, cols: int, frames: int, max_pixels: int, what: str) -> None:
    """Refuse, before any pixel buffer exists, an image bigger than ``max_pixels`` (or an empty one)."""
    if rows <= 0 or cols <= 0 or frames <= 0:
        raise FallbackError(f"{what} of {cols}x{rows} pixels x {frames} frames has no pixels", kind="corrupt")
    total = rows * cols * frames
    if total > max_pixels:
        raise FallbackError(
            f"{what} of {cols}x{rows} x {frames} frame(s) = {total} pixels exceeds the limit of {max_pixels} pixels "
            "(raise max_pixels to profile it)",
            kind="too_large",
        )


def _embedded_size(pixel_data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first JPEG 2000 SIZ or JPEG-LS SOF55 header near the start of PixelData.

    Only the first 64 KiB are searched (the frame header follows the basic
    offset table); ``None`` when no header is found (pydicom then decides).
    """
    head = bytes(pixel_data[:65536])
    soc = head.find(b"\xff\x4f\xff\x51")  # J2K: SOC then SIZ
    if soc >= 0 and len(head) >= soc + 4 + 2 + 2 + 16:
        siz = soc + 4 + 2 + 2  # skip the marker pair, Lsiz, Rsiz
        xsiz, ysiz, xo, yo = (int.from_bytes(head[siz + 4 * k : siz + 4 * k + 4], "big") for k in range(4))
        return max(xsiz - xo, 0), max(ysiz - yo, 0)
    soi = head.find(b"\xff\xd8")
    sof = head.find(b"\xff\xf7", soi) if soi >= 0 else -1  # JPEG-LS SOF55: Lf(2) P(1) Y(2) X(2)
    if sof >= 0 and len(head) >= sof + 9:
        return int.from_bytes(head[sof + 7 : sof + 9], "big"), int.from_bytes(head[sof + 5 : sof + 7], "big")
    return None


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


#: Text columns of the profile table and the DICOM keyword each is read from (as ``TEXT_TAGS`` in the core).
TEXT_TAGS = {
    "dicom_modality": "Modality",
    "dicom_manufacturer": "Manufacturer",
    "dicom_model": "ManufacturerModelName",
    "dicom_station": "StationName",
    "dicom_institution": "InstitutionName",
    "dicom_detector_type": "DetectorType",
    "dicom_detector_id": "DetectorID",
    "dicom_view": "ViewPosition",
    "dicom_body_part": "BodyPartExamined",
    "dicom_photometric": "PhotometricInterpretation",
    "dicom_intensity_relationship": "PixelIntensityRelationship",
    "dicom_filter_type": "FilterType",
    "dicom_grid": "Grid",
    "dicom_processing": "AcquisitionDeviceProcessingDescription",
    "dicom_processing_code": "AcquisitionDeviceProcessingCode",
}
#: Number columns: the keyword read first, then a finer-unit keyword and its factor (as ``NUMBER_TAGS``).
NUMBER_TAGS = {
    "dicom_kvp": ("KVP", None),
    "dicom_exposure_mas": ("Exposure", ("ExposureInuAs", 1e-3)),
    "dicom_tube_current_ma": ("XRayTubeCurrent", ("XRayTubeCurrentInuA", 1e-3)),
    "dicom_exposure_time_ms": ("ExposureTime", ("ExposureTimeInuS", 1e-3)),
}
#: Longest text value kept (``MAX_TEXT_CHARS`` in the core).
MAX_TEXT_CHARS = 64
#: Invisible formatting characters dropped from text besides the control characters.
_HIDDEN = {*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x206A), 0xFEFF}


def acquisition_tags(ds) -> dict[str, str | float | None]:
    """The acquisition tags of a pydicom data set, one value per ``dicom_*`` column; odd values are None.

    Never raises: a value pydicom cannot convert, a number that is not
    finite and positive, or text with nothing left after :func:`clean_text`
    is None (pydicom's warnings about invalid values are silenced).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out: dict[str, str | float | None] = {c: clean_text(_text(ds, k)) for c, k in TEXT_TAGS.items()}
        for column, (keyword, finer) in NUMBER_TAGS.items():
            value = _number(ds, keyword)
            if value is None and finer is not None:
                value = _number(ds, finer[0])
                value = None if value is None else value * finer[1]
            out[column] = value
    return out


def clean_text(raw: str | None) -> str | None:
    """Header text made safe to store and show, as the core does (``rust/decode/dicom_tags.rs``)."""
    if raw is None:
        return None
    kept = "".join(c for c in raw if unicodedata.category(c) != "Cc" and ord(c) not in _HIDDEN)
    text = kept.strip()[:MAX_TEXT_CHARS].rstrip()
    return text or None


def _text(ds, keyword: str) -> str | None:
    try:
        value = ds.get(keyword)
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray)):
            return None
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            return "\\".join(str(v) for v in value)
        return str(value)
    except Exception:  # a crafted value may break pydicom's conversion in any way
        return None


def _number(ds, keyword: str) -> float | None:
    try:
        value = ds.get(keyword)
        if value is None or (isinstance(value, (bytes, bytearray, str)) and not str(value).strip()):
            return None
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            value = value[0]
        number = float(value)
    except Exception:
        return None
    return number if np.isfinite(number) and number > 0 else None
