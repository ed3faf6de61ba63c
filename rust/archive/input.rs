//! The columns `process_batch` reads: `id` (utf8 / large_utf8 / utf8_view),
//! and either `bytes` (binary / large_binary / binary_view: encoded files,
//! borrowed zero-copy) or `path` (utf8 kinds: files the worker reads itself).
//! Polars hands over the view types, pyarrow the plain ones; all are accepted
//! so no caller has to cast (a cast copies every image).

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;

use crate::error::Error;

/// A string column of any Arrow string layout.
pub(super) enum StrCol<'a> {
    Utf8(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
}

impl StrCol<'_> {
    pub(super) fn get(&self, i: usize) -> Option<&str> {
        match self {
            StrCol::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            StrCol::Large(a) => a.is_valid(i).then(|| a.value(i)),
            StrCol::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }

    pub(super) fn null_count(&self) -> usize {
        match self {
            StrCol::Utf8(a) => a.null_count(),
            StrCol::Large(a) => a.null_count(),
            StrCol::View(a) => a.null_count(),
        }
    }
}

/// A binary column of any Arrow binary layout.
pub(super) enum BinCol<'a> {
    Binary(&'a arrow_array::BinaryArray),
    Large(&'a arrow_array::LargeBinaryArray),
    View(&'a arrow_array::BinaryViewArray),
}

impl BinCol<'_> {
    /// The encoded bytes of row `i`, borrowed from the Arrow buffer (no copy).
    pub(super) fn get(&self, i: usize) -> Option<&[u8]> {
        match self {
            BinCol::Binary(a) => a.is_valid(i).then(|| a.value(i)),
            BinCol::Large(a) => a.is_valid(i).then(|| a.value(i)),
            BinCol::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// Where each row's encoded image comes from.
pub(super) enum Source<'a> {
    Bytes(BinCol<'a>),
    Path(StrCol<'a>),
}

/// The validated input columns of one batch.
pub(super) struct Input<'a> {
    pub ids: StrCol<'a>,
    pub source: Source<'a>,
    /// Optional per-row message from the producer (e.g. a file it could not list);
    /// a non-null value makes that row an error row without decoding.
    pub read_error: Option<StrCol<'a>>,
}

pub(super) fn columns(batch: &RecordBatch) -> Result<Input<'_>, Error> {
    let ids = column(batch, "id")
        .ok_or_else(|| Error::invalid("batch", format!("batch has no 'id' column (columns: {})", names(batch))))?;
    let ids = as_str(ids).ok_or_else(|| {
        Error::invalid("batch", format!("column 'id' must be a string column, got {}", ids.data_type()))
    })?;
    if ids.null_count() > 0 {
        return Err(Error::invalid("batch", "column 'id' has null values; every row needs an id"));
    }
    let source = if let Some(bytes) = column(batch, "bytes") {
        Source::Bytes(as_bin(bytes).ok_or_else(|| {
            Error::invalid("batch", format!("column 'bytes' must be a binary column, got {}", bytes.data_type()))
        })?)
    } else if let Some(path) = column(batch, "path") {
        Source::Path(as_str(path).ok_or_else(|| {
            Error::invalid("batch", format!("column 'path' must be a string column, got {}", path.data_type()))
        })?)
    } else {
        return Err(Error::invalid(
            "batch",
            format!("batch needs a 'bytes' (encoded images) or 'path' column (columns: {})", names(batch)),
        ));
    };
    let read_error = match column(batch, "read_error") {
        None => None,
        Some(col) => Some(as_str(col).ok_or_else(|| {
            Error::invalid("batch", format!("column 'read_error' must be a string column, got {}", col.data_type()))
        })?),
    };
    Ok(Input { ids, source, read_error })
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a ArrayRef> {
    batch.schema_ref().index_of(name).ok().map(|i| batch.column(i))
}

fn names(batch: &RecordBatch) -> String {
    let names: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
    names.join(", ")
}

fn as_str(a: &ArrayRef) -> Option<StrCol<'_>> {
    match a.data_type() {
        DataType::Utf8 => Some(StrCol::Utf8(a.as_string::<i32>())),
        DataType::LargeUtf8 => Some(StrCol::Large(a.as_string::<i64>())),
        DataType::Utf8View => Some(StrCol::View(a.as_string_view())),
        _ => None,
    }
}

fn as_bin(a: &ArrayRef) -> Option<BinCol<'_>> {
    match a.data_type() {
        DataType::Binary => Some(BinCol::Binary(a.as_binary::<i32>())),
        DataType::LargeBinary => Some(BinCol::Large(a.as_binary::<i64>())),
        DataType::BinaryView => Some(BinCol::View(a.as_binary_view())),
        _ => None,
    }
}
