//! `process_batch`: an Arrow batch of encoded images in, a batch of profiles out.
//!
//! A pure function of its input (the unit a scale-out engine calls): every
//! row is decoded and profiled on one worker of the package pool with that
//! thread's workspace, and comes back in input order. A file that cannot be
//! read, decoded or profiled is an error row; only a malformed batch (no `id`,
//! no `bytes`/`path` column) is an error of the call.

mod input;
mod output;
mod read;

use std::panic::{catch_unwind, AssertUnwindSafe};

use arrow_array::RecordBatch;
use rayon::ThreadPool;

use crate::batch::{par_map_with_workspace, with_workspace};
use crate::decode::{decode, DecodeOptions};
use crate::error::Error;
use crate::options::ProfileOptions;
use crate::profile::{profile_with, Workspace};

pub use output::{band_name, schema, Row, RowError};

/// Options of an archive run: the profile's and the decoders'.
#[derive(Clone, Copy, Debug, Default)]
pub struct ArchiveOptions {
    pub profile: ProfileOptions,
    pub decode: DecodeOptions,
}

/// Profile every row of `batch` on `pool` (`None`: serially on the calling thread).
///
/// Input columns: `id` (strings), then `bytes` (encoded files) or `path`
/// (files to read); an optional `read_error` string column marks rows the
/// producer already knows are unreadable. Output: see [`schema`], with the
/// artefact columns when `opts.profile.artefacts`.
pub fn process_batch(
    batch: &RecordBatch,
    opts: &ArchiveOptions,
    pool: Option<&ThreadPool>,
) -> Result<RecordBatch, Error> {
    let input = input::columns(batch)?;
    let indices: Vec<usize> = (0..batch.num_rows()).collect();
    let work = |&i: &usize, ws: &mut Workspace| guarded_row(&input, i, opts, ws);
    let rows = match pool {
        Some(pool) => par_map_with_workspace(&indices, pool, work),
        None => with_workspace(|ws| indices.iter().map(|i| work(i, ws)).collect::<Vec<_>>()),
    };
    // `columns` refused null ids, so every row has one.
    let ids = indices.iter().map(|&i| input.ids.get(i).unwrap_or_default());
    output::to_batch(ids, &rows, opts.profile.bands, opts.profile.artefacts)
}

/// Read and decode every row without profiling, dropping the pixels: the
/// decode floor that benchmarks compare the whole pipeline with.
/// Returns (decoded, failed) counts.
pub fn decode_only(
    batch: &RecordBatch,
    opts: &DecodeOptions,
    pool: Option<&ThreadPool>,
) -> Result<(usize, usize), Error> {
    let input = input::columns(batch)?;
    let indices: Vec<usize> = (0..batch.num_rows()).collect();
    let one = |&i: &usize, _: &mut Workspace| -> bool {
        let decoded = |bytes: &[u8]| decode(bytes, opts).is_ok();
        catch_unwind(AssertUnwindSafe(|| match &input.source {
            input::Source::Bytes(col) => col.get(i).is_some_and(decoded),
            input::Source::Path(col) => col
                .get(i)
                .and_then(|p| read::read_file(p, read::max_file_bytes(opts.max_pixels)).ok())
                .is_some_and(|b| decoded(&b)),
        }))
        .unwrap_or(false)
    };
    let ok: Vec<bool> = match pool {
        Some(pool) => par_map_with_workspace(&indices, pool, one),
        None => with_workspace(|ws| indices.iter().map(|i| one(i, ws)).collect()),
    };
    let decoded = ok.iter().filter(|&&b| b).count();
    Ok((decoded, ok.len() - decoded))
}

/// One row, with any panic below turned into an error row: a decoder or
/// profile bug must cost one row, never the batch or the Python process.
fn guarded_row(input: &input::Input<'_>, i: usize, opts: &ArchiveOptions, ws: &mut Workspace) -> Row {
    match catch_unwind(AssertUnwindSafe(|| row(input, i, opts, ws))) {
        Ok(row) => row,
        Err(payload) => {
            // The workspace may be half-updated; start the next image afresh.
            *ws = Workspace::default();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Row::failed("internal_error", format!("internal error while profiling this file: {message}"))
        }
    }
}

fn row(input: &input::Input<'_>, i: usize, opts: &ArchiveOptions, ws: &mut Workspace) -> Row {
    if let Some(message) = input.read_error.as_ref().and_then(|c| c.get(i)) {
        return Row::failed("unreadable", message);
    }
    match &input.source {
        input::Source::Bytes(col) => match col.get(i) {
            Some(bytes) => image_row(bytes, opts, ws),
            None => Row::failed("missing", "no encoded bytes for this row (null)"),
        },
        input::Source::Path(col) => match col.get(i) {
            Some(path) => match read::read_file(path, read::max_file_bytes(opts.decode.max_pixels)) {
                Ok(bytes) => image_row(&bytes, opts, ws),
                Err(error) => Row { error: Some(error), ..Row::default() },
            },
            None => Row::failed("missing", "no path for this row (null)"),
        },
    }
}

/// Decode, then profile on this thread; the decoded buffer is dropped before
/// the next image, so memory per worker is one image at a time.
fn image_row(bytes: &[u8], opts: &ArchiveOptions, ws: &mut Workspace) -> Row {
    let mut row = Row { bytes: Some(bytes.len() as u64), ..Row::default() };
    match decode(bytes, &opts.decode) {
        Err(e) => {
            row.format = e.format();
            row.error = Some(RowError { kind: e.kind(), message: e.to_string() });
        }
        Ok(image) => {
            row.format = Some(image.format);
            row.bit_depth = Some(image.bit_depth);
            row.pixel_spacing_mm = image.pixel_spacing_mm;
            row.channels = Some(image.channels);
            row.dicom = image.dicom.clone();
            row.height = Some(image.height);
            row.width = Some(image.width);
            match profile_with(&image.view(), &opts.profile, ws) {
                Ok(p) => row.profile = Some(p),
                Err(e) => row.error = Some(RowError { kind: "profile", message: e.to_string() }),
            }
        }
    }
    row
}

#[cfg(test)]
mod tests;
