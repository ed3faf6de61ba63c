//! Errors of the core: problems of one image versus problems of the call.
//!
//! A batch never stops for one bad image: [`ImageError`] becomes an error row
//! while the other images go on. [`Error`] is for the call itself (an invalid
//! option), raised before any image is touched. Neither is ever a panic: user
//! input reaches no `unwrap` (see the tests in `options.rs` and `profile.rs`).

use thiserror::Error as ThisError;

/// A problem of one image: it gets an error row, the rest of the batch goes on.
///
/// The messages match those of `spectral_fast.reference` word for word, so a
/// row's `error` text is the same whichever implementation produced it.
#[derive(Clone, Debug, PartialEq, Eq, ThisError)]
pub enum ImageError {
    #[error("image is {height}x{width}; both sides must be at least {min} px", min = crate::MIN_SIDE)]
    TooSmall { height: usize, width: usize },
    #[error(
        "image is {height}x{width}; at most {max} pixels are supported",
        max = crate::MAX_PIXELS
    )]
    TooLarge { height: usize, width: usize },
    #[error("image contains NaN or infinite values")]
    NonFinite,
    #[error("image has no variation (all pixels equal)")]
    NoVariation,
    #[error("image has no spectral energy after mean removal and windowing")]
    NoEnergy,
    #[error("image has {channels} channels; expected 1 (gray), 3 (RGB) or 4 (RGBA)")]
    BadChannels { channels: usize },
    #[error("pixel buffer holds {got} samples, but {height}x{width}x{channels} needs {expected}")]
    BadBuffer { height: usize, width: usize, channels: usize, expected: usize, got: usize },
    #[error("image is missing (its pixels are null)")]
    MissingPixels,
    #[error("image has null pixel values")]
    NullPixelValues,
    #[error("not enough memory to profile a {height}x{width} image")]
    OutOfMemory { height: usize, width: usize },
}

/// A problem of the call: raised before any image is profiled.
#[derive(Clone, Debug, PartialEq, Eq, ThisError)]
pub enum Error {
    /// An argument has a valid type but an invalid value; `param` names it.
    #[error("{message}")]
    InvalidArgument { param: &'static str, message: String },
}

impl Error {
    pub(crate) fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidArgument { param, message: message.into() }
    }

    /// Name of the parameter at fault.
    pub fn param(&self) -> &'static str {
        match self {
            Error::InvalidArgument { param, .. } => param,
        }
    }
}
