//! The spectral profile of one image (`spectral_fast.reference.profile_image`).

use std::sync::Arc;

use crate::artefacts::{self, ring_table, ArtefactScratch, Artefacts, RingTable};
use crate::bands::{band_table, BandSums, BandTable};
use crate::error::ImageError;
use crate::fft2::{grid, FftScratch, Grid};
use crate::gray;
use crate::image::ImageView;
use crate::options::{ProfileOptions, Window, MAX_PIXELS, MIN_SIDE};
use crate::resize::{resize, ResizeScratch};

/// Floor added to fractions before `log10`, so empty bands stay finite.
pub const LOG_FLOOR: f64 = 1e-12;

/// The spectral profile of one image; see `spectral_fast.reference` for the maths.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// `log10(p_b + 1e-12)` for bands 0 .. B-1.
    pub bands: Vec<f64>,
    /// `log10(p_low + 1e-12)`.
    pub low: f64,
    /// Least-squares slope of log10 mean power per band against log10 band centre (NaN if < 2 bands qualify).
    pub slope: f64,
    /// Energy-weighted mean radial frequency, cycles per pixel.
    pub centroid: f64,
    /// Entropy of (p_low, p_0 .. p_{B-1}) in bits.
    pub entropy: f64,
    /// Energy with r > 0.25 over the total.
    pub hf_ratio: f64,
    /// Mean and population std of the native gray image.
    pub mean: f64,
    pub std: f64,
    /// Native height and width.
    pub height: usize,
    pub width: usize,
    /// Acquisition-artefact features of the native image (`spectral_fast.artefacts`).
    pub artefacts: Artefacts,
}

/// Names of the per-image scalar columns, in the order of [`Profile::scalars`]:
/// the profile's, then the artefact features.
pub const SCALAR_NAMES: [&str; 13] = [
    "low",
    "slope",
    "centroid",
    "entropy",
    "hf_ratio",
    "mean",
    "std",
    "jpeg_block",
    "peak_max",
    "axis_mid",
    "axis_high",
    "hist_comb",
    "peak_freq",
];

impl Profile {
    /// The scalar features in the order of [`SCALAR_NAMES`].
    pub fn scalars(&self) -> [f64; 13] {
        let a = self.artefacts.values();
        [
            self.low,
            self.slope,
            self.centroid,
            self.entropy,
            self.hf_ratio,
            self.mean,
            self.std,
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            a[5],
        ]
    }
}

/// Per-thread working memory, reused from image to image so the hot path does
/// not allocate. It grows to the largest image seen and is kept: about 8 bytes
/// per pixel of the transformed grid (one complex half spectrum; the blocked
/// transpose avoids a second), plus about 16 per output pixel when resizing.
#[derive(Default)]
pub struct Workspace {
    fft: FftScratch,
    resize: ResizeScratch,
    resized: Vec<f64>,
    sums: BandSums,
    row: Vec<f64>,
    artefacts: ArtefactScratch,
    last_rings: Option<Arc<RingTable>>,
    /// The tables of the last grid and options used, so that a run of images
    /// of one shape does not take the cache lock each time.
    last_grid: Option<Arc<Grid>>,
    last_table: Option<(ProfileOptions, Arc<BandTable>)>,
}

impl Workspace {
    fn tables(&mut self, h: usize, w: usize, opts: &ProfileOptions) -> (Arc<Grid>, Arc<BandTable>) {
        let g = match &self.last_grid {
            Some(g) if g.height == h && g.width == w => Arc::clone(g),
            _ => grid(h, w),
        };
        let t = match &self.last_table {
            Some((o, t)) if t.height == h && t.width == w && o.bands == opts.bands && o.spacing == opts.spacing => {
                Arc::clone(t)
            }
            _ => band_table(h, w, opts.bands, opts.spacing),
        };
        self.last_grid = Some(Arc::clone(&g));
        self.last_table = Some((*opts, Arc::clone(&t)));
        (g, t)
    }

    fn rings(&mut self, h: usize, w: usize) -> Arc<RingTable> {
        let t = match &self.last_rings {
            Some(t) if t.height == h && t.width == w => Arc::clone(t),
            _ => ring_table(h, w),
        };
        self.last_rings = Some(Arc::clone(&t));
        t
    }
}

/// Profile one image with a fresh workspace. Prefer [`profile_with`] in loops.
pub fn profile_one(image: &ImageView, opts: &ProfileOptions) -> Result<Profile, ImageError> {
    profile_with(image, opts, &mut Workspace::default())
}

