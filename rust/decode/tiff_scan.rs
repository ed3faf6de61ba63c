//! A check of the first TIFF directory before the `tiff` crate reads it.
//!
//! `Decoder::new` parses the first IFD with the crate's default limits (they
//! can only be set afterwards) and reserves room for an entry's declared
//! value count, about 32 bytes per value, before reading the values: an
//! entry of 8 M SHORTs in a 665-byte file cost 256 MiB. Here each entry whose
//! values live outside the entry must fit in the file, so whatever the crate
//! reserves is bounded by the file size.

use super::{DecodeError, Format};

fn corrupt(message: impl std::fmt::Display) -> DecodeError {
    DecodeError::corrupt(Format::Tiff, message)
}

/// Bytes per value of a TIFF field type; `None` for unknown types.
fn type_size(field_type: u16) -> Option<u64> {
    Some(match field_type {
        1 | 2 | 6 | 7 => 1,         // BYTE, ASCII, SBYTE, UNDEFINED
        3 | 8 => 2,                 // SHORT, SSHORT
        4 | 9 | 11 | 13 => 4,       // LONG, SLONG, FLOAT, IFD
        5 | 10 | 12 | 16..=18 => 8, // RATIONAL, SRATIONAL, DOUBLE, LONG8, SLONG8, IFD8
        _ => return None,
    })
}

/// Refuse a first directory with an entry whose values run past the end of
/// the file. Files too short or of another kind are left to the crate.
pub(super) fn check_first_ifd(bytes: &[u8]) -> Result<(), DecodeError> {
    let le = match bytes.get(..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        _ => return Ok(()),
    };
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| if le { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) })
    };
    let uint_at = |at: usize, width: usize| {
        bytes.get(at..at + width).map(|b| {
            let mut v = 0u64;
            for k in 0..width {
                let byte = if le { b[width - 1 - k] } else { b[k] };
                v = (v << 8) | u64::from(byte);
            }
            v
        })
    };
    let big = match u16_at(2) {
        Some(42) => false,
        Some(43) => true,
        _ => return Ok(()),
    };
    // Classic: 4-byte IFD offset at 4, 2-byte entry count, 12-byte entries
    // with 4 bytes of inline value. BigTIFF: 8-byte offset at 8, 8-byte
    // count, 20-byte entries with 8 bytes inline.
    let (ifd, count_width, entry_size, word) = if big { (uint_at(8, 8), 8, 20, 8) } else { (uint_at(4, 4), 2, 12, 4) };
    let Some(ifd) = ifd.and_then(|x| usize::try_from(x).ok()) else { return Ok(()) };
    let Some(entries) = uint_at(ifd, count_width) else { return Ok(()) };
    let total = bytes.len() as u64;
    for k in 0..entries {
        let at = ifd as u64 + count_width as u64 + k * entry_size;
        if at + entry_size > total {
            break; // a truncated directory: the crate reports it
        }
        let at = at as usize;
        let (Some(tag), Some(field_type)) = (u16_at(at), u16_at(at + 2)) else { break };
        let (count, offset) = if big {
            (uint_at(at + 4, 8).unwrap_or(0), uint_at(at + 12, 8).unwrap_or(0))
        } else {
            (uint_at(at + 4, 4).unwrap_or(0), uint_at(at + 8, 4).unwrap_or(0))
        };
        let Some(size) = type_size(field_type) else { continue };
        let value_bytes = count.checked_mul(size);
        match value_bytes {
            Some(n) if n <= word => {} // inline in the entry
            Some(n) if offset.checked_add(n).is_some_and(|end| end <= total) => {}
            _ => {
                return Err(corrupt(format!(
                    "directory entry for tag {tag} declares {count} values of {size} bytes at byte {offset}, \
                     past the end of the {total}-byte file"
                )));
            }
        }
    }
    Ok(())
}
