//! numpy arrays in, borrowed without a copy.
//!
//! Arrays must be C-contiguous: `as_slice` in rust-numpy also accepts
//! Fortran order, which would silently scramble rows and columns, so the
//! order is checked here and the Python side makes any copy explicitly.

use numpy::{PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::output::to_python;
use super::run::{invalid_input, invalid_type, profile_views, type_name, Call};
use crate::image::CHANNELS;
use crate::{ImageView, Pixels};

/// A read-only borrow of one array, typed.
enum Held<'py> {
    U8(PyReadonlyArrayDyn<'py, u8>),
    U16(PyReadonlyArrayDyn<'py, u16>),
    I16(PyReadonlyArrayDyn<'py, i16>),
    F32(PyReadonlyArrayDyn<'py, f32>),
    F64(PyReadonlyArrayDyn<'py, f64>),
}

fn hold<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Held<'py>> {
    let arr = obj
        .cast::<PyUntypedArray>()
        .map_err(|_| invalid_type(py, format!("{name} must be a numpy array, got {}", type_name(obj))))?;
    if !arr.is_c_contiguous() {
        return Err(invalid_input(
            py,
            format!("{name} is not C-contiguous; pass numpy.ascontiguousarray({name}) (spectral_fast.profile does this for you)"),
        ));
    }
    macro_rules! try_dtype {
        ($($t:ty => $v:ident),*) => {$(
            if let Ok(a) = obj.cast::<PyArrayDyn<$t>>() {
                return a.try_readonly().map(Held::$v).map_err(|e| invalid_input(py, format!("{name}: {e}")));
            }
        )*};
    }
    try_dtype!(u8 => U8, u16 => U16, i16 => I16, f32 => F32, f64 => F64);
    Err(invalid_type(
        py,
        format!(
            "{name} dtype must be one of uint8, uint16, int16, float32, float64 (native byte order), got {}",
            arr.dtype()
        ),
    ))
}

impl Held<'_> {
    fn pixels(&self) -> Pixels<'_> {
        // C-contiguity was checked in `hold`, so `as_slice` cannot fail.
        match self {
            Held::U8(a) => Pixels::U8(a.as_slice().expect("C-contiguous")),
            Held::U16(a) => Pixels::U16(a.as_slice().expect("C-contiguous")),
            Held::I16(a) => Pixels::I16(a.as_slice().expect("C-contiguous")),
            Held::F32(a) => Pixels::F32(a.as_slice().expect("C-contiguous")),
            Held::F64(a) => Pixels::F64(a.as_slice().expect("C-contiguous")),
        }
    }

    fn shape(&self) -> Vec<usize> {
        match self {
            Held::U8(a) => a.shape().to_vec(),
            Held::U16(a) => a.shape().to_vec(),
            Held::I16(a) => a.shape().to_vec(),
            Held::F32(a) => a.shape().to_vec(),
            Held::F64(a) => a.shape().to_vec(),
        }
    }
}

/// Slice one array into image views: (H, W) or (H, W, C) when not stacked,
/// (N, H, W) or (N, H, W, C) when stacked.
fn views_of<'a>(py: Python<'_>, held: &'a Held<'_>, stacked: bool, name: &str) -> PyResult<Vec<ImageView<'a>>> {
    let shape = held.shape();
    let (n, rest) =
        if stacked { (shape.first().copied(), &shape[shape.len().min(1)..]) } else { (Some(1), &shape[..]) };
    let (h, w, c) = match rest {
        [h, w] => (*h, *w, 1),
        [h, w, c] => (*h, *w, *c),
        _ => (0, 0, 0),
    };
    let expected = if stacked { "(N, H, W) or (N, H, W, 3|4)" } else { "(H, W) or (H, W, 3|4)" };
    let n = match n {
        Some(n) if CHANNELS.contains(&c) => n,
        _ => return Err(invalid_input(py, format!("{name} must have shape {expected}, got {shape:?}"))),
    };
    let per = h * w * c;
    let all = held.pixels();
    Ok((0..n).map(|i| ImageView::new(all.slice(i * per..(i + 1) * per), h, w, c)).collect())
}

/// Profile numpy images. `arrays` is a list; with `stacked=False` each item is
/// one image, (H, W) or (H, W, 3|4); with `stacked=True` each is a stack.
#[pyfunction]
#[pyo3(signature = (arrays, *, stacked, options))]
fn profile_numpy<'py>(
    py: Python<'py>,
    arrays: &Bound<'py, PyAny>,
    stacked: bool,
    options: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    let call = Call::from_options(py, options)?;
    let items: Vec<Bound<'py, PyAny>> = arrays.try_iter()?.collect::<PyResult<_>>()?;
    let held: Vec<Held<'py>> =
        items.iter().enumerate().map(|(i, a)| hold(py, a, &format!("images[{i}]"))).collect::<PyResult<_>>()?;
    let mut views = Vec::new();
    for (i, h) in held.iter().enumerate() {
        views.extend(views_of(py, h, stacked, &format!("images[{i}]"))?);
    }
    if views.is_empty() {
        return Err(invalid_input(py, "images is empty: there is no image to profile"));
    }
    let dims: Vec<(i64, i64)> = views.iter().map(|v| (v.height as i64, v.width as i64)).collect();
    let results = profile_views(py, &views, &call)?;
    to_python(py, &results, &dims, call.opts.bands)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(profile_numpy, m)?)
}
