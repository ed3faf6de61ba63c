//! Why one file could not be decoded. Every variant becomes an error row, never
//! a failed run; `kind()` is a stable short name for filtering those rows.

use super::Format;

/// A problem of one encoded file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("file is empty (0 bytes)")]
    Empty,

    /// The magic bytes match none of the supported formats.
    #[error("not a PNG, JPEG, DICOM or TIFF file (first bytes: {first_bytes})")]
    UnknownFormat { first_bytes: String },

    /// A known image format that this package does not decode (GIF, WebP, ...).
    #[error("{what} files are not supported (PNG, JPEG, DICOM and TIFF are)")]
    UnsupportedFormat { what: &'static str },

    /// The header announces more pixels than the decompression-bomb guard allows;
    /// raised before any pixel buffer is allocated.
    #[error(
        "{format} image of {width}x{height} = {pixels} pixels exceeds the limit of {limit} pixels \
         (raise max_pixels to profile it)"
    )]
    TooLarge { format: Format, width: u64, height: u64, pixels: u64, limit: u64 },

    /// Truncated, corrupt or internally inconsistent data.
    #[error("corrupt {format}: {message}")]
    Corrupt { format: Format, message: String },

    /// A valid file using a feature the decoders do not handle (e.g. 12-bit JPEG).
    #[error("unsupported {format}: {message}")]
    Unsupported { format: Format, message: String },

    /// A DICOM transfer syntax without a decoder in the Rust core.
    #[error(
        "DICOM transfer syntax {name} ({uid}) cannot be decoded by the Rust core; \
         install the extra `spectral-fast[dicom]` ({plugin}) to decode it with pydicom"
    )]
    UnsupportedTransferSyntax { uid: String, name: String, plugin: &'static str },

    #[error("DICOM file has no pixel data (e.g. a structured report or presentation state)")]
    NoPixelData,

    /// A decoder crate panicked on this input; caught so the run goes on.
    #[error("{format} decoder crashed on this file: {message}")]
    Panic { format: Format, message: String },
}

impl DecodeError {
    /// Stable short name of the error class, written to the `error_kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::UnknownFormat { .. } => "not_an_image",
            DecodeError::UnsupportedFormat { .. } => "unsupported_format",
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::Corrupt { .. } => "corrupt",
            DecodeError::Unsupported { .. } => "unsupported",
            DecodeError::UnsupportedTransferSyntax { .. } => "unsupported_transfer_syntax",
            DecodeError::NoPixelData => "no_pixel_data",
            DecodeError::Panic { .. } => "decoder_panic",
        }
    }

    /// The format detected before the error, if any.
    pub fn format(&self) -> Option<Format> {
        match self {
            DecodeError::TooLarge { format, .. }
            | DecodeError::Corrupt { format, .. }
            | DecodeError::Unsupported { format, .. }
            | DecodeError::Panic { format, .. } => Some(*format),
            DecodeError::UnsupportedTransferSyntax { .. } | DecodeError::NoPixelData => Some(Format::Dicom),
            _ => None,
        }
    }

    pub(crate) fn corrupt(format: Format, message: impl std::fmt::Display) -> Self {
        DecodeError::Corrupt { format, message: message.to_string() }
    }

    pub(crate) fn unsupported(format: Format, message: impl std::fmt::Display) -> Self {
        DecodeError::Unsupported { format, message: message.to_string() }
    }
}
