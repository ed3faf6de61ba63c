"""Decoding in the Rust core, seen from Python: every format and DICOM syntax, checked
against the profile of the same pixels given as a numpy array.

Lossless formats must give the very same numbers as ``spectral_fast.profile``
on the original array (exact equality); lossy JPEG is compared with Pillow's
decode of the same bytes, within what IDCT rounding allows.
"""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import pytest
from PIL import Image

from helpers import archive_samples as S
from spectral_fast import profile
from spectral_fast.ingest.batch import process_batch

FEATURES = [f"band_{i:02d}" for i in range(32)] + ["low", "slope", "centroid", "entropy", "hf_ratio", "mean", "std"]


def run(items: dict[str, bytes | None], **options) -> pl.DataFrame:
    return pl.from_arrow(process_batch(S.bytes_batch(items), threads=2, **options))


def assert_same_profile(row: dict, expected: pl.DataFrame) -> None:
    exp = expected.row(0, named=True)
    assert row["status"] == "ok", row["error"]
    for c in FEATURES + ["height", "width"]:
        assert row[c] == exp[c], c


def test_lossless_rasters_match_the_array_profile_exactly():
    a8 = S.phantom(96, 80, seed=1)
    a16 = S.phantom(72, 64, maximum=65535, dtype=np.uint16, seed=2)
    rgb = np.stack([S.phantom(40, 48, seed=s) for s in (3, 4, 5)], axis=-1)
    rgba = np.concatenate([rgb, np.full((40, 48, 1), 200, np.uint8)], axis=-1)
    palette = Image.fromarray(rgb).quantize(colors=64)
    out = run(
        {
            "gray8.png": S.png(a8),
            "gray16.png": S.png16(a16),
            "rgb.png": S.png(rgb),
            "rgba.png": S.png(rgba),
            "palette.png": _save(palette, "PNG"),
            "gray16.tif": S.tiff(a16),
            "gray8.tif": S.tiff(a8),
        }
    )
    rows = {r["id"]: r for r in out.iter_rows(named=True)}
    assert_same_profile(rows["gray8.png"], profile(a8))
    assert_same_profile(rows["gray16.png"], profile(a16))
    assert_same_profile(rows["rgb.png"], profile(rgb))
    # RGBA keeps its channels so the core's luma (alpha ignored) matches the reference.
    assert_same_profile(rows["rgba.png"], profile(rgba))
    assert_same_profile(rows["palette.png"], profile(np.asarray(palette.convert("RGB"))))
    assert_same_profile(rows["gray16.tif"], profile(a16))
    assert_same_profile(rows["gray8.tif"], profile(a8))
    assert [rows[k]["bit_depth"] for k in ("gray8.png", "gray16.png", "palette.png", "gray16.tif")] == [8, 16, 8, 16]
    assert rows["gray16.png"]["format"] == "png" and rows["gray16.tif"]["format"] == "tiff"
    assert rows["gray8.png"]["bytes"] == len(S.png(a8))


