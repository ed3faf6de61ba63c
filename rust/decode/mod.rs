//! Encoded bytes (PNG, JPEG, DICOM, TIFF) to pixels the profile core can view.
//!
//! The format is sniffed from magic bytes, never from a file name: archives
//! hold misnamed files. Every decoder reads the header first and refuses an
//! image over `max_pixels` before allocating its buffer (decompression-bomb
//! guard). A decoder panic is caught here and becomes a [`DecodeError`], so one
//! hostile file can never take a run down.

mod dicom;
mod dicom_scan;
pub mod dicom_tags;
mod error;
mod jpeg;
mod jpeg_scan;
mod png;
mod png_direct;
mod tiff;
mod tiff_scan;
mod unfilter;

use std::panic::{catch_unwind, AssertUnwindSafe};

pub use error::DecodeError;

use crate::image::{ImageView, Pixels};

/// Default decompression-bomb guard: 100 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Container format of an encoded image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Png,
    Jpeg,
    Dicom,
    Tiff,
}

impl Format {
    /// Lower-case name, as written to the `format` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Dicom => "dicom",
            Format::Tiff => "tiff",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Dicom => "DICOM",
            Format::Tiff => "TIFF",
        })
    }
}

/// Options of the decoders.
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    /// Largest accepted width x height; checked from the header before allocation.
    pub max_pixels: u64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { max_pixels: DEFAULT_MAX_PIXELS }
    }
}

/// Owned pixel samples, row-major, `channels` interleaved samples per pixel.
#[derive(Clone, Debug, PartialEq)]
pub enum PixelBuffer {
    U8(Vec<u8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl PixelBuffer {
    pub fn len(&self) -> usize {
        self.as_pixels().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A borrowed view, the input type of the profile core (no copy).
    pub fn as_pixels(&self) -> Pixels<'_> {
        match self {
            PixelBuffer::U8(v) => Pixels::U8(v),
            PixelBuffer::U16(v) => Pixels::U16(v),
            PixelBuffer::I16(v) => Pixels::I16(v),
            PixelBuffer::F32(v) => Pixels::F32(v),
            PixelBuffer::F64(v) => Pixels::F64(v),
        }
    }
}

/// A decoded image and what its container said about it.
#[derive(Clone, Debug)]
pub struct DecodedImage {
    pub pixels: PixelBuffer,
    pub height: usize,
    pub width: usize,
    /// 1 (gray), 3 (RGB) or 4 (RGBA); RGB(A) is turned into luma by the core.
    pub channels: usize,
    pub format: Format,
    /// Significant bits per sample as stored (PNG bit depth, DICOM BitsStored).
    pub bit_depth: u8,
    /// Physical pixel size in mm where the container records it (DICOM).
    pub pixel_spacing_mm: Option<f64>,
    /// The acquisition tags of a DICOM file ([`dicom_tags`]); `None` for other formats.
    pub dicom: Option<Box<dicom_tags::DicomTags>>,
}

impl DecodedImage {
    /// The view the profile core consumes; borrows the buffer.
    pub fn view(&self) -> ImageView<'_> {
        ImageView { pixels: self.pixels.as_pixels(), height: self.height, width: self.width, channels: self.channels }
    }
}

/// Recognise the container from its magic bytes.
///
/// `Ok(None)` means "not an image we know"; `Err` names a known image format
/// that is deliberately unsupported, so the error row can say what it was.
pub fn sniff(bytes: &[u8]) -> Result<Option<Format>, DecodeError> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(PNG) {
        return Ok(Some(Format::Png));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Some(Format::Jpeg));
    }
    // Part 10 files have a 128-byte preamble before "DICM"; some writers omit it.
    if bytes.get(128..132) == Some(b"DICM") || bytes.starts_with(b"DICM") {
        return Ok(Some(Format::Dicom));
    }
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return Ok(Some(Format::Tiff));
    }
    if bytes.starts_with(b"II+\0") || bytes.starts_with(b"MM\0+") {
        return Ok(Some(Format::Tiff)); // BigTIFF, also read by the tiff crate
    }
    let known = [
        (&b"GIF87a"[..], "GIF"),
        (b"GIF89a", "GIF"),
        (b"\0\0\0\x0cjP  \r\n\x87\n", "JPEG 2000"),
        (b"\xff\x4f\xff\x51", "JPEG 2000 codestream"),
        (b"BM", "BMP"),
        (b"\xff\x0a", "JPEG XL"),
        (b"\0\0\0\x0cJXL \r\n\x87\n", "JPEG XL"),
        (b"%PDF", "PDF"),
    ];
    for (magic, what) in known {
        if bytes.starts_with(magic) {
            return Err(DecodeError::UnsupportedFormat { what });
        }
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Err(DecodeError::UnsupportedFormat { what: "WebP" });
    }
    Ok(None)
}

/// Decode one encoded file into owned pixels.
///
/// Never panics: a panic inside a decoder crate becomes [`DecodeError::Panic`].
pub fn decode(bytes: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let format = sniff(bytes)?.ok_or_else(|| DecodeError::UnknownFormat { first_bytes: hex_prefix(bytes, 8) })?;
    let result = catch_unwind(AssertUnwindSafe(|| match format {
        Format::Png => png::decode(bytes, options),
        Format::Jpeg => jpeg::decode(bytes, options),
        Format::Dicom => dicom::decode(bytes, options),
        Format::Tiff => tiff::decode(bytes, options),
    }));
    match result {
        Ok(decoded) => decoded,
        Err(payload) => Err(DecodeError::Panic { format, message: panic_message(&*payload) }),
    }
}

/// Refuse dimensions that are zero or over the pixel limit, from header values.
pub(crate) fn check_size(format: Format, width: u64, height: u64, options: &DecodeOptions) -> Result<(), DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::corrupt(format, format!("header gives a {width}x{height} image")));
    }
    let pixels = width.saturating_mul(height);
    if pixels > options.max_pixels {
        return Err(DecodeError::TooLarge { format, width, height, pixels, limit: options.max_pixels });
    }
    Ok(())
}

fn hex_prefix(bytes: &[u8], n: usize) -> String {
    let hex: Vec<String> = bytes.iter().take(n).map(|b| format!("{b:02x}")).collect();
    hex.join(" ")
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;
