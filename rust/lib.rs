//! spectral_fast core: radial spectral profiles of images, in pure Rust.
//!
//! The maths is that of `python/spectral_fast/reference.py` (the numpy
//! oracle); this crate reproduces it to 1e-6 relative in float64, with the same
//! band assignment bit for bit. The PyO3 binding lives in [`py`], behind the
//! `python` cargo feature, so `cargo test` needs no Python.
//!
//! # Stable API (used by the decoders and the Python binding)
//!
//! * [`ImageView`] / [`Pixels`]: a borrowed `height x width x channels` image
//!   (u8, u16, i16, f32 or f64; 1 = gray, 3 = RGB, 4 = RGBA) — the one input type.
//! * [`ProfileOptions`]: `size`, `bands`, `spacing`, `window`, validated by
//!   [`ProfileOptions::new`] (errors name the parameter).
//! * [`profile_one`]`(&view, &opts) -> Result<Profile, ImageError>`: one image.
//! * [`profile_with`]`(&view, &opts, &mut Workspace)`: the same, reusing a
//!   per-thread [`Workspace`] (no allocation once it has grown).
//! * [`profile_batch`]`(&views, &opts, &pool) -> Vec<Result<Profile, ImageError>>`:
//!   many images on a pool from [`thread_pool`]`(threads)` (see
//!   [`resolve_threads`] for the `threads` / `SPECTRAL_FAST_THREADS` default);
//!   [`profile_serial`] is the same on the calling thread.
//! * [`par_map_with_workspace`]`(&items, &pool, |item, ws| ...)`: the same
//!   driver for items that become images inside the worker, e.g. encoded
//!   files: decode into an owned buffer, build an [`ImageView`] of it and
//!   call [`profile_with`] with the `ws` given, all on one thread.
//!
//! ```
//! use _core::{profile_one, ImageView, Pixels, ProfileOptions};
//! let px: Vec<u8> = (0..64 * 48).map(|i| (i * 37 % 251) as u8).collect();
//! let view = ImageView::new(Pixels::U8(&px), 48, 64, 1);
//! let p = profile_one(&view, &ProfileOptions::default()).unwrap();
//! assert_eq!(p.bands.len(), 32);
//! ```
//!
//! Problems of one image are [`ImageError`]s (an error row, the batch goes
//! on); invalid options are [`Error`]s. No user input leads to a panic.

pub mod archive;
pub mod artefacts;
pub mod bands;
pub mod batch;
mod cache;
pub mod decode;
pub mod error;
pub mod fft2;
mod gray;
pub mod image;
pub mod options;
pub mod profile;
pub mod resize;
mod rfft;
pub mod stress;

#[cfg(feature = "python")]
mod py;
mod simd;

pub use artefacts::{Artefacts, ARTEFACT_NAMES};
pub use bands::band_edges;
pub use batch::{
    forget_pools_after_fork, par_map_with_workspace, profile_batch, profile_serial, thread_pool, with_workspace,
};
pub use error::{Error, ImageError};
pub use image::{ImageView, Pixels};
pub use options::{
    resolve_threads, ProfileOptions, Spacing, Window, MAX_BANDS, MAX_PIXELS, MAX_SIZE, MIN_SIDE, THREADS_ENV,
};
pub use profile::{profile_one, profile_with, Profile, Workspace, LOG_FLOOR, SCALAR_NAMES};
