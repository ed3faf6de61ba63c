//! Acquisition-artefact features that radial band averaging dilutes: JPEG
//! block boundaries, narrow spectral peaks, energy on the frequency axes and
//! comb-like intensity histograms.
//!
//! The maths is that of `python/spectral_fast/artefacts.py` (the numpy
//! oracle), computed from the native gray image. The spectral features need
//! `|rfft2|^2` of the Hann-windowed, mean-removed native image: with the
//! default profile options (native grid, Hann window) that is exactly the
//! profile's spectrum, and its ring powers are gathered in the same pass as
//! the band energies, chunk by chunk while the column FFT's output is in
//! cache; otherwise [`crate::profile`] runs one more native FFT for them.

mod blocks;
mod histogram;
mod spectral;

pub use spectral::{ring_table, RingTable};

use crate::image::ImageView;

/// Names of the artefact columns, in column order (after the profile scalars):
/// `spectral_fast.artefacts.ALL_NAMES`, the clustering features first.
pub const ARTEFACT_NAMES: [&str; 6] = ["jpeg_block", "peak_max", "axis_mid", "axis_high", "hist_comb", "peak_freq"];

/// The artefact features of one image; see `spectral_fast.artefacts` for the maths.
///
/// Equality is bitwise, so NaN equals NaN: results are meant to be
/// bit-identical for any thread count, and NaN is a legitimate value here.
#[derive(Clone, Copy, Debug)]
pub struct Artefacts {
    /// 8-pixel block-boundary ratio minus one (NaN when a side is 8 px: no whole period).
    pub jpeg_block: f64,
    /// Largest `log10(P / ring median)` for `0.02 <= r <= 0.5` (12 when the median is 0).
    pub peak_max: f64,
    /// Radial frequency of that peak, cycles per pixel.
    pub peak_freq: f64,
    /// `log10` of mean power on / off the frequency axes, `1/8 <= r < 1/4`.
    pub axis_mid: f64,
    /// The same for `1/4 <= r <= 1/2`.
    pub axis_high: f64,
    /// Poisson-normalised second difference of the integer histogram (NaN if not integer-valued).
    pub hist_comb: f64,
}

impl Default for Artefacts {
    /// All NaN: nothing computed yet.
    fn default() -> Self {
        let nan = f64::NAN;
        Artefacts { jpeg_block: nan, peak_max: nan, peak_freq: nan, axis_mid: nan, axis_high: nan, hist_comb: nan }
    }
}

impl PartialEq for Artefacts {
    fn eq(&self, other: &Self) -> bool {
        self.values().iter().zip(other.values()).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Artefacts {
    /// Values in the order of [`ARTEFACT_NAMES`].
    pub fn values(&self) -> [f64; 6] {
        [self.jpeg_block, self.peak_max, self.axis_mid, self.axis_high, self.hist_comb, self.peak_freq]
    }
}

/// Per-thread working memory of the artefact features, reused between images.
#[derive(Default)]
pub struct ArtefactScratch {
    blocks: blocks::Scratch,
    histogram: histogram::Scratch,
    powers: Vec<u64>,
    /// Rings in the order `spectral::features` visits them.
    candidates: Vec<(f64, u32, u64)>,
}

/// The features computed from pixels: `(jpeg_block, hist_comb)`.
///
/// The view must have passed [`ImageView::check`]; `min` and `max` are the
/// gray image's extremes (known from the profile's first pass).
pub(crate) fn pixel_features(
    image: &ImageView,
    min: f64,
    max: f64,
    scratch: &mut ArtefactScratch,
) -> Result<(f64, f64), std::collections::TryReserveError> {
    let hist = &mut scratch.histogram;
    hist.start(min, max)?;
    // Integer gray pixels are counted as they are; anything else goes through
    // its gray rows (float or colour images: rarer, and slower).
    if !hist.count_samples(image)? {
        hist.add_rows(image)?;
    }
    let hist_comb = hist.finish();
    let jpeg_block = blocks::jpeg_block(image, &mut scratch.blocks)?;
    Ok((jpeg_block, hist_comb))
}

/// Make the scratch ready for [`scatter_rings`] on `rings`.
pub(crate) fn prepare_rings(
    rings: &RingTable,
    scratch: &mut ArtefactScratch,
) -> Result<(), std::collections::TryReserveError> {
    spectral::prepare(rings, &mut scratch.powers)
}

/// Gather the ring powers of spectrum rows `kx0 ..` (see
/// [`crate::fft2::Grid::forward_with`]); every row must pass once before
/// [`spectral_features`].
pub(crate) fn scatter_rings(
    kx0: usize,
    columns: &[rustfft::num_complex::Complex<f64>],
    rings: &RingTable,
    scratch: &mut ArtefactScratch,
) {
    spectral::scatter(kx0, columns, rings, &mut scratch.powers);
}

/// The spectral features from a transposed half spectrum of the native grid
/// whose powers [`scatter_rings`] has gathered: `(peak_max, peak_freq, axis_mid, axis_high)`.
pub(crate) fn spectral_features(
    spectrum: &[rustfft::num_complex::Complex<f64>],
    rings: &RingTable,
    scratch: &mut ArtefactScratch,
) -> Result<(f64, f64, f64, f64), std::collections::TryReserveError> {
    spectral::features(spectrum, rings, &mut scratch.powers, &mut scratch.candidates)
}