/// Profile one image, reusing `ws` (one per thread).
///
/// Never panics on any view that passed or failed [`ImageView::check`]: every
/// problem of the image is an [`ImageError`].
pub fn profile_with(image: &ImageView, opts: &ProfileOptions, ws: &mut Workspace) -> Result<Profile, ImageError> {
    image.check()?;
    let (height, width) = (image.height, image.width);
    if height.min(width) < MIN_SIDE {
        return Err(ImageError::TooSmall { height, width });
    }
    let oom = |_| ImageError::OutOfMemory { height, width };
    if height * width > MAX_PIXELS {
        return Err(ImageError::TooLarge { height, width });
    }
    // A gray image stored as RGB(A) is profiled as the gray image it is.
    let gray_copy = gray::equal_channels_as_gray(image).map_err(|_| ImageError::OutOfMemory { height, width })?;
    let gray_view = gray_copy.as_ref().map(|b| ImageView::new(b.as_pixels(), height, width, 1));
    let image = gray_view.as_ref().unwrap_or(image);
    crate::fft2::grow(&mut ws.row, width, 0.0).map_err(oom)?;
    let stats = gray::stats(image, &mut ws.row);
    if !stats.finite {
        return Err(ImageError::NonFinite);
    }
    if stats.min == stats.max {
        return Err(ImageError::NoVariation);
    }
    let n = (height * width) as f64;
    let mean = stats.sum / n;

    let (gh, gw) = opts.size.map_or((height, width), |s| (s, s));
    let (grid, table) = ws.tables(gh, gw, opts);
    let hann = opts.window == Window::Hann;
    // Artefacts want the spectrum of the Hann-windowed native image: with the
    // default options that is the profile's own, and its ring powers are
    // gathered in the same pass over the spectrum as the band energies.
    let fused = opts.artefacts && opts.size.is_none() && hann;
    let rings = if opts.artefacts { Some(ws.rings(height, width)) } else { None };
    if let Some(rings) = &rings {
        artefacts::prepare_rings(rings, &mut ws.artefacts).map_err(oom)?;
    }
    let mut sums = std::mem::take(&mut ws.sums);
    sums.reset(table.bands);
    let Workspace { fft, resize: resize_scratch, resized, row, artefacts: art, .. } = ws;
    let mut on_columns = |kx0: usize, columns: &[rustfft::num_complex::Complex<f64>]| {
        table.accumulate_columns(kx0, columns, &mut sums);
        if let (true, Some(rings)) = (fused, &rings) {
            artefacts::scatter_rings(kx0, columns, rings, art);
        }
    };
    let (wy, wx) = (&grid.hann_y, &grid.hann_x);
    let sq_dev = if let Some(size) = opts.size {
        let sq_dev = gray::squared_deviations(image, mean, row);
        let resized_mean = resize(image, size, resize_scratch, resized).map_err(oom)?;
        let x = &*resized;
        grid.forward_with(
            fft,
            |r, row| {
                row.copy_from_slice(&x[r * size..(r + 1) * size]);
                gray::centre_in_place(row, resized_mean, hann.then(|| wy[r]), wx);
            },
            &mut on_columns,
        )
        .map_err(oom)?;
        sq_dev
    } else {
        // Native grid: each row goes straight from the pixels into the FFT's
        // input, with the std's squared deviations taken in the same pass.
        let mut sq_dev = 0.0;
        grid.forward_with(
            fft,
            |r, row| {
                sq_dev += gray::centred_row(image, r, mean, hann.then(|| wy[r]), wx, row);
            },
            &mut on_columns,
        )
        .map_err(oom)?;
        sq_dev
    };
    let result = finish(&sums, &table, mean, (sq_dev / n).sqrt(), height, width);
    ws.sums = sums;
    let mut profile = result?;

    if let Some(rings) = &rings {
        if fused {
            spectral_into(&mut profile.artefacts, ws.fft.spectrum(&grid), rings, &mut ws.artefacts).map_err(oom)?;
        } else {
            // Another grid or window: one more FFT, of the native image with
            // the Hann window, for the ring powers alone.
            let native = grid_native(ws, height, width);
            let (wy, wx) = (&native.hann_y, &native.hann_x);
            let art = &mut ws.artefacts;
            native
                .forward_with(
                    &mut ws.fft,
                    |r, row| {
                        gray::centred_row(image, r, mean, Some(wy[r]), wx, row);
                    },
                    |kx0, columns| artefacts::scatter_rings(kx0, columns, rings, art),
                )
                .map_err(oom)?;
            spectral_into(&mut profile.artefacts, ws.fft.spectrum(&native), rings, &mut ws.artefacts).map_err(oom)?;
        }
        let (jpeg_block, hist_comb) =
            artefacts::pixel_features(image, stats.min, stats.max, &mut ws.artefacts).map_err(oom)?;
        profile.artefacts.jpeg_block = jpeg_block;
        profile.artefacts.hist_comb = hist_comb;
    }
    Ok(profile)
}

