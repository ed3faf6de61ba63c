//! One output row per input row, and the Arrow batch they make.
//!
//! Column order: `id`, the profile columns in the order of
//! `spectral_fast.profile` (bands, scalars and, unless turned off, artefact
//! features, height, width, status, error), then
//! what the container said (`format`, `bit_depth`, `pixel_spacing_mm`,
//! `bytes`), `error_kind`, a stable short name of the error class, then the
//! colour `mode` as stored (`gray`, `rgb`, `rgba`) and the DICOM acquisition
//! tags (`dicom_*`, [`crate::decode::dicom_tags`]; null for other formats).

use std::sync::Arc;

use crate::decode::dicom_tags::{DicomTags, NUMBER_TAGS, TEXT_TAGS};
use arrow_array::builder::{Float64Builder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::decode::Format;
use crate::error::Error;
use crate::profile::Profile;

/// Why a row has no profile.
#[derive(Clone, Debug, PartialEq)]
pub struct RowError {
    pub kind: &'static str,
    pub message: String,
}

/// Everything known about one input row after decoding and profiling.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub format: Option<Format>,
    pub bit_depth: Option<u8>,
    pub pixel_spacing_mm: Option<f64>,
    pub bytes: Option<u64>,
    /// Native size, known once decoded even when the profile fails.
    pub height: Option<usize>,
    pub width: Option<usize>,
    pub profile: Option<Profile>,
    pub error: Option<RowError>,
    /// Samples per pixel as stored (1, 3 or 4), for the `mode` column.
    pub channels: Option<usize>,
    /// DICOM acquisition tags.
    pub dicom: Option<Box<DicomTags>>,
}

impl Row {
    pub fn failed(kind: &'static str, message: impl Into<String>) -> Self {
        Row { error: Some(RowError { kind, message: message.into() }), ..Row::default() }
    }
}

use crate::artefacts::ARTEFACT_NAMES;
use crate::profile::SCALAR_NAMES as SCALARS;

/// The `mode` column's name for a stored channel count.
fn mode_name(channels: usize) -> Option<&'static str> {
    match channels {
        1 => Some("gray"),
        3 => Some("rgb"),
        4 => Some("rgba"),
        _ => None,
    }
}

/// The scalar columns: the profile's, then the artefact features when
/// `artefacts` (they come last in [`SCALARS`], so without them the list is a prefix).
fn scalar_names(artefacts: bool) -> &'static [&'static str] {
    let n = if artefacts { SCALARS.len() } else { SCALARS.len() - ARTEFACT_NAMES.len() };
    &SCALARS[..n]
}

/// Name of band column `i` of `bands`: `band_00` .. as `spectral_fast.profile`
/// names them (two digits, three for every column when there are over 100).
pub fn band_name(i: usize, bands: usize) -> String {
    let digits = (bands.saturating_sub(1)).to_string().len().max(2);
    format!("band_{i:0digits$}")
}

