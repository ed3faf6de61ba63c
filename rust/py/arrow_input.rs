//! Arrow tables in (pyarrow, polars, anything with the Arrow PyCapsule
//! interface), pixel buffers borrowed without a copy.
//!
//! Expected columns: `pixels` (list, large_list or fixed_size_list of uint8,
//! uint16, int16, float32 or float64; if no column is called `pixels`, the
//! only list column), `height` and `width` (any integer type). Each row is one
//! image of `height x width x C` samples, C = 1, 3 or 4 inferred from the
//! length. A null `pixels` entry or null pixel values give that row an error;
//! lengths that match no shape are an error of the call.

use arrow_array::cast::AsArray;
use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_pyarrow::FromPyArrow;
use arrow_schema::DataType;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::output::to_python;
use super::run::{invalid_input, invalid_type, profile_views, type_name, Call};
use crate::image::channels_of;
use crate::{ImageError, ImageView, Pixels};

/// Read every record batch of an Arrow stream or array (struct / record batch).
fn import(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Vec<RecordBatch>> {
    let wrap = |e: PyErr| invalid_type(py, format!("images: could not import the Arrow data: {e}"));
    if data.hasattr("__arrow_c_stream__")? {
        let reader = RecordBatchStreamReader::from_pyarrow_bound(data).map_err(wrap)?;
        reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid_input(py, format!("images: could not read the Arrow stream: {e}")))
    } else if data.hasattr("__arrow_c_array__")? {
        Ok(vec![RecordBatch::from_pyarrow_bound(data).map_err(wrap)?])
    } else {
        Err(invalid_type(
            py,
            format!("images must be an array, a list of arrays or an Arrow table, got {}", type_name(data)),
        ))
    }
}

/// Row `i`'s sample range in the values array.
enum Ranges<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
    Fixed { offset: usize, len: usize },
}

impl Ranges<'_> {
    fn get(&self, i: usize) -> (usize, usize) {
        match self {
            Ranges::I32(o) => (o[i] as usize, o[i + 1] as usize),
            Ranges::I64(o) => (o[i] as usize, o[i + 1] as usize),
            Ranges::Fixed { offset, len } => ((offset + i) * len, (offset + i + 1) * len),
        }
    }
}

/// The pixel column, taken apart: offsets, list validity, values.
struct PixelColumn<'a> {
    ranges: Ranges<'a>,
    list_nulls: Option<&'a NullBuffer>,
    values: Pixels<'a>,
    value_nulls: Option<&'a NullBuffer>,
}

fn pixel_column<'a>(py: Python<'_>, col: &'a ArrayRef, name: &str) -> PyResult<PixelColumn<'a>> {
    let (ranges, values) = match col.data_type() {
        DataType::List(_) => {
            let l = col.as_list::<i32>();
            (Ranges::I32(l.value_offsets()), l.values())
        }
        DataType::LargeList(_) => {
            let l = col.as_list::<i64>();
            (Ranges::I64(l.value_offsets()), l.values())
        }
        DataType::FixedSizeList(_, len) => {
            let l = col.as_fixed_size_list();
            (Ranges::Fixed { offset: l.offset(), len: *len as usize }, l.values())
        }
        other => {
            return Err(invalid_type(
                py,
                format!("images: column '{name}' must be a list, large_list or fixed_size_list of pixels, got {other}"),
            ))
        }
    };
    let pixels = match values.data_type() {
        DataType::UInt8 => Pixels::U8(values.as_primitive::<UInt8Type>().values()),
        DataType::UInt16 => Pixels::U16(values.as_primitive::<UInt16Type>().values()),
        DataType::Int16 => Pixels::I16(values.as_primitive::<Int16Type>().values()),
        DataType::Float32 => Pixels::F32(values.as_primitive::<Float32Type>().values()),
        DataType::Float64 => Pixels::F64(values.as_primitive::<Float64Type>().values()),
        other => {
            return Err(invalid_type(
                py,
                format!(
                    "images: pixels in column '{name}' must be uint8, uint16, int16, float32 or float64, got {other}"
                ),
            ))
        }
    };
    Ok(PixelColumn { ranges, list_nulls: col.nulls(), values: pixels, value_nulls: values.nulls() })
}

