"""The pydicom fallback on hostile files: every failure is this file's error row (issue 18).

Reproducers come from ``../shared/data/hostile`` (read in place, never copied
into the repository); tests that need them skip when the folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from helpers import archive_samples as S
from spectral_fast.ingest import dicom_fallback
from spectral_fast.ingest.batch import process_batch

HOSTILE = Path(__file__).parents[2] / ".." / "shared" / "data" / "hostile"
J2K = "1.2.840.10008.1.2.4.90"


def run(items: dict[str, bytes | None], **options) -> pl.DataFrame:
    return pl.from_arrow(process_batch(S.bytes_batch(items), threads=1, **options))


def _j2k(arr: np.ndarray) -> bytes:
    try:
        return S.dicom(arr, bits_stored=12, syntax=J2K)
    except Exception as exc:  # encoder plugin missing
        pytest.skip(f"cannot write a JPEG 2000 DICOM here: {exc}")


def test_meta_bitflip_is_a_corrupt_row_not_an_attribute_error():
    path = HOSTILE / "abort_run_dicom_fallback_meta_bitflip.dcm"
    if not path.is_file():
        pytest.skip(f"hostile reproducers not found at {HOSTILE}")
    row = run({"bitflip.dcm": path.read_bytes(), "ok.png": S.png(S.phantom(32, 32))}).rows(named=True)
    # A hardened core refuses it itself; an older one hands it to the fallback: an error row either way.
    assert row[0]["status"] == "error" and row[0]["error_kind"] == "corrupt", row[0]["error"]
    assert row[1]["status"] == "ok"
    # The fallback on its own, as 0.1.0's core made it run: no AttributeError.
    pytest.importorskip("pydicom")
    with pytest.raises(dicom_fallback.FallbackError, match="TransferSyntaxUID") as info:
        dicom_fallback.decode(path.read_bytes(), 100_000_000)
    assert info.value.kind == "corrupt"


@pytest.mark.parametrize("exc", [AttributeError("no attribute"), KeyError("x"), RecursionError("deep"), ValueError()])
def test_any_exception_from_the_fallback_is_an_error_row(monkeypatch, exc):
    data = S.dicom(S.phantom(16, 16), syntax=J2K, frames=[b"\xff\x4f\xff\x51"])

    def boom(*_a, **_k):
        raise exc

    monkeypatch.setattr(dicom_fallback, "available", lambda: True)
    monkeypatch.setattr(dicom_fallback, "decode", boom)
    row = run({"a.dcm": data}).row(0, named=True)
    assert row["status"] == "error" and row["error_kind"] == "corrupt"
    assert row["error"].startswith(f"pydicom fallback failed: {type(exc).__name__}")


def test_memory_error_is_a_too_large_row_but_keyboard_interrupt_stops_the_run(monkeypatch):
    data = S.dicom(S.phantom(16, 16), syntax=J2K, frames=[b"\xff\x4f\xff\x51"])
    monkeypatch.setattr(dicom_fallback, "available", lambda: True)

    def oom(*_a, **_k):
        raise MemoryError

    monkeypatch.setattr(dicom_fallback, "decode", oom)
    assert run({"a.dcm": data}).row(0, named=True)["error_kind"] == "too_large"

    def interrupt(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(dicom_fallback, "decode", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run({"a.dcm": data})


def test_pixel_limit_counts_rows_columns_and_frames_before_pydicom_decodes(monkeypatch):
    pytest.importorskip("pydicom")
    data = _j2k(S.phantom(64, 48, maximum=4095, dtype=np.uint16))
    import pydicom.dataset

    def no_decode(self):
        raise AssertionError("pixel_array must not be reached")

    monkeypatch.setattr(pydicom.dataset.Dataset, "pixel_array", property(no_decode))
    row = run({"a.dcm": data}, max_pixels=64 * 48 - 1).row(0, named=True)
    assert row["status"] == "error" and row["error_kind"] == "too_large", row["error"]
    assert "exceeds the limit" in row["error"]


def test_embedded_frame_larger_than_the_header_is_refused_before_decoding():
    pytest.importorskip("pydicom")
    data = bytearray(_j2k(S.phantom(64, 48, maximum=4095, dtype=np.uint16)))
    siz = data.find(b"\xff\x4f\xff\x51") + 8
    assert siz > 8
    data[siz : siz + 8] = (65500).to_bytes(4, "big") + (65500).to_bytes(4, "big")  # Xsiz, Ysiz
    row = run({"a.dcm": bytes(data)}).row(0, named=True)
    assert row["status"] == "error" and row["error_kind"] == "too_large", row["error"]
    assert "embedded frame" in row["error"]


def test_embedded_frame_size_mismatch_is_corrupt():
    assert dicom_fallback._embedded_size(b"\x00" * 8) is None
    siz = b"\xff\x4f\xff\x51\x00\x29\x00\x00" + (50).to_bytes(4, "big") + (40).to_bytes(4, "big") + bytes(8)
    assert dicom_fallback._embedded_size(siz) == (50, 40)
    ls = b"\xff\xd8\xff\xf7\x00\x0b\x0c" + (30).to_bytes(2, "big") + (20).to_bytes(2, "big")
    assert dicom_fallback._embedded_size(ls) == (20, 30)
