//! Radial Fourier-magnitude filter: multiply each image's `rfft2` by a real,
//! positive gain of radial frequency, phase kept, DC kept, and transform back.
//!
//! Per image: realfft along rows, 8 rows at a time, moved into a column-major
//! spectrum; then, a strip of a few columns at a time, the column rustfft
//! (out of place), the gain and the inverse column transform while the strip
//! is in cache; then the inverse realfft along rows, in the images' own precision (f64 for
//! float64, where the result matches numpy to rounding; f32 for float32). The gain of coefficient
//! `(ky, kx)` is `numpy.interp(r, radii, gains)` with
//! `r = sqrt(fftfreq(H)[ky]^2 + rfftfreq(W)[kx]^2)`; the segment and fraction
//! of each coefficient are computed once per grid and knot set (cached) and
//! shared by every image.

use std::sync::{Arc, LazyLock};

use rayon::prelude::*;
use realfft::{ComplexToReal, FftNum, RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use crate::cache::ShapeCache;
use crate::error::Error;
use crate::fft2::grow;

/// An image sample type; the filter computes in it (f64 for float64 images,
/// f32 for float32: half the memory traffic and twice the SIMD lanes).
pub trait Sample: FftNum + Default {
    fn as_f64(self) -> f64;
    fn of_f64(v: f64) -> Self;
    /// The cached plans of a `height x width` grid in this precision.
    fn plans(height: usize, width: usize) -> Arc<Plans<Self>>;
}

impl Sample for f32 {
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn of_f64(v: f64) -> Self {
        v as f32
    }
    fn plans(height: usize, width: usize) -> Arc<Plans<Self>> {
        static CACHE: LazyLock<ShapeCache<(usize, usize), Plans<f32>>> =
            LazyLock::new(|| ShapeCache::new(64, usize::MAX, |_| 0));
        Plans::cached(&CACHE, height, width)
    }
}

impl Sample for f64 {
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline]
    fn of_f64(v: f64) -> Self {
        v
    }
    fn plans(height: usize, width: usize) -> Arc<Plans<Self>> {
        static CACHE: LazyLock<ShapeCache<(usize, usize), Plans<f64>>> =
            LazyLock::new(|| ShapeCache::new(64, usize::MAX, |_| 0));
        Plans::cached(&CACHE, height, width)
    }
}

