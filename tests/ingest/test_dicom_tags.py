"""DICOM acquisition tags as profile columns: read by the core and by the pydicom fallback, hostile values made null."""

from __future__ import annotations

import io

import polars as pl
import pytest

from helpers import archive_samples as S
from spectral_fast.ingest import dicom_fallback
from spectral_fast.ingest.batch import process_batch

pydicom = pytest.importorskip("pydicom")

TAG_COLUMNS = [*dicom_fallback.TEXT_TAGS, *dicom_fallback.NUMBER_TAGS]

#: One value for every tag the profile reads, as a CR/DX header would hold them.
ACQUISITION = {
    "Manufacturer": b"AGFA",
    "ManufacturerModelName": b"CR 85-X",
    "StationName": b"XR-ROOM-3",
    "InstitutionName": b"Example Hospital",
    "DetectorType": b"SCINTILLATOR",
    "DetectorID": b"D1234",
    "ViewPosition": b"AP",
    "BodyPartExamined": b"CHEST",
    "PixelIntensityRelationship": b"LOG",
    "FilterType": b"CU0.1",
    "Grid": b"FIXED",
    "AcquisitionDeviceProcessingDescription": b"CHEST PA STD",
    "AcquisitionDeviceProcessingCode": b"GP-12",
    "KVP": b"125",
    "Exposure": b"4",
    "XRayTubeCurrent": b"320",
    "ExposureTime": b"12",
}
EXPECTED = {
    "dicom_modality": "CR",
    "dicom_manufacturer": "AGFA",
    "dicom_model": "CR 85-X",
    "dicom_station": "XR-ROOM-3",
    "dicom_institution": "Example Hospital",
    "dicom_detector_type": "SCINTILLATOR",
    "dicom_detector_id": "D1234",
    "dicom_view": "AP",
    "dicom_body_part": "CHEST",
    "dicom_photometric": "MONOCHROME2",
    "dicom_intensity_relationship": "LOG",
    "dicom_filter_type": "CU0.1",
    "dicom_grid": "FIXED",
    "dicom_processing": "CHEST PA STD",
    "dicom_processing_code": "GP-12",
    "dicom_kvp": 125.0,
    "dicom_exposure_mas": 4.0,
    "dicom_tube_current_ma": 320.0,
    "dicom_exposure_time_ms": 12.0,
}


def _rows(items: dict[str, bytes]) -> dict[str, dict]:
    out = pl.from_arrow(process_batch(S.bytes_batch(items), dicom_fallback=False))
    return {r["id"]: r for r in out.to_dicts()}


def test_every_acquisition_tag_is_a_column_and_the_fallback_reads_the_same():
    data = S.with_raw_elements(S.dicom(S.phantom(48, 40)), ACQUISITION)
    rows = _rows({"tagged": data, "png": S.png(S.phantom(48, 40))})
    tagged, png = rows["tagged"], rows["png"]
    assert tagged["status"] == "ok", tagged["error"]
    assert {c: tagged[c] for c in TAG_COLUMNS} == EXPECTED
    assert (tagged["mode"], tagged["pixel_spacing_mm"]) == ("gray", 0.143)
    assert all(png[c] is None for c in TAG_COLUMNS) and png["mode"] == "gray"
    assert dicom_fallback.acquisition_tags(pydicom.dcmread(io.BytesIO(data))) == EXPECTED


def test_finer_unit_tags_are_the_fallback_for_exposure_current_and_time():
    data = S.with_raw_elements(
        S.dicom(S.phantom(32, 32)),
        {"ExposureInuAs": b"2500", "XRayTubeCurrentInuA": b"400", "ExposureTimeInuS": b"1500"},
    )
    row = _rows({"a": data})["a"]
    assert (row["dicom_exposure_mas"], row["dicom_tube_current_ma"], row["dicom_exposure_time_ms"]) == (2.5, 0.4, 1.5)
    tags = dicom_fallback.acquisition_tags(pydicom.dcmread(io.BytesIO(data)))
    assert (tags["dicom_exposure_mas"], tags["dicom_tube_current_ma"], tags["dicom_exposure_time_ms"]) == (
        2.5,
        0.4,
        1.5,
    )