/// An integer column as i64 (nulls as `None`).
fn int_column(py: Python<'_>, col: &ArrayRef, name: &str) -> PyResult<Vec<Option<i64>>> {
    macro_rules! ints {
        ($t:ty) => {
            col.as_primitive::<$t>().iter().map(|v| v.and_then(|v| i64::try_from(v).ok().or(Some(i64::MAX)))).collect()
        };
    }
    Ok(match col.data_type() {
        DataType::Int8 => ints!(Int8Type),
        DataType::Int16 => ints!(Int16Type),
        DataType::Int32 => ints!(Int32Type),
        DataType::Int64 => ints!(Int64Type),
        DataType::UInt8 => ints!(UInt8Type),
        DataType::UInt16 => ints!(UInt16Type),
        DataType::UInt32 => ints!(UInt32Type),
        DataType::UInt64 => ints!(UInt64Type),
        other => return Err(invalid_type(py, format!("images: column '{name}' must hold integers, got {other}"))),
    })
}

/// One input row: an image to profile, or the error it already has.
type Row<'a> = Result<ImageView<'a>, ImageError>;

fn rows_of<'a>(
    py: Python<'_>,
    batch: &'a RecordBatch,
    first_row: usize,
    out: &mut Vec<(Row<'a>, (i64, i64))>,
) -> PyResult<()> {
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let is_list = |t: &DataType| matches!(t, DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..));
    let pixels_idx = names.iter().position(|n| *n == "pixels").or_else(|| {
        let lists: Vec<usize> = (0..names.len()).filter(|&i| is_list(schema.field(i).data_type())).collect();
        (lists.len() == 1).then(|| lists[0])
    });
    let (Some(p), Some(h), Some(w)) =
        (pixels_idx, names.iter().position(|n| *n == "height"), names.iter().position(|n| *n == "width"))
    else {
        return Err(invalid_input(
            py,
            format!("images: an Arrow table needs columns 'pixels', 'height' and 'width', got {names:?}"),
        ));
    };
    let pixels = pixel_column(py, batch.column(p), names[p])?;
    let heights = int_column(py, batch.column(h), "height")?;
    let widths = int_column(py, batch.column(w), "width")?;
    for i in 0..batch.num_rows() {
        let row = first_row + i;
        let dims = (heights[i].unwrap_or(-1), widths[i].unwrap_or(-1));
        if pixels.list_nulls.is_some_and(|n| n.is_null(i)) {
            out.push((Err(ImageError::MissingPixels), dims));
            continue;
        }
        let (Some(hh), Some(ww)) = (heights[i], widths[i]) else {
            return Err(invalid_input(py, format!("images: row {row} has a null height or width")));
        };
        if hh < 0 || ww < 0 {
            return Err(invalid_input(py, format!("images: row {row} has a negative height or width ({hh} x {ww})")));
        }
        let (start, end) = pixels.ranges.get(i);
        let len = end - start;
        let sides = (usize::try_from(hh), usize::try_from(ww));
        let channels = match sides {
            (Ok(h), Ok(w)) => channels_of(len, h, w),
            _ => None,
        };
        let Some(channels) = channels else {
            return Err(invalid_input(
                py,
                format!("images: row {row} has {len} pixel values, which is not height x width = {hh} x {ww} times 1, 3 or 4 channels"),
            ));
        };
        if pixels.value_nulls.is_some_and(|n| n.slice(start, len).null_count() > 0) {
            out.push((Err(ImageError::NullPixelValues), dims));
            continue;
        }
        let view = ImageView::new(pixels.values.slice(start..end), hh as usize, ww as usize, channels);
        out.push((Ok(view), dims));
    }
    Ok(())
}

/// Profile the images of an Arrow table (see the module docs for its columns).
#[pyfunction]
#[pyo3(signature = (data, *, options))]
fn profile_arrow<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    options: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    let call = Call::from_options(py, options)?;
    let batches = import(py, data)?;
    let mut rows = Vec::new();
    for batch in &batches {
        let first = rows.len();
        rows_of(py, batch, first, &mut rows)?;
    }
    if rows.is_empty() {
        return Err(invalid_input(py, "images is empty: the Arrow table has no rows"));
    }
    let views: Vec<ImageView> = rows.iter().filter_map(|(r, _)| r.as_ref().ok().copied()).collect();
    let mut done = profile_views(py, &views, &call)?.into_iter();
    let results: Vec<_> = rows
        .iter()
        .map(|(r, _)| match r {
            Ok(_) => done.next().expect("one result per view"),
            Err(e) => Err(e.clone()),
        })
        .collect();
    let dims: Vec<(i64, i64)> = rows.iter().map(|(_, d)| *d).collect();
    to_python(py, &results, &dims, call.opts.bands)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(profile_arrow, m)?)
}
