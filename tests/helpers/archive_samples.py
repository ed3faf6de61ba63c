"""Encoded test images for the decoder and archive tests, made here with Pillow and pydicom.

Nothing is copied from ../shared/data: every variant (16-bit PNG, RGB JPEG,
DICOM syntaxes, corrupt files) is generated, so each test states exactly what
it feeds the decoders.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pyarrow as pa
from PIL import Image

REAL = __import__("pathlib").Path(__file__).resolve().parents[3] / "shared" / "data" / "cxr-real"
REAL_IMAGES = REAL / "images"
DICOM_MONO2 = REAL_IMAGES / "siim__1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
DICOM_MONO1 = REAL_IMAGES / "siim__Fake_MONOHR1.dcm"


def phantom(h: int, w: int, *, maximum: int = 255, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """A textured CXR-like test image: smooth gradient, blobs and noise, within ``0..maximum``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = 0.4 + 0.3 * np.sin(6 * x + 3 * y) + 0.15 * np.cos(17 * x * y + seed)
    img += 0.08 * rng.standard_normal((h, w))
    img = (img - img.min()) / (img.max() - img.min())
    return np.round(img * maximum).astype(dtype)


def png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def png16(arr: np.ndarray) -> bytes:
    """A 16-bit gray PNG (Pillow writes I;16 as 16-bit gray)."""
    assert arr.dtype == np.uint16
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    data = buf.getvalue()
    assert data[24] == 16, "Pillow did not write a 16-bit PNG"
    return data


def jpeg(arr: np.ndarray, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def tiff(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="TIFF")
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR claiming ``width x height`` 8-bit gray, and nothing else."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def dicom(
    arr: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    rescale: tuple[float, float] | None = None,
    pixel_spacing: tuple[float, float] | None = (0.143, 0.143),
    imager_spacing: tuple[float, float] | None = None,
    syntax: str = "1.2.840.10008.1.2.1",
    frames: list[bytes] | None = None,
    with_pixels: bool = True,
) -> bytes:
    """A DICOM CR file of ``arr`` (native), or of already-encoded ``frames`` in ``syntax``."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import ComputedRadiographyImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ComputedRadiographyImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.Rows, ds.Columns = arr.shape[:2]
    ds.SamplesPerPixel = 1 if arr.ndim == 2 else arr.shape[2]
    ds.PhotometricInterpretation = photometric
    if ds.SamplesPerPixel > 1:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8 if arr.dtype.itemsize == 1 else 16
    ds.BitsStored = bits_stored or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if arr.dtype.kind == "i" else 0
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    if pixel_spacing is not None:
        ds.PixelSpacing = list(pixel_spacing)
    if imager_spacing is not None:
        ds.ImagerPixelSpacing = list(imager_spacing)
    if with_pixels:
        if frames is None:
            ds.PixelData = np.ascontiguousarray(arr).tobytes()
        else:
            ds.PixelData = encapsulate(frames)
            ds["PixelData"].VR = "OB"
            ds.file_meta.TransferSyntaxUID = syntax
    if frames is None and syntax == "1.2.840.10008.1.2.1.99":
        ds.file_meta.TransferSyntaxUID = syntax  # deflate applies to the whole data set when saved
    elif frames is None and syntax != ExplicitVRLittleEndian:
        ds.compress(syntax, encoding_plugin=_ENCODERS.get(syntax, ""))
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def with_raw_elements(data: bytes, elements: dict[str, bytes]) -> bytes:
    """A copy of an explicit VR little endian Part 10 file (as :func:`dicom` writes) with ``elements`` set to raw bytes.

    ``elements`` maps DICOM keywords to value bytes written as they are (no
    validation, no character set): how a test makes header values that
    pydicom would refuse to write. Each goes in tag order, replacing an
    element of the same tag.
    """
    from pydicom.datadict import tag_for_keyword

    raw = {tag_for_keyword(k): v + (b" " if len(v) % 2 else b"") for k, v in elements.items()}
    replaced = set(raw)
    meta_len = struct.unpack_from("<I", data, 140)[0]
    pos = start = 144 + meta_len
    out = [data[:start]]
    long_vrs = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
    while pos < len(data):
        group, element = struct.unpack_from("<HH", data, pos)
        tag, vr = (group << 16) | element, data[pos + 4 : pos + 6]
        if vr in long_vrs:
            length, header = struct.unpack_from("<I", data, pos + 8)[0], 12
        else:
            length, header = struct.unpack_from("<H", data, pos + 6)[0], 8
        end = len(data) if length == 0xFFFFFFFF else pos + header + length
        out += [_raw_element(t, raw.pop(t)) for t in sorted(t for t in raw if t <= tag)]
        if tag not in replaced:
            out.append(data[pos:end])
        pos = end
    out += [_raw_element(t, raw[t]) for t in sorted(raw)]
    return b"".join(out)


def _raw_element(tag: int, value: bytes) -> bytes:
    """One explicit VR little endian element with a short (2-byte) length, of the tag's dictionary VR."""
    from pydicom.datadict import dictionary_VR

    vr = dictionary_VR(tag).split(" or ")[0].encode()
    return struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr + struct.pack("<H", len(value)) + value