/// One gain curve for every image, or one per image (row-major `n x m`).
#[derive(Clone, Copy, Debug)]
pub enum Gains<'a> {
    Shared(&'a [f64]),
    PerImage(&'a [f64]),
}

/// Forward and inverse plans of one `height x width` grid, shared by every thread.
pub struct Plans<F> {
    r2c: Arc<dyn RealToComplex<F>>,
    c2r: Arc<dyn ComplexToReal<F>>,
    fwd: Arc<dyn Fft<F>>,
    inv: Arc<dyn Fft<F>>,
}

impl<F: FftNum> Plans<F> {
    fn cached(cache: &ShapeCache<(usize, usize), Self>, height: usize, width: usize) -> Arc<Self> {
        cache
            .get_or_build(&(height, width), || {
                let mut real = RealFftPlanner::<F>::new();
                let mut complex = FftPlanner::<F>::new();
                Ok::<_, std::convert::Infallible>(Plans {
                    r2c: real.plan_fft_forward(width),
                    c2r: real.plan_fft_inverse(width),
                    fwd: complex.plan_fft_forward(height),
                    inv: complex.plan_fft_inverse(height),
                })
            })
            .unwrap_or_else(|never| match never {})
    }
}

/// `numpy.fft.fftfreq(n)[k]`, computed as numpy does (`k * (1 / n)`).
fn fftfreq(k: usize, n: usize) -> f64 {
    let signed = if k < n.div_ceil(2) { k as f64 } else { k as f64 - n as f64 };
    signed * (1.0 / n as f64)
}

/// Where each coefficient's radius falls among the knots: gain = `g[lo] + t (g[hi] - g[lo])`
/// (`lo = hi`, `t = 0` outside the knots' range). The gain depends on `|fy|`, so only rows
/// `ky <= height / 2` are kept, in the layout `kx * (height / 2 + 1) + ky`; row `ky > height / 2`
/// shares the entry of `height - ky` (the same `|fy|`, bit for bit).
struct Interp {
    lo: Vec<u32>,
    hi: Vec<u32>,
    frac: Vec<f64>,
}

impl Interp {
    fn new(height: usize, width: usize, radii: &[f64]) -> Self {
        let (half, rows) = (width / 2 + 1, height / 2 + 1);
        let m = radii.len();
        let (mut lo, mut hi) = (Vec::with_capacity(half * rows), Vec::with_capacity(half * rows));
        let mut frac = Vec::with_capacity(half * rows);
        for kx in 0..half {
            let fx = kx as f64 * (1.0 / width as f64);
            for ky in 0..rows {
                let fy = fftfreq(ky, height);
                let r = (fy * fy + fx * fx).sqrt();
                let (j, k, t) = if r <= radii[0] {
                    (0, 0, 0.0)
                } else if r >= radii[m - 1] {
                    (m - 1, m - 1, 0.0)
                } else {
                    // radii[j] <= r < radii[j + 1]
                    let j = radii.partition_point(|&x| x <= r) - 1;
                    (j, j + 1, (r - radii[j]) / (radii[j + 1] - radii[j]))
                };
                lo.push(j as u32);
                hi.push(k as u32);
                frac.push(t);
            }
        }
        Interp { lo, hi, frac }
    }

    /// The interpolation of a `height x width` grid at `radii`, built once and
    /// shared by later calls with the same grid and knots (a stress run filters
    /// many batches with one knot set).
    fn cached(height: usize, width: usize, radii: &[f64]) -> Arc<Self> {
        type Key = (usize, usize, Vec<u64>);
        static CACHE: LazyLock<ShapeCache<Key, Interp>> =
            LazyLock::new(|| ShapeCache::new(16, 256 << 20, |i: &Interp| i.frac.len() * 16));
        let key = (height, width, radii.iter().map(|r| r.to_bits()).collect());
        CACHE
            .get_or_build(&key, || Ok::<_, std::convert::Infallible>(Interp::new(height, width, radii)))
            .unwrap_or_else(|never| match never {})
    }

    /// The gain of every kept coefficient for knot gains `g`, times `norm`
    /// (which undoes the unnormalised transforms); the DC term keeps gain 1.
    fn table<T: Sample>(
        &self,
        g: &[f64],
        norm: f64,
        out: &mut Vec<T>,
    ) -> Result<(), std::collections::TryReserveError> {
        out.clear();
        out.try_reserve_exact(self.frac.len())?;
        let coefficients = self.lo.iter().zip(&self.hi).zip(&self.frac);
        out.extend(coefficients.map(|((&j, &k), &t)| {
            let (a, b) = (g[j as usize], g[k as usize]);
            T::of_f64((a + t * (b - a)) * norm)
        }));
        if let Some(dc) = out.first_mut() {
            *dc = T::of_f64(norm);
        }
        Ok(())
    }
}

/// Per-thread buffers, grown to the grid and reused from image to image.
struct Scratch<F> {
    row: Vec<F>,
    /// The row transforms of a block of [`BLOCK`] rows.
    rows: Vec<Complex<F>>,
    /// The whole half spectrum, column-major: column `kx` is `spec[kx * height..][..height]`.
    spec: Vec<Complex<F>>,
    /// A strip of a few column transforms (out of place), scaled and transformed back.
    strip: Vec<Complex<F>>,
    fft: Vec<Complex<F>>,
}

impl<F> Default for Scratch<F> {
    fn default() -> Self {
        Scratch { row: Vec::new(), rows: Vec::new(), spec: Vec::new(), strip: Vec::new(), fft: Vec::new() }
    }
}

/// Rows transformed before their coefficients are moved into the column-major
/// spectrum: 8 complex f32 fill one 64-byte cache line of each column.
const BLOCK: usize = 8;

/// Columns per strip: about 16 KiB of coefficients, so that a strip's forward
/// transform, gain and inverse transform all run in L1 cache.
fn strip_width<F>(height: usize) -> usize {
    (16384 / (height * std::mem::size_of::<Complex<F>>())).max(1)
}

/// `c[ky] *= gain[min(ky, h - ky)]`: one column's gains, kept for `ky <= h / 2` only.
#[inline]
fn scale_column<T: Sample>(c: &mut [Complex<T>], gain: &[T]) {
    let (h, rows) = (c.len(), gain.len());
    let (low, high) = c.split_at_mut(rows);
    for (v, &g) in low.iter_mut().zip(gain) {
        *v = *v * g;
    }
    for (v, &g) in high.iter_mut().zip(gain[1..=h - rows].iter().rev()) {
        *v = *v * g;
    }
}

/// Filter one `height x width` image `src`, handing each output row `y` to `emit(y, row)`.
///
/// A block of rows is transformed forward and moved, a cache line per
/// column, into the column-major spectrum; then, a strip of columns at a
/// time, the columns are transformed out of place, scaled by the gain and
/// transformed back while in cache; then a block of rows at a time is moved
/// back and transformed back. The row-major spectrum never exists whole.
fn filter_one<T: Sample>(
    src: &[T],
    (height, width): (usize, usize),
    plans: &Plans<T>,
    gain: &[T],
    s: &mut Scratch<T>,
    mut emit: impl FnMut(usize, &[T]),
) -> Result<(), std::collections::TryReserveError> {
    let (h, w, half, rows) = (height, width, width / 2 + 1, height / 2 + 1);
    let sw = strip_width::<T>(h).min(half);
    let scratch_len = [
        plans.r2c.get_scratch_len(),
        plans.c2r.get_scratch_len(),
        plans.fwd.get_outofplace_scratch_len(),
        plans.inv.get_outofplace_scratch_len(),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let zero = Complex::new(T::zero(), T::zero());
    grow(&mut s.row, w, T::zero())?;
    grow(&mut s.rows, BLOCK * half, zero)?;
    grow(&mut s.spec, h * half, zero)?;
    grow(&mut s.strip, h * sw, zero)?;
    grow(&mut s.fft, scratch_len, zero)?;
    let (row, block, spec) = (&mut s.row[..w], &mut s.rows[..BLOCK * half], &mut s.spec[..h * half]);
    // Lengths below all come from this grid's own plans, so the transforms cannot fail.
    for y0 in (0..h).step_by(BLOCK) {
        let b = BLOCK.min(h - y0);
        for (r, out) in block.chunks_exact_mut(half).take(b).enumerate() {
            row.copy_from_slice(&src[(y0 + r) * w..(y0 + r + 1) * w]);
            plans.r2c.process_with_scratch(row, out, &mut s.fft[..plans.r2c.get_scratch_len()]).expect("plan lengths");
        }
        for (kx, column) in spec.chunks_exact_mut(h).enumerate() {
            for (r, v) in column[y0..y0 + b].iter_mut().enumerate() {
                *v = block[r * half + kx];
            }
        }
    }
    for (c0, columns) in (0..half).step_by(sw).zip(spec.chunks_mut(sw * h)) {
        let strip = &mut s.strip[..columns.len()];
        let fft = &mut s.fft[..plans.fwd.get_outofplace_scratch_len().max(plans.inv.get_outofplace_scratch_len())];
        plans.fwd.process_outofplace_with_scratch(columns, strip, fft);
        for (j, column) in strip.chunks_exact_mut(h).enumerate() {
            scale_column(column, &gain[(c0 + j) * rows..(c0 + j + 1) * rows]);
        }
        plans.inv.process_outofplace_with_scratch(strip, columns, fft);
    }
    for y0 in (0..h).step_by(BLOCK) {
        let b = BLOCK.min(h - y0);
        for (kx, column) in spec.chunks_exact(h).enumerate() {
            for (r, &v) in column[y0..y0 + b].iter().enumerate() {
                block[r * half + kx] = v;
            }
        }
        for (r, line) in block.chunks_exact_mut(half).take(b).enumerate() {
            // Real input rows have real DC (and Nyquist) terms; drop the rounding
            // residue there, as numpy's irfft does.
            line[0].im = T::zero();
            if w % 2 == 0 {
                line[half - 1].im = T::zero();
            }
            plans.c2r.process_with_scratch(line, row, &mut s.fft[..plans.c2r.get_scratch_len()]).expect("plan lengths");
            emit(y0 + r, row);
        }
    }
    Ok(())
}

/// Check the knots and gains of a filter of `n` images (messages name the argument).
fn check(n: usize, radii: &[f64], gains: Gains<'_>) -> Result<(), Error> {
    let m = radii.len();
    if m == 0 || radii.iter().any(|r| !r.is_finite()) || radii.windows(2).any(|p| p[1] <= p[0]) {
        return Err(Error::invalid("radii", "radii: expected a 1-D, finite, strictly increasing array"));
    }
    let (values, expected) = match gains {
        Gains::Shared(g) => (g, m),
        Gains::PerImage(g) => (g, n * m),
    };
    if values.len() != expected || values.iter().any(|g| !g.is_finite() || *g <= 0.0) {
        return Err(Error::invalid(
            "gains",
            format!("gains: expected finite positive values of shape ({m},) or ({n}, {m})"),
        ));
    }
    Ok(())
}

/// Filter `n` stacked `height x width` images (`images.len() == n * height * width`)
/// on `pool` (serially without one). Returns the filtered stack, same layout.
///
/// # Errors
/// Bad `radii` or `gains` (see `filter_oracle.radial_filter`), sides under 2,
/// a length that is not `n * height * width`, or no memory for the output.
pub fn radial_filter<T: Sample>(
    images: &[T],
    (n, height, width): (usize, usize, usize),
    radii: &[f64],
    gains: Gains<'_>,
    pool: Option<&rayon::ThreadPool>,
) -> Result<Vec<T>, Error> {
    if height < 2 || width < 2 || images.len() != n * height * width {
        return Err(Error::invalid(
            "images",
            format!("images: expected (N, H, W) with sides >= 2, got ({n}, {height}, {width})"),
        ));
    }
    check(n, radii, gains)?;
    let per = height * width;
    let mut out: Vec<T> = Vec::new();
    let oom = |_| Error::invalid("images", format!("images: cannot allocate the output of {n} x {height} x {width}"));
    out.try_reserve_exact(images.len()).map_err(oom)?;
    if n == 0 {
        return Ok(out);
    }
    let plans = T::plans(height, width);
    let interp = Interp::cached(height, width, radii);
    let (m, norm) = (radii.len(), 1.0 / per as f64);
    // One gain table for all images when they share a curve, else one per image.
    let mut shared = Vec::new();
    if let Gains::Shared(g) = gains {
        interp.table(g, norm, &mut shared).map_err(oom)?;
    }
    let run = |(s, table): &mut (Scratch<T>, Vec<T>), i: usize, emit: &mut dyn FnMut(usize, &[T])| {
        let gain = match gains {
            Gains::Shared(_) => &shared,
            Gains::PerImage(g) => {
                interp.table(&g[i * m..(i + 1) * m], norm, table)?;
                &*table
            }
        };
        filter_one(&images[i * per..(i + 1) * per], (height, width), &plans, gain, s, emit)
    };
    let state = || (Scratch::default(), Vec::new());
    let result = match pool {
        Some(pool) => {
            out.resize(images.len(), T::default());
            pool.install(|| {
                out.par_chunks_mut(per).enumerate().try_for_each_init(state, |st, (i, dst)| {
                    run(st, i, &mut |y, row: &[T]| dst[y * width..(y + 1) * width].copy_from_slice(row))
                })
            })
        }
        // Serially the rows are appended in order, so the output is never zero-filled first.
        None => {
            let mut st = state();
            (0..n).try_for_each(|i| run(&mut st, i, &mut |_, row: &[T]| out.extend_from_slice(row)))
        }
    };
    result.map_err(oom)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn image(h: usize, w: usize, seed: u64) -> Vec<f64> {
        (0..h * w).map(|i| ((i as u64 * 2654435761 + seed * 97) % 1009) as f64 / 7.0).collect()
    }

    #[test]
    fn unit_gain_returns_the_image() {
        for &(h, w) in &[(8, 8), (7, 9), (16, 5), (2, 3)] {
            let x = image(h, w, 1);
            let y = radial_filter(&x, (1, h, w), &[0.1], Gains::Shared(&[1.0]), None).unwrap();
            for (a, b) in x.iter().zip(&y) {
                assert!((a - b).abs() < 1e-9, "{h}x{w}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn a_constant_gain_scales_everything_but_the_mean() {
        let (h, w) = (12, 10);
        let x = image(h, w, 2);
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let y = radial_filter(&x, (1, h, w), &[0.2, 0.4], Gains::Shared(&[3.0, 3.0]), None).unwrap();
        for (a, b) in x.iter().zip(&y) {
            assert!((b - (mean + 3.0 * (a - mean))).abs() < 1e-9);
        }
    }

    #[test]
    fn a_pure_wave_is_scaled_by_the_gain_at_its_radius() {
        // cos(2 pi 3 x / 16) has radius 3/16 = 0.1875: halfway between knots 0.125 and 0.25.
        let (h, w) = (8, 16);
        let x: Vec<f64> = (0..h * w).map(|i| (2.0 * PI * 3.0 * (i % w) as f64 / w as f64).cos()).collect();
        let y = radial_filter(&x, (1, h, w), &[0.125, 0.25], Gains::Shared(&[1.0, 2.0]), None).unwrap();
        for (a, b) in x.iter().zip(&y) {
            assert!((b - 1.5 * a).abs() < 1e-12);
        }
    }

    #[test]
    fn per_image_gains_threads_and_f32_agree_with_the_serial_f64_run() {
        let (n, h, w) = (5, 9, 14);
        let x: Vec<f64> = (0..n).flat_map(|s| image(h, w, s as u64)).collect();
        let radii = [0.05, 0.2, 0.5];
        let gains: Vec<f64> = (0..n * 3).map(|i| 0.5 + (i % 4) as f64 * 0.3).collect();
        let serial = radial_filter(&x, (n, h, w), &radii, Gains::PerImage(&gains), None).unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        assert_eq!(radial_filter(&x, (n, h, w), &radii, Gains::PerImage(&gains), Some(&pool)).unwrap(), serial);
        let one = radial_filter(&x[h * w..2 * h * w], (1, h, w), &radii, Gains::Shared(&gains[3..6]), None).unwrap();
        assert_eq!(&serial[h * w..2 * h * w], &one[..]);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let y32 = radial_filter(&x32, (n, h, w), &radii, Gains::PerImage(&gains), None).unwrap();
        for (a, b) in serial.iter().zip(&y32) {
            assert!((a - *b as f64).abs() < 5e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn bad_arguments_are_errors_naming_them() {
        let x = image(4, 4, 0);
        let bad = |radii: &[f64], gains: Gains<'_>| radial_filter(&x, (1, 4, 4), radii, gains, None).unwrap_err();
        assert!(bad(&[], Gains::Shared(&[])).to_string().contains("radii"));
        assert!(bad(&[0.2, 0.1], Gains::Shared(&[1.0, 1.0])).to_string().contains("radii"));
        assert!(bad(&[f64::NAN], Gains::Shared(&[1.0])).to_string().contains("radii"));
        assert!(bad(&[0.1], Gains::Shared(&[0.0])).to_string().contains("gains"));
        assert!(bad(&[0.1], Gains::PerImage(&[1.0, 1.0])).to_string().contains("gains"));
        assert!(bad(&[0.1, 0.2], Gains::Shared(&[1.0])).to_string().contains("gains"));
        let e = radial_filter(&x, (1, 1, 16), &[0.1], Gains::Shared(&[1.0]), None).unwrap_err();
        assert!(e.to_string().contains("images"));
        assert!(radial_filter(&x[..0], (0, 4, 4), &[0.1], Gains::Shared(&[1.0]), None).unwrap().is_empty());
    }
}
