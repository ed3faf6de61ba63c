//! Small functions of the binding: band edges, thread count, fork and test hooks.

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use super::output::SCALARS;
use super::run::{core_error, int_arg, invalid_input, opt_int_arg, run_detached, str_arg};
use crate::options::{check_bands, resolve_threads, Spacing, MAX_PIXELS};

/// Edges `e_0 .. e_B` of the radial bands of a `height x width` grid, cycles per pixel.
#[pyfunction]
fn band_edges<'py>(
    py: Python<'py>,
    height: &Bound<'py, PyAny>,
    width: &Bound<'py, PyAny>,
    bands: &Bound<'py, PyAny>,
    spacing: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let side = |obj, param: &'static str| -> PyResult<usize> {
        let v = int_arg(py, obj, param)?;
        if (1..=MAX_PIXELS as i64).contains(&v) {
            Ok(v as usize)
        } else {
            Err(invalid_input(py, format!("{param} must be a positive integer, got {v}")))
        }
    };
    let (h, w) = (side(height, "height")?, side(width, "width")?);
    let bands = check_bands(int_arg(py, bands, "bands")?).map_err(|e| core_error(py, e))?;
    let spacing: Spacing = str_arg(py, spacing, "spacing")?.parse().map_err(|e| core_error(py, e))?;
    Ok(PyArray1::from_vec(py, crate::band_edges(h, w, bands, spacing)))
}

/// The thread count a call with `threads` would use (argument, then
/// `SPECTRAL_FAST_THREADS`, then the number of cores).
#[pyfunction]
fn resolve_thread_count(py: Python<'_>, threads: &Bound<'_, PyAny>) -> PyResult<usize> {
    resolve_threads(opt_int_arg(py, threads, "threads")?).map_err(|e| core_error(py, e))
}

/// How this extension was built: `profile` ("release" or "debug"), `version`
/// and `threads_default` (what `threads=None` resolves to now). The
/// benchmarks refuse a debug build.
#[pyfunction]
fn build_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("profile", if cfg!(debug_assertions) { "debug" } else { "release" })?;
    d.set_item("version", env!("CARGO_PKG_VERSION"))?;
    d.set_item("threads_default", resolve_threads(None).map_err(|e| core_error(py, e))?)?;
    Ok(d)
}

/// Drop the thread pools in a forked child (registered with `os.register_at_fork`).
#[pyfunction]
fn _after_fork_in_child() {
    crate::forget_pools_after_fork();
}

/// Panic inside a pool worker, through the same helper every call uses; lets
/// the tests check that a panic surfaces as `InternalError`, not `PanicException`.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>, threads: usize) -> PyResult<()> {
    run_detached(py, threads.max(1), |pool| match pool {
        Some(pool) => pool.install(|| {
            (0..8usize).into_par_iter().for_each(|i| {
                if i == 5 {
                    panic!("deliberate panic for tests");
                }
            })
        }),
        None => panic!("deliberate panic for tests"),
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(band_edges, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_thread_count, m)?)?;
    m.add_function(wrap_pyfunction!(build_info, m)?)?;
    m.add_function(wrap_pyfunction!(_after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add("SCALARS", SCALARS.to_vec())?;
    m.add("MIN_SIDE", crate::MIN_SIDE)?;
    m.add("MAX_BANDS", crate::MAX_BANDS)?;
    Ok(())
}
