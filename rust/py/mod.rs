//! The Python binding (`spectral_fast._core`), built only with the `python` feature.
//!
//! Thin by design: extract arguments, release the GIL, call the pure-Rust API,
//! convert results. Each file registers its own functions; to add one, add a
//! file with `pub(crate) fn register(m)` and one line in [`core_module`].

mod archive;
mod arrow_input;
mod misc;
mod numpy_input;
mod output;
mod run;
mod stress;

use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    numpy_input::register(m)?;
    arrow_input::register(m)?;
    misc::register(m)?;
    archive::register(m)?;
    stress::register(m)?;
    Ok(())
}