/// The native grid's plans (the last grid used when it is the same shape).
fn grid_native(ws: &Workspace, height: usize, width: usize) -> Arc<Grid> {
    match &ws.last_grid {
        Some(g) if g.height == height && g.width == width => Arc::clone(g),
        _ => grid(height, width),
    }
}

fn spectral_into(
    out: &mut Artefacts,
    spectrum: &[rustfft::num_complex::Complex<f64>],
    rings: &RingTable,
    scratch: &mut ArtefactScratch,
) -> Result<(), std::collections::TryReserveError> {
    (out.peak_max, out.peak_freq, out.axis_mid, out.axis_high) =
        artefacts::spectral_features(spectrum, rings, scratch)?;
    Ok(())
}

/// Fractions, features and scalars from the band sums.
fn finish(
    sums: &BandSums,
    table: &BandTable,
    mean: f64,
    std: f64,
    height: usize,
    width: usize,
) -> Result<Profile, ImageError> {
    let (energy, centroid_sum, hf_sum) = (&sums.energy[..=table.bands], sums.centroid, sums.hf);
    let total: f64 = energy.iter().sum();
    if !total.is_finite() || total <= 0.0 {
        return Err(ImageError::NoEnergy);
    }
    let p: Vec<f64> = energy.iter().map(|e| e / total).collect();
    let entropy = -p.iter().filter(|&&q| q > 0.0).map(|&q| q * q.log2()).sum::<f64>();
    Ok(Profile {
        bands: p[1..].iter().map(|q| (q + LOG_FLOOR).log10()).collect(),
        low: (p[0] + LOG_FLOOR).log10(),
        slope: spectral_slope(&energy[1..], &table.counts[1..], &table.centres),
        centroid: centroid_sum / total,
        entropy,
        hf_ratio: hf_sum / total,
        mean,
        std,
        height,
        width,
        artefacts: Artefacts::default(),
    })
}

