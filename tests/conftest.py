"""Shared fixtures: where the real radiographs are, and the parity check against the reference."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from spectral_fast.profiling import oracle as ref

#: Parity tolerance of the Rust core against the numpy reference: 1e-6
#: relative, plus an absolute floor of 1e-10 for values that are near zero by
#: nature (hf_ratio of a smooth image, a slope close to 0), where a relative
#: test would compare rounding noise. Both compute in float64; measured
#: differences are ~1e-13.
RTOL = 1e-6
ATOL = 1e-10


def _data_dir() -> Path:
    """$SPECTRAL_FAST_DATA (the cxr-real folder or its parent), else ../shared/data/cxr-real."""
    env = os.environ.get("SPECTRAL_FAST_DATA")
    candidates = [Path(env), Path(env) / "cxr-real"] if env else []
    candidates.append(Path(__file__).parents[1] / ".." / "shared" / "data" / "cxr-real")
    for c in candidates:
        if (c / "images").is_dir():
            return c.resolve()
    return candidates[-1]


@pytest.fixture(scope="session")
def cxr_real_dir() -> Path:
    """The real CXR folder (images/*.png, two DICOMs, metadata.csv); skips when absent."""
    d = _data_dir()
    if not (d / "images").is_dir():
        pytest.skip(f"real CXR data not found at {d} (set SPECTRAL_FAST_DATA)")
    return d


def row_features(df: pl.DataFrame, i: int) -> dict[str, float]:
    """Feature values of row ``i`` by column name."""
    return {c: df[c][i] for c in df.columns if c.startswith("band_") or c in ref.SCALAR_NAMES}


def reference_features(p: ref.Profile) -> dict[str, float]:
    digits = max(2, len(str(len(p.bands) - 1)))
    out = {f"band_{i:0{digits}d}": float(v) for i, v in enumerate(p.bands)}
    out.update({name: getattr(p, name) for name in ref.SCALAR_NAMES})
    return out


@pytest.fixture(scope="session")
def assert_matches_reference() -> Callable[..., None]:
    """``check(df, i, image, **options)``: row ``i`` of a profile frame equals the reference.

    Session-scoped (it holds no state), so hypothesis tests may use it.

    If the reference rejects the image, the row must be an error row with the
    same message; otherwise every feature must agree within RTOL/ATOL and
    height/width exactly.
    """

    def check(df: pl.DataFrame, i: int, image: np.ndarray, **options: object) -> None:
        try:
            expected = ref.profile_image(image, **options)  # type: ignore[arg-type]
        except ref.ImageError as exc:
            assert df["status"][i] == "error", f"reference rejects it ({exc}) but the core gave a profile"
            assert df["error"][i] == str(exc)
            assert all(v is None for v in row_features(df, i).values())
            return
        assert df["status"][i] == "ok", f"core error: {df['error'][i]}"
        assert df["error"][i] is None
        assert (df["height"][i], df["width"][i]) == (expected.height, expected.width)
        got = row_features(df, i)
        want = reference_features(expected)
        assert got.keys() == want.keys()
        for name, w in want.items():
            g = got[name]
            ok = (np.isnan(w) and np.isnan(g)) or abs(g - w) <= ATOL + RTOL * abs(w)
            assert ok, f"{name}: core {g!r} vs reference {w!r} (options {options}, shape {image.shape}, {image.dtype})"

    return check


#: Fixtures that imply a marker: a test using one of them is such a test, whatever its file.
_FIXTURE_MARKERS = {
    "cxr_real_dir": "real_data",  # the real CXR folder
    "local_real": "real_data",  # tests/ingest/test_ray.py: the local table of the real folder
    "repaired": "real_data",  # tests/ingest/test_archive_resume.py: copies of real CXRs
    "ray_session": "ray",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the fixtures they use (see _FIXTURE_MARKERS); other marks are written on the tests."""
    for item in items:
        for name in sorted(set(getattr(item, "fixturenames", ())) & _FIXTURE_MARKERS.keys()):
            item.add_marker(_FIXTURE_MARKERS[name])
