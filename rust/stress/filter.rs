//! Radial Fourier-magnitude filter: multiply each image's `rfft2` by a real,
//! positive gain of radial frequency, phase kept, DC kept, and transform back.
//!
//! Images go in pairs `(2i, 2i + 1)`: the pair is packed as one complex
//! image `a + i b`, so one complex 2-D transform serves both (and no real-FFT
//! pre- or post-processing is needed): rustfft along rows, 8 rows at a time,
//! moved into a column-major spectrum; then, a strip of columns at a time (or
//! a column and its mirror when the pair's gains differ), the column transform
//! out of place, the gains and the inverse column transform while in cache;
//! then the inverse row transforms, whose real and imaginary parts are the two
//! filtered images. The gain is real and even, so it maps each image's
//! Hermitian spectrum to a Hermitian one and the two do not mix (up to
//! rounding: an image's result depends on its partner at about 1e-7 of the
//! range in f32). Computed in the images' own precision (f64 for
//! float64, where the result matches numpy to rounding; f32 for float32). The gain of coefficient
//! `(ky, kx)` is `numpy.interp(r, radii, gains)` with
//! `r = sqrt(fftfreq(H)[ky]^2 + fftfreq(W)[kx]^2)`; the segment and fraction
//! of each coefficient are computed once per grid and knot set (cached) and
//! shared by every image.

use std::sync::{Arc, LazyLock};

use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::FftNum;
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

/// Forward and inverse complex plans of one `height x width` grid's rows and
/// columns, shared by every thread.
pub struct Plans<F> {
    row_fwd: Arc<dyn Fft<F>>,
    row_inv: Arc<dyn Fft<F>>,
    col_fwd: Arc<dyn Fft<F>>,
    col_inv: Arc<dyn Fft<F>>,
}

impl<F: FftNum> Plans<F> {
    fn cached(cache: &ShapeCache<(usize, usize), Self>, height: usize, width: usize) -> Arc<Self> {
        cache
            .get_or_build(&(height, width), || {
                let mut planner = FftPlanner::<F>::new();
                Ok::<_, std::convert::Infallible>(Plans {
                    row_fwd: planner.plan_fft_forward(width),
                    row_inv: planner.plan_fft_inverse(width),
                    col_fwd: planner.plan_fft_forward(height),
                    col_inv: planner.plan_fft_inverse(height),
                })
            })
            .unwrap_or_else(|never| match never {})
    }

