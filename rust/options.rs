//! Options of a profile and of a run, validated once per call.
//!
//! Ranges and messages mirror `spectral_fast.reference._check_options`, so an
//! invalid option reads the same from Python whichever path checked it.

use std::str::FromStr;

use crate::error::Error;

/// Smallest image side, in pixels, for which a profile is defined.
pub const MIN_SIDE: usize = 8;
/// Largest `size` accepted for resizing (as in the reference).
pub const MAX_SIZE: usize = 16384;
/// Largest band count: slots 0 (low) .. 254 and 255 (dropped corners) fill a `u8`.
pub const MAX_BANDS: usize = 254;
/// Largest image, in pixels, that the core profiles (16384^2). A thread's peak
/// is about 23-25 bytes per pixel of its image (file, decoded pixels, working
/// arrays; evaluation/results/memory.md), so this caps it near 6.5 GiB; larger
/// images get an error row rather than an allocation that could abort. Runs
/// size threads and the image limit to a memory budget in Python
/// (`spectral_fast.ingest.budget`).
pub const MAX_PIXELS: usize = 1 << 28;
/// Largest thread count accepted (a guard against typos such as `threads=10**6`).
pub const MAX_THREADS: usize = 1024;
/// Environment variable that sets the default thread count.
pub const THREADS_ENV: &str = "SPECTRAL_FAST_THREADS";

/// How band edges are spaced between `1 / min(H, W)` and 0.5 cycles per pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Spacing {
    Log,
    Linear,
}

impl FromStr for Spacing {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "log" => Ok(Spacing::Log),
            "linear" => Ok(Spacing::Linear),
            _ => Err(Error::invalid("spacing", format!("spacing must be 'log' or 'linear', got '{s}'"))),
        }
    }
}

/// The window applied after mean removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Window {
    /// Outer product of two periodic Hann windows.
    Hann,
    None,
}

impl FromStr for Window {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "hann" => Ok(Window::Hann),
            "none" => Ok(Window::None),
            _ => Err(Error::invalid("window", format!("window must be 'hann' or 'none', got '{s}'"))),
        }
    }
}

/// Options of one spectral profile; see `spectral_fast.reference` for the maths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProfileOptions {
    /// Resize to `size` x `size` after a centre crop; `None` keeps the native grid.
    pub size: Option<usize>,
    /// Number of radial bands, 1..=254.
    pub bands: usize,
    pub spacing: Spacing,
    pub window: Window,
    /// Also compute the artefact features (`spectral_fast.artefacts`). They
    /// cost about as much as the profile itself, so callers that only want
    /// the bands can skip them.
    pub artefacts: bool,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions { size: None, bands: 32, spacing: Spacing::Log, window: Window::Hann, artefacts: true }
    }
}

impl ProfileOptions {
    /// Validated options. Integers arrive as `i64` so that negative values from
    /// Python are reported with their value rather than wrapped around.
    pub fn new(size: Option<i64>, bands: i64, spacing: &str, window: &str) -> Result<Self, Error> {
        let bands = check_bands(bands)?;
        let size = match size {
            None => None,
            Some(s) if (MIN_SIDE as i64..=MAX_SIZE as i64).contains(&s) => Some(s as usize),
            Some(s) => return Err(out_of_range("size", &s.to_string())),
        };
        Ok(ProfileOptions { size, bands, spacing: spacing.parse()?, window: window.parse()?, artefacts: true })
    }
}

/// Check a band count (`bands` must be in 1..=254).
pub fn check_bands(bands: i64) -> Result<usize, Error> {
    if (1..=MAX_BANDS as i64).contains(&bands) {
        Ok(bands as usize)
    } else {
        Err(out_of_range("bands", &bands.to_string()))
    }
}

/// The error for an integer option outside its range; `got` is the value as
/// the caller wrote it (the binding passes Python's repr of ints too large
/// for an i64, so the message shows what the user typed).
pub fn out_of_range(param: &'static str, got: &str) -> Error {
    let range = match param {
        "size" => format!("None or an integer in [{MIN_SIDE}, {MAX_SIZE}]"),
        "bands" => format!("an integer in [1, {MAX_BANDS}]"),
        "threads" => format!("None or an integer in [1, {MAX_THREADS}]"),
        THREADS_ENV => format!("an integer in [1, {MAX_THREADS}]"),
        _ => "a valid integer".to_string(),
    };
    Error::invalid(param, format!("{param} must be {range}, got {got}"))
}

/// The thread count of a run: the argument if given, else `SPECTRAL_FAST_THREADS`,
/// else the number of available cores. 1 means serial on the calling thread.
pub fn resolve_threads(threads: Option<i64>) -> Result<usize, Error> {
    let check = |n: i64, param: &'static str| {
        if (1..=MAX_THREADS as i64).contains(&n) {
            Ok(n as usize)
        } else {
            Err(out_of_range(param, &n.to_string()))
        }
    };
    if let Some(n) = threads {
        return check(n, "threads");
    }
    match std::env::var(THREADS_ENV) {
        Ok(text) if !text.trim().is_empty() => match text.trim().parse::<i64>() {
            Ok(n) => check(n, THREADS_ENV),
            Err(_) => Err(out_of_range(THREADS_ENV, &format!("'{text}'"))),
        },
        _ => Ok(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(MAX_THREADS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_out_of_range_options_with_the_parameter_name() {
        for (size, bands, spacing, window, param) in [
            (Some(7), 32, "log", "hann", "size"),
            (Some(1_000_000_000), 32, "log", "hann", "size"),
            (Some(-5), 32, "log", "hann", "size"),
            (None, 0, "log", "hann", "bands"),
            (None, 255, "log", "hann", "bands"),
            (None, 32, "Log", "hann", "spacing"),
            (None, 32, "log", "hamming", "window"),
        ] {
            let err = ProfileOptions::new(size, bands, spacing, window).unwrap_err();
            assert_eq!(err.param(), param);
            assert!(err.to_string().contains(param), "{err}");
        }
    }

    #[test]
    fn accepts_the_documented_ranges() {
        let o = ProfileOptions::new(Some(8), 254, "linear", "none").unwrap();
        assert_eq!(
            o,
            ProfileOptions {
                size: Some(8),
                bands: 254,
                spacing: Spacing::Linear,
                window: Window::None,
                artefacts: true
            }
        );
        assert_eq!(ProfileOptions::new(None, 32, "log", "hann").unwrap(), ProfileOptions::default());
    }

    #[test]
    fn thread_counts_are_checked() {
        assert_eq!(resolve_threads(Some(3)).unwrap(), 3);
        assert_eq!(resolve_threads(Some(0)).unwrap_err().param(), "threads");
        assert_eq!(resolve_threads(Some(-1)).unwrap_err().param(), "threads");
        assert_eq!(resolve_threads(Some(1 << 40)).unwrap_err().param(), "threads");
    }
}