/// Least-squares slope of `log10(E_b / n_b)` against `log10(c_b)` over bands
/// with `n_b > 0` and `E_b > 0`; NaN when fewer than two qualify.
fn spectral_slope(energy: &[f64], counts: &[f64], centres: &[f64]) -> f64 {
    let pts: Vec<(f64, f64)> = (0..energy.len())
        .filter(|&b| counts[b] > 0.0 && energy[b] > 0.0)
        .map(|b| (centres[b].log10(), (energy[b] / counts[b]).log10()))
        .collect();
    if pts.len() < 2 {
        return f64::NAN;
    }
    let k = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / k;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / k;
    let num: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let den: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    num / den
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Pixels;
    use crate::options::Spacing;

    fn noise(h: usize, w: usize) -> Vec<f64> {
        // A fixed LCG: deterministic, no dependency.
        let mut s = 12345u64;
        (0..h * w)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    #[test]
    fn per_image_problems_are_errors_not_panics() {
        let opts = ProfileOptions::default();
        let small = vec![1u8; 7 * 20];
        let r = profile_one(&ImageView::new(Pixels::U8(&small), 7, 20, 1), &opts);
        assert_eq!(r, Err(ImageError::TooSmall { height: 7, width: 20 }));
        let flat = vec![3.0f32; 100];
        assert_eq!(profile_one(&ImageView::new(Pixels::F32(&flat), 10, 10, 1), &opts), Err(ImageError::NoVariation));
        let mut nan = noise(10, 10);
        nan[5] = f64::NAN;
        assert_eq!(profile_one(&ImageView::new(Pixels::F64(&nan), 10, 10, 1), &opts), Err(ImageError::NonFinite));
        let short = vec![0u16; 99];
        assert!(matches!(
            profile_one(&ImageView::new(Pixels::U16(&short), 10, 10, 1), &opts),
            Err(ImageError::BadBuffer { expected: 100, got: 99, .. })
        ));
        assert!(matches!(
            profile_one(&ImageView::new(Pixels::U16(&short), 3, 10, 3), &opts),
            Err(ImageError::BadBuffer { .. })
        ));
        assert_eq!(
            profile_one(&ImageView::new(Pixels::U16(&short), 3, 11, 2), &opts),
            Err(ImageError::BadChannels { channels: 2 })
        );
        // Overflowing shape products are a buffer mismatch, not a wrap-around.
        assert!(matches!(
            profile_one(&ImageView::new(Pixels::U16(&short), usize::MAX, 3, 1), &opts),
            Err(ImageError::BadBuffer { .. })
        ));
    }

    #[test]
    fn fractions_sum_to_one_and_parseval_holds() {
        let (h, w) = (24, 19);
        let x = noise(h, w);
        let opts = ProfileOptions { window: Window::None, ..ProfileOptions::default() };
        let p = profile_one(&ImageView::new(Pixels::F64(&x), h, w, 1), &opts).unwrap();
        let total: f64 = p.bands.iter().chain([&p.low]).map(|l| 10f64.powf(*l) - LOG_FLOOR).sum();
        // The corners (r > 0.5) are dropped, so the kept fraction is at most 1.
        assert!(total <= 1.0 + 1e-9 && total > 0.5, "{total}");
        assert!(p.centroid > 0.0 && p.centroid <= 0.5);
        assert_eq!((p.height, p.width), (h, w));
    }

    #[test]
    fn artefacts_are_of_the_native_image_whatever_the_options() {
        // With the defaults they reuse the profile's spectrum; otherwise a
        // second native FFT computes the same numbers, bit for bit.
        let (h, w) = (45, 38);
        let x: Vec<u16> = noise(h, w).iter().map(|v| (v * 3000.0) as u16).collect();
        let view = ImageView::new(Pixels::U16(&x), h, w, 1);
        let default = profile_one(&view, &ProfileOptions::default()).unwrap().artefacts;
        assert!(default.values().iter().all(|v| v.is_finite()), "{default:?}");
        for opts in [
            ProfileOptions { size: Some(16), ..ProfileOptions::default() },
            ProfileOptions { window: Window::None, ..ProfileOptions::default() },
            ProfileOptions {
                size: Some(64),
                window: Window::None,
                bands: 7,
                spacing: Spacing::Linear,
                artefacts: true,
            },
        ] {
            assert_eq!(profile_one(&view, &opts).unwrap().artefacts, default, "{opts:?}");
        }
    }

    #[test]
    fn gray_stored_as_rgb_is_profiled_as_gray() {
        let (h, w) = (45, 38);
        let x: Vec<u8> = noise(h, w).iter().map(|v| (v * 200.0) as u8).collect();
        let gray = profile_one(&ImageView::new(Pixels::U8(&x), h, w, 1), &ProfileOptions::default()).unwrap();
        assert!(gray.artefacts.hist_comb.is_finite());
        for channels in [3, 4] {
            let rgb: Vec<u8> = x.iter().flat_map(|&v| std::iter::repeat_n(v, channels)).collect();
            let view = ImageView::new(Pixels::U8(&rgb), h, w, channels);
            assert_eq!(profile_one(&view, &ProfileOptions::default()).unwrap(), gray, "{channels} channels");
        }
    }

    #[test]
    fn without_artefacts_the_profile_is_unchanged_and_the_artefacts_are_nan() {
        let (h, w) = (45, 38);
        let x = noise(h, w);
        let view = ImageView::new(Pixels::F64(&x), h, w, 1);
        let with = profile_one(&view, &ProfileOptions::default()).unwrap();
        let without = profile_one(&view, &ProfileOptions { artefacts: false, ..ProfileOptions::default() }).unwrap();
        assert_eq!(with.bands, without.bands);
        assert_eq!(with.scalars()[..7], without.scalars()[..7]);
        assert_eq!(without.artefacts, Artefacts::default());
    }

    #[test]
    fn workspace_reuse_across_shapes_gives_the_same_result() {
        let opts = ProfileOptions { size: Some(16), spacing: Spacing::Linear, ..ProfileOptions::default() };
        let a = noise(40, 33);
        let b = noise(9, 12);
        let mut ws = Workspace::default();
        let va = ImageView::new(Pixels::F64(&a), 40, 33, 1);
        let vb = ImageView::new(Pixels::F64(&b), 9, 12, 1);
        let first = profile_with(&va, &opts, &mut ws).unwrap();
        profile_with(&vb, &ProfileOptions::default(), &mut ws).unwrap();
        assert_eq!(profile_with(&va, &opts, &mut ws).unwrap(), first);
        assert_eq!(profile_one(&va, &opts).unwrap(), first);
    }
}