def test_hostile_tag_values_are_null_or_cleaned_and_never_fail_the_file():
    hostile = {
        "SpecificCharacterSet": b"ISO_IR 192",
        "Manufacturer": b"AG\xff\xfe\xc3FA",  # not UTF-8 though the file says it is
        "StationName": b"ST\x1b[31mA\xe2\x80\xae1\x07\x00",  # escape, bidi override, bell, NUL
        "InstitutionName": b"H" * 300,  # far over LO's 64
        "DetectorType": b"\x01\x02  ",  # nothing but controls and blanks
        "KVP": b"1e999",  # overflows to inf
        "Exposure": b"abc",  # not a number
        "XRayTubeCurrent": b"-5",  # negative
        "ExposureTime": b"NaN",
        "ViewPosition": b"PA\\AP",  # two values where one is expected
    }
    data = S.with_raw_elements(S.dicom(S.phantom(32, 32)), hostile)
    row = _rows({"h": data})["h"]
    assert row["status"] == "ok", row["error"]
    assert row["dicom_station"] == "ST[31mA1"
    assert row["dicom_institution"] == "H" * 64
    assert row["dicom_manufacturer"] is not None and row["dicom_manufacturer"].startswith("AG")
    assert row["dicom_view"] == "PA\\AP"
    for c in (
        "dicom_detector_type",
        "dicom_kvp",
        "dicom_exposure_mas",
        "dicom_tube_current_ma",
        "dicom_exposure_time_ms",
    ):
        assert row[c] is None, c
    tags = dicom_fallback.acquisition_tags(pydicom.dcmread(io.BytesIO(data)))
    same = [c for c in TAG_COLUMNS if c != "dicom_manufacturer"]  # invalid UTF-8 is replaced differently
    assert {c: tags[c] for c in same} == {c: row[c] for c in same}


def test_fallback_rows_get_the_tags_too():
    pytest.importorskip("openjpeg")
    a12 = S.phantom(64, 48, maximum=4095, dtype="uint16")
    j2k = S.dicom(a12, bits_stored=12, syntax="1.2.840.10008.1.2.4.90")
    ds = pydicom.dcmread(io.BytesIO(j2k))
    ds.Manufacturer, ds.KVP, ds.ViewPosition = "FUJIFILM", "110", "PA"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    out = pl.from_arrow(process_batch(S.bytes_batch({"j": buf.getvalue()}), dicom_fallback=True)).row(0, named=True)
    assert out["status"] == "ok", out["error"]
    assert (out["dicom_manufacturer"], out["dicom_kvp"], out["dicom_view"], out["mode"]) == (
        "FUJIFILM",
        110.0,
        "PA",
        "gray",
    )


def test_real_dicom_pair_tags_agree_with_the_recorded_metadata(cxr_real_dir):
    meta = pl.read_csv(cxr_real_dir / "metadata.csv", infer_schema_length=None).filter(pl.col("format") != "PNG")
    files = {p.name: p.read_bytes() for p in (S.DICOM_MONO2, S.DICOM_MONO1)}
    rows = _rows(files)
    for name, row in rows.items():
        recorded = meta.filter(pl.col("file") == f"images/{name}").row(0, named=True)
        assert row["status"] == "ok", row["error"]
        assert row["dicom_view"] == recorded["view"] == "PA"
        assert (row["dicom_modality"], row["dicom_body_part"]) == ("CR", "CHEST")
        assert row["pixel_spacing_mm"] == 0.168 and "0.168 mm" in recorded["acquisition"]
        assert row["dicom_manufacturer"] is None  # the header has none: null, not ""
    assert rows[S.DICOM_MONO1.name]["dicom_photometric"] == "MONOCHROME1"
    assert rows[S.DICOM_MONO2.name]["dicom_photometric"] == "MONOCHROME2"
