//! `_core.process_batch`: one Arrow record batch of encoded images in, one of
//! profiles out (pyarrow). The batch's buffers are imported zero-copy through
//! the Arrow C data interface; decoding and profiling run without the GIL.

use arrow_array::RecordBatch;
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use pyo3::prelude::*;

use super::run::{bool_arg, core_error, int_arg, invalid_input, invalid_type, run_detached, type_name, Call};
use crate::archive::{self, ArchiveOptions};
use crate::decode::DecodeOptions;

/// Decode and profile every row of `batch` (see `spectral_fast.archive.process_batch`).
#[pyfunction]
#[pyo3(signature = (batch, *, options, max_pixels))]
fn process_batch<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    options: &Bound<'py, PyAny>,
    max_pixels: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let call = Call::from_options(py, options)?;
    let max_pixels = int_arg(py, max_pixels, "max_pixels")?;
    if max_pixels < 1 {
        return Err(invalid_input(py, format!("max_pixels must be a positive integer, got {max_pixels}")));
    }
    if !batch.hasattr("__arrow_c_array__")? {
        return Err(invalid_type(
            py,
            format!("batch must be an Arrow record batch (e.g. pyarrow.RecordBatch), got {}", type_name(batch)),
        ));
    }
    let batch = RecordBatch::from_pyarrow_bound(batch)
        .map_err(|e| invalid_type(py, format!("batch: could not import the Arrow record batch: {e}")))?;
    let opts = ArchiveOptions { profile: call.opts, decode: DecodeOptions { max_pixels: max_pixels as u64 } };
    let out = run_detached(py, call.threads, |pool| archive::process_batch(&batch, &opts, pool))?
        .map_err(|e| core_error(py, e))?;
    out.to_pyarrow(py)
}

/// Read and decode every row of `batch` without profiling (the decode floor
/// for benchmarks); returns `(decoded, failed)`.
#[pyfunction]
#[pyo3(signature = (batch, *, threads, max_pixels))]
fn _decode_only<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    threads: &Bound<'py, PyAny>,
    max_pixels: &Bound<'py, PyAny>,
) -> PyResult<(usize, usize)> {
    let threads = crate::options::resolve_threads(super::run::opt_int_arg(py, threads, "threads")?)
        .map_err(|e| core_error(py, e))?;
    let max_pixels = int_arg(py, max_pixels, "max_pixels")?.max(1) as u64;
    let batch = RecordBatch::from_pyarrow_bound(batch)
        .map_err(|e| invalid_type(py, format!("batch: could not import the Arrow record batch: {e}")))?;
    let opts = DecodeOptions { max_pixels };
    run_detached(py, threads, |pool| archive::decode_only(&batch, &opts, pool))?.map_err(|e| core_error(py, e))
}

/// The output schema for `bands` bands, with or without the artefact
/// columns, so writers can be opened before the first batch.
#[pyfunction]
#[pyo3(signature = (bands, *, artefacts))]
fn archive_schema<'py>(
    py: Python<'py>,
    bands: &Bound<'py, PyAny>,
    artefacts: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let bands = crate::options::check_bands(int_arg(py, bands, "bands")?).map_err(|e| core_error(py, e))?;
    archive::schema(bands, bool_arg(py, artefacts, "artefacts")?).as_ref().to_pyarrow(py)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(process_batch, m)?)?;
    m.add_function(wrap_pyfunction!(archive_schema, m)?)?;
    m.add_function(wrap_pyfunction!(_decode_only, m)?)?;
    Ok(())
}