/// The schema of `process_batch`'s output for `bands` bands, with or without
/// the artefact columns (`ProfileOptions::artefacts`).
pub fn schema(bands: usize, artefacts: bool) -> SchemaRef {
    let mut fields = vec![Field::new("id", DataType::Utf8, false)];
    fields.extend((0..bands).map(|i| Field::new(band_name(i, bands), DataType::Float64, true)));
    fields.extend(scalar_names(artefacts).iter().map(|n| Field::new(*n, DataType::Float64, true)));
    fields.extend([
        Field::new("height", DataType::Int64, true),
        Field::new("width", DataType::Int64, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
        Field::new("format", DataType::Utf8, true),
        Field::new("bit_depth", DataType::Int32, true),
        Field::new("pixel_spacing_mm", DataType::Float64, true),
        Field::new("bytes", DataType::Int64, true),
        Field::new("error_kind", DataType::Utf8, true),
        Field::new("mode", DataType::Utf8, true),
    ]);
    fields.extend(TEXT_TAGS.iter().map(|(n, _)| Field::new(*n, DataType::Utf8, true)));
    fields.extend(NUMBER_TAGS.iter().map(|(n, _, _)| Field::new(*n, DataType::Float64, true)));
    Arc::new(Schema::new(fields))
}

/// Build the output batch; `ids[i]` and `rows[i]` describe input row `i`.
/// Without `artefacts` the artefact columns are left out (the rows' artefact
/// values, NaN when not computed, are not read).
pub fn to_batch<'a>(
    ids: impl Iterator<Item = &'a str>,
    rows: &[Row],
    bands: usize,
    artefacts: bool,
) -> Result<RecordBatch, Error> {
    let n = rows.len();
    let mut id = StringBuilder::with_capacity(n, n * 32);
    ids.for_each(|s| id.append_value(s));
    let mut band_cols: Vec<Float64Builder> = (0..bands).map(|_| Float64Builder::with_capacity(n)).collect();
    let mut scalar_cols: Vec<Float64Builder> =
        scalar_names(artefacts).iter().map(|_| Float64Builder::with_capacity(n)).collect();
    let mut height = Int64Builder::with_capacity(n);
    let mut width = Int64Builder::with_capacity(n);
    let mut status = StringBuilder::with_capacity(n, n * 5);
    let mut error = StringBuilder::new();
    let mut format = StringBuilder::with_capacity(n, n * 5);
    let mut bit_depth = Int32Builder::with_capacity(n);
    let mut spacing = Float64Builder::with_capacity(n);
    let mut nbytes = Int64Builder::with_capacity(n);
    let mut kind = StringBuilder::new();
    let mut mode = StringBuilder::with_capacity(n, n * 4);
    let mut tag_text: Vec<StringBuilder> = TEXT_TAGS.iter().map(|_| StringBuilder::new()).collect();
    let mut tag_numbers: Vec<Float64Builder> = NUMBER_TAGS.iter().map(|_| Float64Builder::with_capacity(n)).collect();

    for row in rows {
        match &row.profile {
            Some(p) if row.error.is_none() => {
                // A profile of another band count would be a bug upstream; the
                // missing bands would be nulls, never a shifted column.
                for (b, col) in band_cols.iter_mut().enumerate() {
                    col.append_option(p.bands.get(b).copied());
                }
                for (v, col) in p.scalars().iter().zip(&mut scalar_cols) {
                    col.append_value(*v);
                }
            }
            _ => {
                band_cols.iter_mut().for_each(|c| c.append_null());
                scalar_cols.iter_mut().for_each(|c| c.append_null());
            }
        }
        height.append_option(row.height.map(|h| h as i64));
        width.append_option(row.width.map(|w| w as i64));
        match &row.error {
            None => {
                status.append_value("ok");
                error.append_null();
                kind.append_null();
            }
            Some(e) => {
                status.append_value("error");
                error.append_value(&e.message);
                kind.append_value(e.kind);
            }
        }
        format.append_option(row.format.map(Format::as_str));
        bit_depth.append_option(row.bit_depth.map(i32::from));
        spacing.append_option(row.pixel_spacing_mm);
        nbytes.append_option(row.bytes.map(|b| b as i64));
        mode.append_option(row.channels.and_then(mode_name));
        match row.dicom.as_deref() {
            Some(tags) => {
                tags.text.iter().zip(&mut tag_text).for_each(|(v, col)| col.append_option(v.as_deref()));
                tags.numbers.iter().zip(&mut tag_numbers).for_each(|(v, col)| col.append_option(*v));
            }
            None => {
                tag_text.iter_mut().for_each(|c| c.append_null());
                tag_numbers.iter_mut().for_each(|c| c.append_null());
            }
        }
    }

    let mut columns: Vec<ArrayRef> = vec![Arc::new(id.finish())];
    columns.extend(band_cols.iter_mut().map(|c| Arc::new(c.finish()) as ArrayRef));
    columns.extend(scalar_cols.iter_mut().map(|c| Arc::new(c.finish()) as ArrayRef));
    columns.extend([
        Arc::new(height.finish()) as ArrayRef,
        Arc::new(width.finish()),
        Arc::new(status.finish()),
        Arc::new(error.finish()),
        Arc::new(format.finish()),
        Arc::new(bit_depth.finish()),
        Arc::new(spacing.finish()),
        Arc::new(nbytes.finish()),
        Arc::new(kind.finish()),
        Arc::new(mode.finish()),
    ]);
    columns.extend(tag_text.iter_mut().map(|c| Arc::new(c.finish()) as ArrayRef));
    columns.extend(tag_numbers.iter_mut().map(|c| Arc::new(c.finish()) as ArrayRef));
    // Built to the schema above row for row, so this cannot fail unless `ids`
    // and `rows` differ in length: a caller bug, reported rather than panicking.
    RecordBatch::try_new(schema(bands, artefacts), columns)
        .map_err(|e| Error::invalid("batch", format!("cannot assemble the output batch: {e}")))
}
