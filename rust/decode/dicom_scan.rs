//! A cheap structural pre-scan of a DICOM byte stream, run before dicom-rs
//! parses it.
//!
//! dicom-rs reads nested sequences recursively (2,000 nested sequences of
//! undefined length overflow the stack: a SIGSEGV that `catch_unwind` cannot
//! catch) and allocates a value's declared length before reading it (an OB
//! element declaring 0xFFFFFFF0 bytes costs 4 GiB of RAM before the error).
//! This tokenizer walks the same element stream iteratively, with an explicit
//! stack, and refuses
//!
//! * sequence nesting deeper than [`MAX_SEQUENCE_DEPTH`] levels (real
//!   radiographs use fewer than 10), and
//! * any element, item or fragment whose declared length exceeds the bytes
//!   left in the file, and
//! * a binary numeric element (US, UL, FD, ...) whose length is not a whole
//!   number of values, which dicom-rs reads short, losing its place in the
//!   stream (it would then read value bytes as headers),
//!
//! and it reads the file meta group as dicom-rs does (up to the declared
//! group length, whatever the elements' group), so that it checks the same
//! elements dicom-rs reads and whatever dicom-rs allocates afterwards is
//! bounded by the file size.
//! It reads the file meta group (explicit VR little endian), then the data set
//! in explicit VR little endian, implicit VR little endian or explicit VR big
//! endian, as the transfer syntax says. It is deliberately lenient about
//! everything else (missing delimiters, trailing bytes): dicom-rs decides
//! whether the file is valid; this scan only decides whether it is safe.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

use super::{DecodeError, Format};

/// Deepest accepted nesting of sequences (SQ inside an item inside an SQ ...).
pub(super) const MAX_SEQUENCE_DEPTH: usize = 64;

const UNDEFINED: u32 = 0xFFFF_FFFF;
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

/// Data set encodings: everything but deflate (refused before the scan).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Syntax {
    ExplicitLe,
    ImplicitLe,
    ExplicitBe,
}

