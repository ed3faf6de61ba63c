# Hand-written stubs of the Rust extension (rust/py/); CI checks them with
# `python -m mypy.stubtest spectral_fast._core`. Profile options arrive as
# one ProfileOptions, read by attribute; the core validates each value itself
# and raises the package's InvalidInputError / InvalidTypeError naming it.

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from spectral_fast.profiling.options import ProfileOptions

__all__ = [
    "MAX_BANDS",
    "MIN_SIDE",
    "SCALARS",
    "_after_fork_in_child",
    "_decode_only",
    "_panic_for_tests",
    "archive_schema",
    "band_edges",
    "build_info",
    "process_batch",
    "profile_arrow",
    "profile_numpy",
    "radial_filter",
    "resize_images",
    "resolve_thread_count",
]

#: Rows of the `scalars` array returned by the profile functions, in order.
SCALARS: Final[list[str]]
#: Smallest image side, in pixels, that has a profile.
MIN_SIDE: Final[int]
#: Largest number of bands.
MAX_BANDS: Final[int]

#: What the profile functions return: `bands` float64 (B, n), `scalars`
#: float64 (13, n) in SCALARS order (NaN on error rows), native `height` and
#: `width` int64 (n,) with -1 where unknown, and each row's error text or None.
_ProfileOutput = tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    list[str | None],
]

def profile_numpy(arrays: list[npt.NDArray[Any]], *, stacked: bool, options: ProfileOptions) -> _ProfileOutput: ...
def profile_arrow(data: object, *, options: ProfileOptions) -> _ProfileOutput: ...
def band_edges(height: int, width: int, bands: int, spacing: str) -> npt.NDArray[np.float64]: ...
def resolve_thread_count(threads: int | None) -> int: ...
def build_info() -> dict[str, Any]: ...
def _after_fork_in_child() -> None: ...
def _panic_for_tests(threads: int) -> None: ...

# Archive processing (rust/py/archive.rs): encoded image bytes in, profiles out.
def process_batch(
    batch: object, *, options: ProfileOptions, max_pixels: int
) -> Any: ...  # pyarrow.RecordBatch (pyarrow ships no type stubs)
def archive_schema(bands: int, *, artefacts: bool) -> Any: ...  # pyarrow.Schema
def _decode_only(batch: object, *, threads: int | None, max_pixels: int) -> tuple[int, int]: ...

# Stress tests (rust/py/stress.rs): (N, H, W) float32 or float64 stacks, same dtype out.
def radial_filter(
    images: npt.NDArray[np.floating[Any]],
    radii: npt.NDArray[np.float64],
    gains: npt.NDArray[np.float64],
    *,
    threads: int | None = None,
) -> npt.NDArray[np.floating[Any]]: ...
def resize_images(
    images: npt.NDArray[np.floating[Any]], height: int, width: int, *, threads: int | None = None
) -> npt.NDArray[np.floating[Any]]: ...