    /// The longest scratch any of the four transforms needs.
    fn scratch_len(&self) -> usize {
        [
            self.row_fwd.get_inplace_scratch_len(),
            self.row_inv.get_inplace_scratch_len(),
            self.col_fwd.get_outofplace_scratch_len(),
            self.col_inv.get_outofplace_scratch_len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
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

/// Per-thread buffers, grown to the grid and reused from pair to pair.
struct Scratch<F> {
    /// A block of [`BLOCK`] complex rows (the two images of a pair as real and imaginary parts).
    rows: Vec<Complex<F>>,
    /// The pair's whole spectrum, column-major: column `kx` is `spec[kx * height..][..height]`.
    spec: Vec<Complex<F>>,
    /// Column transforms (out of place), scaled and transformed back.
    strip: Vec<Complex<F>>,
    fft: Vec<Complex<F>>,
}

impl<F> Default for Scratch<F> {
    fn default() -> Self {
        Scratch { rows: Vec::new(), spec: Vec::new(), strip: Vec::new(), fft: Vec::new() }
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

/// The gains of one image: a half-size table, `kx * (height / 2 + 1) + ky` for
/// `kx <= width / 2`, `ky <= height / 2`; the gain is even in both frequencies.
#[derive(Clone, Copy)]
struct Table<'a, T> {
    gain: &'a [T],
    height: usize,
    width: usize,
}

impl<'a, T: Copy> Table<'a, T> {
    /// Column `kx`'s gains for `ky <= height / 2`.
    #[inline]
    fn column(&self, kx: usize) -> &'a [T] {
        let (rows, kx) = (self.height / 2 + 1, kx.min(self.width - kx));
        &self.gain[kx * rows..(kx + 1) * rows]
    }
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

/// Two images' gains on the spectrum `Z = X_a + i X_b` of the pair: for each
/// coefficient `k` and its mirror `-k` (column `p` holds `k`, column `q` holds
/// `-k`: `q[(h - ky) % h]` mirrors `p[ky]`), `Y(k) = s Z(k) + d conj(Z(-k))`
/// with `s = (g_a + g_b) / 2`, `d = (g_a - g_b) / 2` (the columns' half tables,
/// see [`scale_column`]), which is `g_a X_a(k) + i g_b X_b(k)`. `q` is `None`
/// when the column is its own mirror.
fn scale_pair<T: Sample>(p: &mut [Complex<T>], q: Option<&mut [Complex<T>]>, s: &[T], d: &[T]) {
    let (h, rows) = (p.len(), s.len());
    let mix = |z: Complex<T>, m: Complex<T>, s: T, d: T| z * s + m.conj() * d;
    match q {
        Some(q) => {
            let (z, m) = (p[0], q[0]);
            (p[0], q[0]) = (mix(z, m, s[0], d[0]), mix(m, z, s[0], d[0]));
            // ky = 1..h against h - ky; the gain index is min(ky, h - ky). Two
            // branch-free runs: ky < rows (q backwards), then h - ky < h - rows + 1 (p backwards).
            let (ps, qs) = (&mut p[1..rows], &mut q[h - rows + 1..]);
            for (((z, m), &sv), &dv) in ps.iter_mut().zip(qs.iter_mut().rev()).zip(&s[1..rows]).zip(&d[1..rows]) {
                (*z, *m) = (mix(*z, *m, sv, dv), mix(*m, *z, sv, dv));
            }
            let (ps, qs) = (&mut p[rows..], &mut q[1..=h - rows]);
            let (sb, db) = (&s[1..=h - rows], &d[1..=h - rows]);
            for (((z, m), &sv), &dv) in ps.iter_mut().rev().zip(qs.iter_mut()).zip(sb).zip(db) {
                (*z, *m) = (mix(*z, *m, sv, dv), mix(*m, *z, sv, dv));
            }
        }
        None => {
            for ky in 0..=h / 2 {
                let (i, j) = (ky, (h - ky) % h);
                let (z, m) = (p[i], p[j]);
                p[i] = mix(z, m, s[i], d[i]);
                if j != i {
                    p[j] = mix(m, z, s[i], d[i]);
                }
            }
        }
    }
}

/// Move the rows of `block` (`width` long each) into rows `y0..` of the
/// column-major `spec` (`height`-long columns).
fn to_columns<C: Copy>(block: &[C], spec: &mut [C], (height, width): (usize, usize), y0: usize) {
    let rows: Vec<&[C]> = block.chunks_exact(width).collect();
    for (kx, column) in spec.chunks_exact_mut(height).enumerate() {
        for (v, row) in column[y0..y0 + rows.len()].iter_mut().zip(&rows) {
            *v = row[kx];
        }
    }
}

/// The inverse of [`to_columns`]: rows `y0..` of `spec` into the rows of `block`.
fn from_columns<C: Copy>(spec: &[C], block: &mut [C], (height, width): (usize, usize), y0: usize) {
    let mut rows: Vec<&mut [C]> = block.chunks_exact_mut(width).collect();
    for (kx, column) in spec.chunks_exact(height).enumerate() {
        for (&v, row) in column[y0..y0 + rows.len()].iter().zip(rows.iter_mut()) {
            row[kx] = v;
        }
    }
}

/// Filter image `a` (and `b`, packed as the imaginary part: one complex 2-D
/// transform serves both) with gain table `ga` (or, for a pair with two gains,
/// the sum and difference tables of [`scale_pair`]), handing each output
/// row `y` to `emit(y, row)`: `a`'s row is its real part, `b`'s the imaginary part.
///
/// A block of rows is transformed forward and moved, a cache line per
/// column, into the column-major spectrum; then the columns are transformed
/// out of place, scaled by the gains and transformed back while in cache (a
/// strip at a time, or a column and its mirror when the two gains differ);
/// then a block of rows at a time is moved back and transformed back.
fn filter_pair<T: Sample>(
    (a, b): (&[T], Option<&[T]>),
    (height, width): (usize, usize),
    plans: &Plans<T>,
    (ga, gb): (Table<'_, T>, Option<Table<'_, T>>),
    s: &mut Scratch<T>,
    emit: &mut dyn FnMut(usize, &[Complex<T>]),
) -> Result<(), std::collections::TryReserveError> {
    let (h, w) = (height, width);
    let sw = strip_width::<T>(h).min(w);
    let zero = Complex::new(T::zero(), T::zero());
    grow(&mut s.rows, BLOCK * w, zero)?;
    grow(&mut s.spec, h * w, zero)?;
    grow(&mut s.strip, h * sw.max(2), zero)?;
    grow(&mut s.fft, plans.scratch_len(), zero)?;
    let (block, spec, fft) = (&mut s.rows[..BLOCK * w], &mut s.spec[..h * w], &mut s.fft[..]);
    for y0 in (0..h).step_by(BLOCK) {
        let n = BLOCK.min(h - y0);
        for (r, line) in block.chunks_exact_mut(w).take(n).enumerate() {
            let y = y0 + r;
            let src_a = &a[y * w..(y + 1) * w];
            match b {
                Some(b) => {
                    for ((z, &re), &im) in line.iter_mut().zip(src_a).zip(&b[y * w..(y + 1) * w]) {
                        *z = Complex::new(re, im);
                    }
                }
                None => {
                    for (z, &re) in line.iter_mut().zip(src_a) {
                        *z = Complex::new(re, T::zero());
                    }
                }
            }
            plans.row_fwd.process_with_scratch(line, fft);
        }
        to_columns(&block[..n * w], spec, (h, w), y0);
    }
    match gb {
        // One gain for the pair (or a lone image): Y = g Z, a strip of columns at a time.
        None => {
            for (c0, columns) in (0..w).step_by(sw).zip(spec.chunks_mut(sw * h)) {
                let strip = &mut s.strip[..columns.len()];
                plans.col_fwd.process_outofplace_with_scratch(columns, strip, fft);
                for (j, column) in strip.chunks_exact_mut(h).enumerate() {
                    scale_column(column, ga.column(c0 + j));
                }
                plans.col_inv.process_outofplace_with_scratch(strip, columns, fft);
            }
        }
        // Two gains: each column with its mirror (kx, w - kx).
        Some(gb) => {
            for kx in 0..=w / 2 {
                let mirror = (w - kx) % w;
                let (p, q) = s.strip[..2 * h].split_at_mut(h);
                plans.col_fwd.process_outofplace_with_scratch(&mut spec[kx * h..(kx + 1) * h], p, fft);
                if mirror == kx {
                    scale_pair(p, None, ga.column(kx), gb.column(kx));
                } else {
                    plans.col_fwd.process_outofplace_with_scratch(&mut spec[mirror * h..(mirror + 1) * h], q, fft);
                    scale_pair(p, Some(&mut *q), ga.column(kx), gb.column(kx));
                    plans.col_inv.process_outofplace_with_scratch(q, &mut spec[mirror * h..(mirror + 1) * h], fft);
                }
                plans.col_inv.process_outofplace_with_scratch(p, &mut spec[kx * h..(kx + 1) * h], fft);
            }
        }
    }
    for y0 in (0..h).step_by(BLOCK) {
        let n = BLOCK.min(h - y0);
        from_columns(spec, &mut block[..n * w], (h, w), y0);
        for (r, line) in block.chunks_exact_mut(w).take(n).enumerate() {
            plans.row_inv.process_with_scratch(line, fft);
            emit(y0 + r, line);
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
    // Images are filtered in pairs (2i, 2i + 1), the same pairs with or without threads.
    let run =
        |(s, ta, tb): &mut (Scratch<T>, Vec<T>, Vec<T>), pair: usize, emit: &mut dyn FnMut(usize, &[Complex<T>])| {
            let i = 2 * pair;
            let a = &images[i * per..(i + 1) * per];
            let b = (i + 1 < n).then(|| &images[(i + 1) * per..(i + 2) * per]);
            let tables = match gains {
                Gains::Shared(_) => (Table { gain: &shared[..], height, width }, None),
                Gains::PerImage(g) => {
                    interp.table(&g[i * m..(i + 1) * m], norm, ta)?;
                    if b.is_some() {
                        interp.table(&g[(i + 1) * m..(i + 2) * m], norm, tb)?;
                        // The pair's sum and difference gains (see `scale_pair`).
                        let half = T::of_f64(0.5);
                        for (x, y) in ta.iter_mut().zip(tb.iter_mut()) {
                            (*x, *y) = ((*x + *y) * half, (*x - *y) * half);
                        }
                        (Table { gain: &ta[..], height, width }, Some(Table { gain: &tb[..], height, width }))
                    } else {
                        (Table { gain: &ta[..], height, width }, None)
                    }
                }
            };
            filter_pair((a, b), (height, width), &plans, tables, s, emit)
        };
    let state = || (Scratch::default(), Vec::new(), Vec::new());
    let pairs = n.div_ceil(2);
    let result = match pool {
        Some(pool) => {
            out.resize(images.len(), T::default());
            pool.install(|| {
                out.par_chunks_mut(2 * per).enumerate().try_for_each_init(state, |st, (pair, dst)| {
                    run(st, pair, &mut |y, line: &[Complex<T>]| {
                        let (a, b) = dst.split_at_mut(per.min(dst.len()));
                        for (o, z) in a[y * width..(y + 1) * width].iter_mut().zip(line) {
                            *o = z.re;
                        }
                        if !b.is_empty() {
                            for (o, z) in b[y * width..(y + 1) * width].iter_mut().zip(line) {
                                *o = z.im;
                            }
                        }
                    })
                })
            })
        }
        // Serially the first image's rows are appended in order and the
        // second's follow it, so the output is never zero-filled first.
        None => {
            let mut st = state();
            let mut second: Vec<T> = Vec::new();
            (0..pairs).try_for_each(|pair| {
                second.clear();
                let two = 2 * pair + 1 < n;
                run(&mut st, pair, &mut |_, line: &[Complex<T>]| {
                    out.extend(line.iter().map(|z| z.re));
                    if two {
                        second.extend(line.iter().map(|z| z.im));
                    }
                })?;
                out.extend_from_slice(&second);
                Ok(())
            })
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
        // Alone, image 1 is not packed with image 0: equal up to rounding.
        let one = radial_filter(&x[h * w..2 * h * w], (1, h, w), &radii, Gains::Shared(&gains[3..6]), None).unwrap();
        for (a, b) in serial[h * w..2 * h * w].iter().zip(&one) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let y32 = radial_filter(&x32, (n, h, w), &radii, Gains::PerImage(&gains), None).unwrap();
        for (a, b) in serial.iter().zip(&y32) {
            assert!((a - *b as f64).abs() < 5e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn a_packed_pair_matches_each_image_filtered_alone() {
        // Very different images and gains in one pair, odd and even sides, and a lone last image.
        for &(h, w) in &[(6, 8), (7, 5), (2, 2), (9, 4)] {
            let x: Vec<f64> =
                (0..3).flat_map(|s| image(h, w, s).into_iter().map(move |v| v * (1.0 + 50.0 * s as f64))).collect();
            let radii = [0.05, 0.2, 0.45];
            let gains = [0.3, 2.0, 5.0, 4.0, 0.5, 0.2, 1.0, 1.5, 0.7];
            let all = radial_filter(&x, (3, h, w), &radii, Gains::PerImage(&gains), None).unwrap();
            let per = h * w;
            for i in 0..3 {
                let g = Gains::Shared(&gains[3 * i..3 * i + 3]);
                let alone = radial_filter(&x[i * per..(i + 1) * per], (1, h, w), &radii, g, None).unwrap();
                let range = 51.0 * 1009.0 / 7.0;
                for (a, b) in all[i * per..(i + 1) * per].iter().zip(&alone) {
                    assert!((a - b).abs() < 1e-12 * range, "{h}x{w} image {i}: {a} vs {b}");
                }
            }
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
