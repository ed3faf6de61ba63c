//! `radial_filter` and `resize_images`: the stress tests' image operations on
//! (N, H, W) float32 or float64 stacks, GIL released, one image per task.

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::run::{core_error, int_arg, invalid_input, invalid_type, opt_int_arg, run_detached, type_name};
use crate::error::Error;
use crate::options::resolve_threads;
use crate::stress::{self, Gains, Sample};

/// A C-contiguous (N, H, W) stack, float32 or float64.
enum Stack<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F64(PyReadonlyArrayDyn<'py, f64>),
}

fn contiguous<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyUntypedArray>> {
    let arr = obj
        .cast::<PyUntypedArray>()
        .map_err(|_| invalid_type(py, format!("{name} must be a numpy array, got {}", type_name(obj))))?;
    if !arr.is_c_contiguous() {
        return Err(invalid_input(py, format!("{name} is not C-contiguous; pass numpy.ascontiguousarray({name})")));
    }
    Ok(arr.clone())
}

fn stack<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<(Stack<'py>, (usize, usize, usize))> {
    let arr = contiguous(py, obj, "images")?;
    let shape = arr.shape().to_vec();
    let [n, h, w] = shape[..] else {
        return Err(invalid_input(py, format!("images: expected (N, H, W), got shape {shape:?}")));
    };
    let held = if let Ok(a) = obj.cast::<PyArrayDyn<f32>>() {
        Stack::F32(a.try_readonly().map_err(|e| invalid_input(py, format!("images: {e}")))?)
    } else if let Ok(a) = obj.cast::<PyArrayDyn<f64>>() {
        Stack::F64(a.try_readonly().map_err(|e| invalid_input(py, format!("images: {e}")))?)
    } else {
        return Err(invalid_type(py, format!("images dtype must be float32 or float64, got {}", arr.dtype())));
    };
    Ok((held, (n, h, w)))
}

fn floats<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<(PyReadonlyArrayDyn<'py, f64>, Vec<usize>)> {
    let arr = contiguous(py, obj, name)?;
    let held = obj
        .cast::<PyArrayDyn<f64>>()
        .map_err(|_| invalid_type(py, format!("{name} dtype must be float64, got {}", arr.dtype())))?
        .try_readonly()
        .map_err(|e| invalid_input(py, format!("{name}: {e}")))?;
    Ok((held, arr.shape().to_vec()))
}

/// The pool size of `threads` (None: `SPECTRAL_FAST_THREADS`, then every core).
fn thread_count(py: Python<'_>, threads: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
    let requested = match threads {
        Some(t) => opt_int_arg(py, t, "threads")?,
        None => None,
    };
    resolve_threads(requested).map_err(|e| core_error(py, e))
}

/// The result as an array of `shape`, same element type as the input.
fn output<'py, T: Sample + numpy::Element>(
    py: Python<'py>,
    result: Result<Vec<T>, Error>,
    shape: [usize; 3],
) -> PyResult<Bound<'py, PyAny>> {
    let data = result.map_err(|e| core_error(py, e))?;
    Ok(PyArray1::from_vec(py, data).reshape(shape)?.into_any())
}

/// `$op`, an expression over `$x` (the stack's samples, either element type)
/// and `$pool`, run detached from the GIL on the stack `$held`; its result as
/// an array of `$shape` of the input's element type. One body for both types.
macro_rules! on_stack {
    ($py:expr, $held:expr, $threads:expr, $shape:expr, |$x:ident, $pool:ident| $op:expr) => {
        match $held {
            Stack::F32(a) => {
                let $x = a.as_slice()?;
                output($py, run_detached($py, $threads, |$pool| $op)?, $shape)
            }
            Stack::F64(a) => {
                let $x = a.as_slice()?;
                output($py, run_detached($py, $threads, |$pool| $op)?, $shape)
            }
        }
    };
}

/// Multiply each image's Fourier magnitudes by a radial gain, phase and mean kept
/// (`spectral_fast.stress.filter_oracle.radial_filter`). `gains` is (m,) or (N, m).
#[pyfunction]
#[pyo3(signature = (images, radii, gains, *, threads=None))]
fn radial_filter<'py>(
    py: Python<'py>,
    images: &Bound<'py, PyAny>,
    radii: &Bound<'py, PyAny>,
    gains: &Bound<'py, PyAny>,
    threads: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let threads = thread_count(py, threads)?;
    let (held, (n, h, w)) = stack(py, images)?;
    let (radii, radii_shape) = floats(py, radii, "radii")?;
    let (gains, gains_shape) = floats(py, gains, "gains")?;
    let m = radii.as_slice()?.len();
    if radii_shape.len() != 1 {
        return Err(invalid_input(py, "radii: expected a 1-D, finite, strictly increasing array"));
    }
    let g = gains.as_slice()?;
    let gains = match gains_shape[..] {
        [_] => Gains::Shared(g),
        [rows, cols] if rows == n && cols == m => Gains::PerImage(g),
        _ => {
            return Err(invalid_input(
                py,
                format!(
                    "gains: expected finite positive values of shape ({m},) or ({n}, {m}), got shape {gains_shape:?}"
                ),
            ))
        }
    };
    let radii = radii.as_slice()?;
    on_stack!(py, held, threads, [n, h, w], |x, pool| stress::radial_filter(x, (n, h, w), radii, gains, pool))
}

/// Resample each image to `height x width` (area averaging when shrinking,
/// bilinear when enlarging, each axis on its own).
#[pyfunction]
#[pyo3(signature = (images, height, width, *, threads=None))]
fn resize_images<'py>(
    py: Python<'py>,
    images: &Bound<'py, PyAny>,
    height: &Bound<'py, PyAny>,
    width: &Bound<'py, PyAny>,
    threads: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let threads = thread_count(py, threads)?;
    let side = |obj, name: &'static str| -> PyResult<usize> {
        let v = int_arg(py, obj, name)?;
        usize::try_from(v).map_err(|_| invalid_input(py, format!("{name} must be a positive integer, got {v}")))
    };
    let (oh, ow) = (side(height, "height")?, side(width, "width")?);
    let (held, dims) = stack(py, images)?;
    on_stack!(py, held, threads, [dims.0, oh, ow], |x, pool| stress::resize_stack(x, dims, (oh, ow), pool))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(radial_filter, m)?)?;
    m.add_function(wrap_pyfunction!(resize_images, m)?)
}