def _save(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("colour", [False, True])
def test_jpeg_decodes_to_luma_like_pillow(colour):
    arr = S.phantom(128, 96, seed=7)
    if colour:
        arr = np.stack([arr, np.roll(arr, 9, axis=1), np.flipud(arr)], axis=-1)
    data = S.jpeg(arr)
    row = run({"x.jpg": data}).row(0, named=True)
    assert row["status"] == "ok" and row["format"] == "jpeg" and row["bit_depth"] == 8
    # Pillow's own decode of the same bytes, to luma ("L" uses the same BT.601 weights).
    pil = np.asarray(Image.open(__import__("io").BytesIO(data)).convert("L"))
    ref = profile(pil).row(0, named=True)
    assert abs(row["mean"] - ref["mean"]) < 0.5
    # Different IDCTs round differently: a fraction of a grey level per pixel.
    assert max(abs(row[c] - ref[c]) for c in FEATURES[:32]) < 0.05


def test_dicom_syntaxes_all_give_the_native_profile():
    """Uncompressed, RLE, JPEG lossless (process 14 and SV1) in Rust; JPEG 2000 and
    JPEG-LS through the pydicom fallback; every one lossless, so exactly equal."""
    a12 = S.phantom(64, 80, maximum=4095, dtype=np.uint16, seed=11)
    a8 = S.phantom(48, 40, seed=12)
    items = {
        "native": S.dicom(a12, bits_stored=12),
        "deflated": S.dicom(a12, bits_stored=12, syntax="1.2.840.10008.1.2.1.99"),
        "rle": S.dicom(a12, bits_stored=12, syntax="1.2.840.10008.1.2.5"),
        "lossless14": S.dicom(a12, bits_stored=12, syntax="1.2.840.10008.1.2.4.57", frames=[S.jpeg_lossless(a12, 12)]),
        "lossless_sv1": S.dicom(
            a12, bits_stored=12, syntax="1.2.840.10008.1.2.4.70", frames=[S.jpeg_lossless(a12, 12)]
        ),
        "lossless8": S.dicom(a8, syntax="1.2.840.10008.1.2.4.70", frames=[S.jpeg_lossless(a8, 8)]),
    }
    fallback = {}
    if _has_plugin("openjpeg"):
        fallback["j2k"] = S.dicom(a12, bits_stored=12, syntax="1.2.840.10008.1.2.4.90")
    if _has_plugin("jpeg_ls"):
        fallback["jpegls"] = S.dicom(a12, bits_stored=12, syntax="1.2.840.10008.1.2.4.80")
    rows = {r["id"]: r for r in run({**items, **fallback}).iter_rows(named=True)}
    ref12, ref8 = profile(a12), profile(a8)
    for name in [*items, *fallback]:
        assert_same_profile(rows[name], ref8 if name == "lossless8" else ref12)
        assert rows[name]["format"] == "dicom"
        assert rows[name]["pixel_spacing_mm"] == pytest.approx(0.143)
    assert rows["native"]["bit_depth"] == 12 and rows["lossless8"]["bit_depth"] == 8
    if len(fallback) < 2:
        pytest.skip("pylibjpeg-openjpeg / pyjpegls missing: install spectral-fast[dicom] to test the fallback")


def test_dicom_jpeg_baseline_and_extended_match_pillow_decode():
    """Lossy JPEG in DICOM (baseline 4.50, extended 4.51): the core's jpeg-decoder
    path against Pillow's decode of the very same JPEG stream."""
    arr = S.phantom(64, 72, seed=31)
    stream = S.jpeg(arr)
    sof0 = stream.index(b"\xff\xc0")
    # An 8-bit Huffman JPEG is a valid extended-process (SOF1) stream as well.
    extended = stream[:sof0] + b"\xff\xc1" + stream[sof0 + 2 :]
    items = {
        "baseline": S.dicom(arr, syntax="1.2.840.10008.1.2.4.50", frames=[stream]),
        "extended": S.dicom(arr, syntax="1.2.840.10008.1.2.4.51", frames=[extended]),
        "mono1": S.dicom(arr, syntax="1.2.840.10008.1.2.4.50", frames=[stream], photometric="MONOCHROME1"),
    }
    rows = {r["id"]: r for r in run(items).iter_rows(named=True)}
    pil = profile(np.asarray(Image.open(__import__("io").BytesIO(stream)))).row(0, named=True)
    for name in ("baseline", "extended"):
        assert rows[name]["status"] == "ok", rows[name]["error"]
        assert abs(rows[name]["mean"] - pil["mean"]) < 0.5
        assert max(abs(rows[name][c] - pil[c]) for c in FEATURES[:32]) < 0.05
    assert rows["baseline"]["band_09"] == rows["extended"]["band_09"]
    assert rows["mono1"]["mean"] == pytest.approx(255 - rows["baseline"]["mean"])


def _has_plugin(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def test_undecodable_syntax_without_fallback_names_syntax_and_extra():
    pytest.importorskip("openjpeg")
    a12 = S.phantom(32, 32, maximum=4095, dtype=np.uint16)
    data = S.dicom(a12, bits_stored=12, syntax="1.2.840.10008.1.2.4.90")
    row = run({"j2k.dcm": data}, dicom_fallback=False).row(0, named=True)
    assert row["status"] == "error" and row["error_kind"] == "unsupported_transfer_syntax"
    assert "JPEG 2000" in row["error"] and "1.2.840.10008.1.2.4.90" in row["error"]
    assert "spectral-fast[dicom]" in row["error"]


def test_dicom_values_bits_stored_rescale_inversion_spacing():
    stored = S.phantom(40, 36, maximum=4095, dtype=np.uint16, seed=21)
    noisy_top = stored | (np.arange(stored.size, dtype=np.uint16).reshape(stored.shape) % 16 << 12)
    rows = {
        r["id"]: r
        for r in run(
            {
                "masked": S.dicom(noisy_top, bits_stored=12),
                "mono1": S.dicom(stored, bits_stored=12, photometric="MONOCHROME1"),
                "rescaled": S.dicom(
                    stored, bits_stored=12, rescale=(0.5, -1024.0), pixel_spacing=None, imager_spacing=(0.2, 0.2)
                ),
                "nospacing": S.dicom(stored, bits_stored=12, pixel_spacing=None),
            }
        ).iter_rows(named=True)
    }
    ref = profile(stored).row(0, named=True)
    # High bits beyond BitsStored (e.g. overlay planes) are masked off.
    assert rows["masked"]["mean"] == ref["mean"]
    assert rows["masked"]["band_07"] == ref["band_07"]
    # MONOCHROME1 is mirrored within the 12-bit range: same spectrum, mean 4095 - m.
    assert rows["mono1"]["mean"] == pytest.approx(4095 - ref["mean"], abs=1e-9)
    for c in FEATURES[:32]:
        assert rows["mono1"][c] == pytest.approx(ref[c], rel=1e-9, abs=1e-12)
    assert rows["rescaled"]["mean"] == pytest.approx(0.5 * ref["mean"] - 1024.0)
    assert rows["rescaled"]["std"] == pytest.approx(0.5 * ref["std"])
    assert rows["rescaled"]["pixel_spacing_mm"] == pytest.approx(0.2)  # ImagerPixelSpacing as fallback
    assert rows["nospacing"]["pixel_spacing_mm"] is None


@pytest.mark.real_data
@pytest.mark.skipif(not S.DICOM_MONO1.exists(), reason="../shared/data/cxr-real not present")
def test_real_dicom_pair_identical_profiles_inverted_means():
    items = {p.name: p.read_bytes() for p in (S.DICOM_MONO2, S.DICOM_MONO1)}
    a, b = run(items).iter_rows(named=True)
    assert a["status"] == b["status"] == "ok"
    for c in FEATURES[:32] + ["low", "slope", "centroid", "entropy", "hf_ratio", "std"]:
        assert a[c] == pytest.approx(b[c], rel=1e-9, abs=1e-12), c
    assert a["mean"] + b["mean"] == pytest.approx(255.0)
    assert a["mean"] != pytest.approx(b["mean"])
    assert (a["height"], a["width"], a["bit_depth"]) == (1024, 1024, 8)


@pytest.mark.real_data
@pytest.mark.skipif(not S.REAL_IMAGES.exists(), reason="../shared/data/cxr-real not present")
def test_real_pngs_match_pillow_arrays_including_rgba():
    pngs = sorted(S.REAL_IMAGES.glob("*.png"))
    rgba = [p for p in pngs if _pillow_mode(p) == "RGBA"]
    chosen = pngs[:3] + pngs[-3:] + rgba[:1]
    out = run({p.name: p.read_bytes() for p in chosen})
    for p, row in zip(chosen, out.iter_rows(named=True)):
        with Image.open(p) as im:  # closed at once: an unclosed file is a ResourceWarning, now an error
            assert_same_profile(row, profile(np.asarray(im)))


def _pillow_mode(path) -> str:
    with Image.open(path) as im:
        return im.mode


def test_corrupt_and_hostile_files_become_error_rows():
    good = S.png(S.phantom(64, 64))
    jpg = S.jpeg(S.phantom(64, 64))
    items = {
        "ok.png": good,
        "zero.png": b"",
        "truncated.png": good[: len(good) // 2],
        "truncated.jpg": jpg[: len(jpg) // 2],
        "random.png": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "bomb.png": S.png_header(100_000, 100_000),
        "text.txt": b"patient list\n",
        "gif.png": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        "nopixels.dcm": S.dicom(S.phantom(8, 8), with_pixels=False),
        "null": None,
    }
    rows = {r["id"]: r for r in run(items).iter_rows(named=True)}
    kinds = {k: rows[k]["error_kind"] for k in items}
    assert kinds == {
        "ok.png": None,
        "zero.png": "empty",
        "truncated.png": "corrupt",
        "truncated.jpg": "corrupt",
        "random.png": "not_an_image",
        "bomb.png": "too_large",
        "text.txt": "not_an_image",
        "gif.png": "unsupported_format",
        "nopixels.dcm": "no_pixel_data",
        "null": "missing",
    }
    assert "100000x100000" in rows["bomb.png"]["error"] and "max_pixels" in rows["bomb.png"]["error"]
    assert rows["truncated.png"]["format"] == "png"
    for k in items:
        if k != "ok.png":
            assert rows[k]["status"] == "error" and rows[k]["error"]
            assert rows[k]["band_00"] is None and rows[k]["mean"] is None


def test_pixel_limit_is_configurable():
    data = S.png(S.phantom(64, 64))
    assert run({"a": data}, max_pixels=64 * 64)["status"][0] == "ok"
    row = run({"a": data}, max_pixels=64 * 64 - 1).row(0, named=True)
    assert row["error_kind"] == "too_large" and "4096 pixels" in row["error"]


def test_rle_segment_offset_past_the_fragment_is_a_corrupt_row_not_a_caught_panic():
    # The Python fuzzer's one decoder_panic (evaluation/results/fuzz.md): a 16-bit RLE DICOM
    # whose second segment offset has its high byte set to 0x7F.
    pytest.importorskip("pydicom")
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import RLELossless

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds = Dataset()
    ds.file_meta = meta
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 40, 56, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (np.arange(40 * 56, dtype=np.uint16) % 4096).tobytes()
    ds.compress(RLELossless, encoding_plugin="pydicom", generate_instance_uid=False)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    good = buf.getvalue()
    header = good.index(b"\x02\x00\x00\x00\x40\x00\x00\x00")  # 2 segments, the first at byte 64
    bad = bytearray(good)
    bad[header + 11] = 0x7F  # high byte of the second offset
    rows = run({"good.dcm": good, "bad.dcm": bytes(bad)}, dicom_fallback=False)
    by_id = {r["id"]: r for r in rows.to_dicts()}
    assert by_id["good.dcm"]["status"] == "ok"
    assert by_id["bad.dcm"]["error_kind"] == "corrupt", by_id["bad.dcm"]["error"]
    assert "RLE frame: segment 0 at bytes 64.." in by_id["bad.dcm"]["error"]
