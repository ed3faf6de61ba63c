//! Profiles to Python: column-major numpy arrays plus the error texts.
//!
//! Returned as `(bands, scalars, height, width, errors)`:
//! `bands` float64 (B, n), `scalars` float64 (13, n) in the order of
//! [`SCALARS`], `height`/`width` int64 (n,) with -1 where unknown, `errors`
//! a list of `str | None`. Feature values of error rows are NaN; the Python
//! side turns them into nulls. Column-major so that each output column is one
//! contiguous slice for polars.

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::{ImageError, Profile};

/// Names of the rows of `scalars`: the profile's scalars, then the artefact features.
pub(crate) use crate::profile::SCALAR_NAMES as SCALARS;

pub(crate) fn to_python<'py>(
    py: Python<'py>,
    results: &[Result<Profile, ImageError>],
    dims: &[(i64, i64)],
    bands: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    let n = results.len();
    let mut b = vec![f64::NAN; bands * n];
    let mut s = vec![f64::NAN; SCALARS.len() * n];
    let mut errors: Vec<Option<String>> = Vec::with_capacity(n);
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(p) => {
                for (k, v) in p.bands.iter().enumerate() {
                    b[k * n + i] = *v;
                }
                for (k, v) in p.scalars().into_iter().enumerate() {
                    s[k * n + i] = v;
                }
                errors.push(None);
            }
            Err(e) => errors.push(Some(e.to_string())),
        }
    }
    let bands_arr = PyArray1::from_vec(py, b).reshape([bands, n])?;
    let scalars_arr = PyArray1::from_vec(py, s).reshape([SCALARS.len(), n])?;
    let height = PyArray1::from_vec(py, dims.iter().map(|d| d.0).collect());
    let width = PyArray1::from_vec(py, dims.iter().map(|d| d.1).collect());
    let errors = PyList::new(py, errors)?;
    PyTuple::new(
        py,
        [bands_arr.into_any(), scalars_arr.into_any(), height.into_any(), width.into_any(), errors.into_any()],
    )
}
