//! Reading one file inside a worker, so I/O overlaps with other images'
//! decoding and the Python side never holds file contents.

use std::io::Read;

use super::RowError;

/// Largest file read for a given pixel limit: an uncompressed image of that
/// many 4-channel 16-bit pixels, plus room for headers. Anything bigger cannot
/// be an image within the limit, so it is refused before it fills memory.
pub(super) fn max_file_bytes(max_pixels: u64) -> u64 {
    max_pixels.saturating_mul(8).saturating_add(64 << 20)
}

/// The whole file, or a row error saying why it could not be read
/// (missing, permission denied, symlink loop, a directory, a FIFO, too large).
pub(super) fn read_file(path: &str, max_bytes: u64) -> Result<Vec<u8>, RowError> {
    let unreadable = |e: std::io::Error| RowError { kind: "unreadable", message: format!("cannot read file: {e}") };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_dir() {
        return Err(RowError { kind: "unreadable", message: "cannot read file: it is a directory".into() });
    }
    if !meta.is_file() {
        // FIFOs and character devices can block a reader forever.
        return Err(RowError {
            kind: "unreadable",
            message: "not a regular file (FIFO, socket or device); not read".into(),
        });
    }
    if meta.len() > max_bytes {
        return Err(RowError {
            kind: "too_large",
            message: format!(
                "file is {} bytes, more than any image within the pixel limit can take ({max_bytes} bytes)",
                meta.len()
            ),
        });
    }
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut buf = Vec::with_capacity(meta.len() as usize);
    // `take` keeps a file that grows while we read within the bound as well.
    file.by_ref().take(max_bytes + 1).read_to_end(&mut buf).map_err(unreadable)?;
    if buf.len() as u64 > max_bytes {
        return Err(RowError { kind: "too_large", message: format!("file grew past {max_bytes} bytes while read") });
    }
    Ok(buf)
}