_ENCODERS = {
    "1.2.840.10008.1.2.5": "pydicom",  # RLE Lossless
    "1.2.840.10008.1.2.4.90": "pylibjpeg",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.80": "pyjpegls",  # JPEG-LS Lossless
}


def jpeg_lossless(arr: np.ndarray, precision: int) -> bytes:
    """A lossless JPEG (process 14, SOF3, predictor 1, first order) of a gray image.

    No Python package encodes this DICOM syntax, so the test writes the
    (simple) format itself: differences to the left neighbour (first row) or
    the pixel above (first column), Huffman-coded by magnitude category.
    """
    h, w = arr.shape
    x = arr.astype(np.int64)
    pred = np.empty_like(x)
    pred[0, 0] = 1 << (precision - 1)
    pred[0, 1:] = x[0, :-1]
    pred[1:, 0] = x[:-1, 0]
    pred[1:, 1:] = x[1:, :-1]
    diff = (x - pred) % 65536
    diff = np.where(diff >= 32768, diff - 65536, diff)

    # 17 categories (0..16), all with 5-bit codes: code of category s is s.
    bits = BitWriter()
    for d in diff.ravel().tolist():
        size = 0 if d == 0 else int(abs(d)).bit_length()
        bits.put(size, 5)
        if 0 < size < 16:
            bits.put(d if d > 0 else d + (1 << size) - 1, size)
    counts = [0] * 16
    counts[4] = 17
    dht = bytes([0x00]) + bytes(counts) + bytes(range(17))
    sof = struct.pack(">BHHB", precision, h, w, 1) + bytes([1, 0x11, 0])
    sos = bytes([1, 1, 0x00, 1, 0, 0])  # Ns=1, component 1 with table 0; Ss=predictor 1
    out = b"\xff\xd8"
    for marker, body in ((0xC3, sof), (0xC4, dht), (0xDA, sos)):
        out += bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body
    return out + bits.finish() + b"\xff\xd9"


class BitWriter:
    """MSB-first bit packer with JPEG byte stuffing."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value: int, n: int) -> None:
        self.acc = (self.acc << n) | (value & ((1 << n) - 1))
        self.n += n
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0)
        self.acc &= (1 << self.n) - 1

    def finish(self) -> bytes:
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)  # pad with 1-bits
        return bytes(self.out)


def bytes_batch(items: dict[str, bytes | None]) -> pa.RecordBatch:
    return pa.record_batch(
        {"id": pa.array(list(items), pa.string()), "bytes": pa.array(list(items.values()), pa.binary())}
    )