impl Syntax {
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let x = [b[at], b[at + 1]];
        if self == Syntax::ExplicitBe {
            u16::from_be_bytes(x)
        } else {
            u16::from_le_bytes(x)
        }
    }

    fn u32(self, b: &[u8], at: usize) -> u32 {
        let x = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self == Syntax::ExplicitBe {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The top-level data set or the data set of one item.
    DataSet,
    /// A sequence: holds items.
    Sequence,
    /// Encapsulated pixel data: holds fragments (items of raw bytes).
    Fragments,
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    kind: Kind,
    /// End offset of a defined-length container; `None` until its delimiter.
    end: Option<usize>,
    syntax: Syntax,
}

/// What the file meta group says, as far as the scan needs it.
#[derive(Debug, Default)]
pub(super) struct Meta {
    pub transfer_syntax: Option<String>,
}

fn corrupt(message: impl std::fmt::Display) -> DecodeError {
    DecodeError::corrupt(Format::Dicom, message)
}

fn tag_name(group: u16, element: u16) -> String {
    format!("({group:04X},{element:04X})")
}

/// Refuse a declared length that runs past the end of the file.
fn check_length(group: u16, element: u16, what: &str, len: u32, at: usize, total: usize) -> Result<usize, DecodeError> {
    let remaining = total - at;
    if len as usize > remaining {
        return Err(corrupt(format!(
            "{what} {} declares {len} bytes but only {remaining} remain in the file",
            tag_name(group, element)
        )));
    }
    Ok(len as usize)
}

/// VRs with a 2-byte reserved field and a 4-byte length in explicit VR.
fn has_long_length(vr: VR) -> bool {
    use VR::*;
    matches!(vr, OB | OD | OF | OL | OV | OW | SQ | SV | UC | UN | UR | UT | UV)
}

/// The VR that dicom-rs assumes for a tag in implicit VR: OW for pixel and
/// overlay data, else the dictionary's (ambiguous ones relaxed as dicom-rs
/// does: US/SS as US, OB/OW as OW), else UN.
fn implicit_vr(group: u16, element: u16) -> VR {
    if (group, element) == PIXEL_DATA || (group >> 8 == 0x60 && element == 0x3000) {
        return VR::OW;
    }
    StandardDataDictionary.by_tag(Tag(group, element)).map_or(VR::UN, |entry| entry.vr().relaxed())
}

/// Bytes per value of the binary VRs that dicom-rs reads as whole numbers.
///
/// dicom-rs reads `length / size` values of these and moves on as if it had
/// consumed `length` bytes, so a length that is not a multiple of the size
/// (1 for a US element, say) shifts its reading of every later element
/// against this scan's: it then takes value bytes for headers, and the
/// lengths checked here are not the ones it allocates for.
fn value_size(vr: VR) -> usize {
    use VR::*;
    match vr {
        US | SS | OW => 2,
        AT | UL | SL | FL | OL | OF => 4,
        FD | OD | SV | UV | OV => 8,
        _ => 1,
    }
}

/// Scan `body` (starting at "DICM", the preamble already dropped).
///
/// Returns what the meta group says; `Err` for a file that is unsafe to give
/// to dicom-rs. Data sets that dicom-rs cannot read at all (deflated) are not
/// scanned: the caller refuses their transfer syntax first.
pub(super) fn prescan(body: &[u8]) -> Result<Meta, DecodeError> {
    let (meta, data_start) = scan_meta(body)?;
    let syntax = match meta.transfer_syntax.as_deref() {
        Some("1.2.840.10008.1.2") => Syntax::ImplicitLe,
        Some("1.2.840.10008.1.2.2") => Syntax::ExplicitBe,
        // Deflated data sets are compressed bytes, not elements.
        Some("1.2.840.10008.1.2.1.99" | "1.2.840.10008.1.2.4.95") => return Ok(meta),
        _ => Syntax::ExplicitLe,
    };
    scan_data_set(body, data_start, syntax)?;
    Ok(meta)
}

/// The file meta group, read as dicom-rs reads it.
///
/// dicom-rs takes the first element as FileMetaInformationGroupLength and
/// then reads explicit VR little endian elements, *whatever their group*,
/// until that many bytes are consumed; the data set starts where it stops.
/// The scan walks exactly those elements (a second group length or an
/// off-group element inside the declared length changes nothing), so every
/// length dicom-rs allocates for is checked against the file size. Without a
/// leading group length dicom-rs refuses the file; the scan then walks the
/// group 0002 elements only, to learn the transfer syntax.
fn scan_meta(body: &[u8]) -> Result<(Meta, usize), DecodeError> {
    let mut meta = Meta::default();
    let mut pos = if body.starts_with(b"DICM") { 4 } else { 0 };
    let le = Syntax::ExplicitLe;
    let group_length = (pos + 12 <= body.len()
        && (le.u16(body, pos), le.u16(body, pos + 2)) == (0x0002, 0x0000)
        && VR::from_binary([body[pos + 4], body[pos + 5]]).is_some_and(|vr| !has_long_length(vr))
        && le.u16(body, pos + 6) == 4)
        .then(|| {
            let value = le.u32(body, pos + 8) as usize;
            pos += 12;
            value
        });
    let mut consumed = 0usize;
    while pos + 8 <= body.len() {
        let group = le.u16(body, pos);
        match group_length {
            Some(total) if consumed >= total => break,
            None if group != 0x0002 => break,
            _ => {}
        }
        let element = le.u16(body, pos + 2);
        let vr = VR::from_binary([body[pos + 4], body[pos + 5]]).unwrap_or(VR::UN);
        let (len, header) = if has_long_length(vr) {
            if pos + 12 > body.len() {
                break;
            }
            (le.u32(body, pos + 8), 12)
        } else {
            (u32::from(le.u16(body, pos + 6)), 8)
        };
        pos += header;
        if len == UNDEFINED {
            return Err(corrupt(format!("file meta element {} has undefined length", tag_name(group, element))));
        }
        let len = check_length(group, element, "file meta element", len, pos, body.len())?;
        if (group, element) == (0x0002, 0x0010) {
            let raw = &body[pos..pos + len];
            let text = String::from_utf8_lossy(raw);
            meta.transfer_syntax = Some(text.trim_end_matches(['\0', ' ']).trim().to_string());
        }
        pos += len;
        consumed = consumed.saturating_add(header + len);
    }
    Ok((meta, pos))
}

/// Walk the data set with an explicit stack: no recursion, O(bytes) work.
fn scan_data_set(body: &[u8], start: usize, syntax: Syntax) -> Result<(), DecodeError> {
    let total = body.len();
    let mut stack = vec![Frame { kind: Kind::DataSet, end: None, syntax }];
    let mut sequences = 0usize; // Sequence frames on the stack
    let mut pos = start;
    loop {
        let top = *stack.last().expect("the top-level frame is never popped");
        // Close defined-length containers that are used up.
        if let Some(end) = top.end {
            if pos >= end {
                pop(&mut stack, &mut sequences);
                continue;
            }
        }
        if pos + 8 > total {
            return Ok(()); // end of file (or a few trailing bytes): dicom-rs judges
        }
        let s = top.syntax;
        let group = s.u16(body, pos);
        let element = s.u16(body, pos + 2);

        if group == 0xFFFE {
            let len = s.u32(body, pos + 4);
            pos += 8;
            match (element, top.kind) {
                (0xE000, Kind::Sequence) => {
                    let end = if len == UNDEFINED {
                        None
                    } else {
                        Some(pos + check_length(group, element, "item", len, pos, total)?)
                    };
                    stack.push(Frame { kind: Kind::DataSet, end, syntax: s });
                }
                (0xE000, Kind::Fragments) => {
                    if len == UNDEFINED {
                        return Err(corrupt("pixel data fragment of undefined length"));
                    }
                    pos += check_length(group, element, "pixel data fragment", len, pos, total)?;
                }
                (0xE000, Kind::DataSet) => {
                    return Err(corrupt(format!("item tag at byte {} outside a sequence", pos - 8)));
                }
                // Item delimiter: closes the item being read.
                (0xE00D, Kind::DataSet) if stack.len() > 1 => {
                    pop(&mut stack, &mut sequences);
                }
                // Sequence delimiter: closes the innermost sequence or
                // fragments, and an item left open inside it.
                (0xE0DD, _) if stack.len() > 1 => {
                    while stack.len() > 1 {
                        let kind = pop(&mut stack, &mut sequences);
                        if kind != Kind::DataSet {
                            break;
                        }
                    }
                }
                (0xE00D | 0xE0DD, _) => {} // stray delimiter: dicom-rs judges
                // Any other (FFFE,xxxx): dicom-rs reads it as an element of
                // VR UN and skips its value, so the scan must skip it too.
                _ => {
                    if len == UNDEFINED {
                        return Err(corrupt(format!("{} of undefined length", tag_name(group, element))));
                    }
                    pos += check_length(group, element, "element", len, pos, total)?;
                }
            }
            continue;
        }

        // An ordinary element header.
        let (vr, len, header) = match s {
            Syntax::ImplicitLe => (implicit_vr(group, element), s.u32(body, pos + 4), 8),
            Syntax::ExplicitLe | Syntax::ExplicitBe => {
                let vr = VR::from_binary([body[pos + 4], body[pos + 5]]).unwrap_or(VR::UN);
                if has_long_length(vr) {
                    if pos + 12 > total {
                        return Ok(());
                    }
                    (vr, s.u32(body, pos + 8), 12)
                } else {
                    (vr, u32::from(s.u16(body, pos + 6)), 8)
                }
            }
        };
        pos += header;

        if len == UNDEFINED {
            // As dicom-rs: undefined-length pixel data holds fragments, any
            // other undefined-length element (whatever its VR) a sequence of
            // items read in the same syntax.
            let kind = if (group, element) == PIXEL_DATA { Kind::Fragments } else { Kind::Sequence };
            push(&mut stack, &mut sequences, Frame { kind, end: None, syntax: s })?;
            continue;
        }
        let len = check_length(group, element, "element", len, pos, total)?;
        let size = value_size(vr);
        if len % size != 0 {
            return Err(corrupt(format!(
                "element {} ({vr:?}) has {len} bytes, not a whole number of {size}-byte values",
                tag_name(group, element)
            )));
        }
        if vr == VR::SQ {
            push(&mut stack, &mut sequences, Frame { kind: Kind::Sequence, end: Some(pos + len), syntax: s })?;
        } else {
            pos += len;
        }
    }
}

fn push(stack: &mut Vec<Frame>, sequences: &mut usize, frame: Frame) -> Result<(), DecodeError> {
    if frame.kind == Kind::Sequence {
        if *sequences >= MAX_SEQUENCE_DEPTH {
            return Err(corrupt(format!("sequence nesting deeper than {MAX_SEQUENCE_DEPTH} levels")));
        }
        *sequences += 1;
    }
    stack.push(frame);
    Ok(())
}

fn pop(stack: &mut Vec<Frame>, sequences: &mut usize) -> Kind {
    let frame = stack.pop().expect("pop is only called above the top level");
    if frame.kind == Kind::Sequence {
        *sequences -= 1;
    }
    frame.kind
}
