//! Radial bands: edges, the band-index table of a grid, and the fused
//! |F|^2 + band accumulation.
//!
//! The band of every half-spectrum coefficient is fixed by the grid and the
//! options, so it is computed once per (H, W, bands, spacing) as a `u8` table
//! (slot 0 = low, 1..=B = bands, B + 1 = dropped corner) and cached. The hot
//! loop does not read that table coefficient by coefficient: it reads it
//! run-length encoded along each spectrum row. Along a row the band index
//! changes only where the radius crosses an edge, so a 1024 x 513 spectrum has
//! a few dozen runs per row. A scatter-add `acc[lut[i]] += p` would serialise
//! on the same accumulator (store-to-load forwarding, ~5 cycles per
//! coefficient); summing a contiguous run vectorises and costs well under one.
//! Coefficients that are dropped (corners, r > 0.5) are never visited.

use std::sync::{Arc, LazyLock};

use rustfft::num_complex::Complex;

use crate::cache::ShapeCache;
use crate::options::Spacing;

/// Radial frequency (cycles/pixel) above which energy counts as high frequency.
pub const HF_CUTOFF: f64 = 0.25;

/// Edges `e_0 .. e_B` of the radial bands in cycles per pixel, for the grid
/// that is transformed. Scalar libm arithmetic, operation for operation as in
/// `spectral_fast.reference.band_edges`, so both assign coefficients sitting
/// exactly on an edge to the same band.
pub fn band_edges(height: usize, width: usize, bands: usize, spacing: Spacing) -> Vec<f64> {
    let r_min = 1.0 / height.min(width) as f64;
    let mut edges: Vec<f64> = match spacing {
        Spacing::Log => {
            let ratio = (0.5 / r_min).ln();
            (0..=bands).map(|i| r_min * (ratio * i as f64 / bands as f64).exp()).collect()
        }
        Spacing::Linear => {
            let step = (0.5 - r_min) / bands as f64;
            (0..=bands).map(|i| r_min + step * i as f64).collect()
        }
    };
    edges[bands] = 0.5;
    edges
}

/// Centre of each band: geometric for log spacing, arithmetic for linear.
pub fn band_centres(edges: &[f64], spacing: Spacing) -> Vec<f64> {
    edges
        .windows(2)
        .map(|e| match spacing {
            Spacing::Log => (e[0] * e[1]).sqrt(),
            Spacing::Linear => (e[0] + e[1]) / 2.0,
        })
        .collect()
}

/// `ky / H` with `ky` signed as in `numpy.fft.fftfreq`, a true division as in the reference.
pub(crate) fn freq_y(i: usize, height: usize) -> f64 {
    let ky = if i >= height.div_ceil(2) { i as f64 - height as f64 } else { i as f64 };
    ky / height as f64
}

/// Slot of radius `r`: 0 below `e_0`, `i + 1` for band `i`, `B + 1` beyond 0.5.
fn slot(r: f64, edges: &[f64]) -> u8 {
    let b = edges.len() - 1;
    let s = if r > edges[b] {
        b + 1
    } else if r == edges[b] {
        b // the last band also holds r = 0.5
    } else {
        edges.partition_point(|&e| e <= r) // numpy searchsorted(side="right")
    };
    s as u8
}

/// The band-index table of a grid in the transposed layout of
/// [`crate::fft2::Grid::forward`]: entry `kx * height + ky`.
pub fn band_lut(height: usize, width: usize, edges: &[f64]) -> Vec<u8> {
    let half = width / 2 + 1;
    let mut lut = Vec::with_capacity(half * height);
    for kx in 0..half {
        let fx = kx as f64 / width as f64;
        for i in 0..height {
            let fy = freq_y(i, height);
            lut.push(slot((fy * fy + fx * fx).sqrt(), edges));
        }
    }
    lut
}

/// Weight of spectrum column `kx`: 2 for coefficients that stand for a
/// conjugate twin too, 1 for `kx = 0` and, for even W, `kx = W / 2`.
fn column_weight(kx: usize, width: usize) -> f64 {
    if kx == 0 || (width % 2 == 0 && kx == width / 2) {
        1.0
    } else {
        2.0
    }
}

/// A run of coefficients `start..end` along one spectrum row, all in `slot`
/// and all on the same side of [`HF_CUTOFF`]; their radii are
/// `radius[radius_at .. radius_at + end - start]`.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: u32,
    end: u32,
    radius_at: usize,
    slot: u8,
    hf: bool,
}

/// Everything about the bands of one grid and options that does not depend on the image.
pub struct BandTable {
    pub height: usize,
    pub width: usize,
    pub bands: usize,
    pub edges: Vec<f64>,
    pub centres: Vec<f64>,
    /// Weighted number of coefficients per slot, 0 (low) ..= B.
    pub counts: Vec<f64>,
    runs: Vec<Run>,
    /// Runs of spectrum row `kx` are `runs[row_start[kx]..row_start[kx + 1]]`.
    row_start: Vec<usize>,
    /// Radius of every kept coefficient, run after run. Precomputed because a
    /// square root per coefficient cost more than the rest of the
    /// accumulation (0.6 of 1.0 ms at 1024^2); reading 8 bytes more per
    /// coefficient, shared by every thread, costs a fraction of that.
    radius: Vec<f64>,
}

type Key = (usize, usize, usize, Spacing);
/// 64 tables or 512 MiB (a 1024^2 table holds ~3.4 MB, a 3000 x 2500 one ~25 MB).
static TABLES: LazyLock<ShapeCache<Key, BandTable>> =
    LazyLock::new(|| ShapeCache::new(64, 512 << 20, BandTable::heap_bytes));

/// The shared band table of a grid and options (cached).
pub fn band_table(height: usize, width: usize, bands: usize, spacing: Spacing) -> Arc<BandTable> {
    TABLES
        .get_or_build(&(height, width, bands, spacing), || {
            Ok::<_, std::convert::Infallible>(BandTable::new(height, width, bands, spacing))
        })
        .unwrap_or_else(|never| match never {})
}

impl BandTable {
    fn new(height: usize, width: usize, bands: usize, spacing: Spacing) -> Self {
        let edges = band_edges(height, width, bands, spacing);
        let lut = band_lut(height, width, &edges);
        let half = width / 2 + 1;
        let mut counts = vec![0.0; bands + 1];
        let (mut runs, mut row_start, mut radius) = (Vec::new(), Vec::with_capacity(half + 1), Vec::new());
        for kx in 0..half {
            row_start.push(runs.len());
            let fx = kx as f64 / width as f64;
            // The same expression as `band_lut` and the reference, so the
            // r > 0.25 split and the radii agree with them bit for bit.
            let r_at = |i: usize| {
                let fy = freq_y(i, height);
                (fy * fy + fx * fx).sqrt()
            };
            let row = &lut[kx * height..(kx + 1) * height];
            let mut i = 0;
            while i < height {
                let key = |j: usize| (row[j], r_at(j) > HF_CUTOFF);
                let (s, hf) = key(i);
                let mut end = i + 1;
                while end < height && key(end) == (s, hf) {
                    end += 1;
                }
                if (s as usize) <= bands {
                    counts[s as usize] += column_weight(kx, width) * (end - i) as f64;
                    runs.push(Run { start: i as u32, end: end as u32, radius_at: radius.len(), slot: s, hf });
                    radius.extend((i..end).map(r_at));
                }
                i = end;
            }
        }
        row_start.push(runs.len());
        let centres = band_centres(&edges, spacing);
        BandTable { height, width, bands, edges, centres, counts, runs, row_start, radius }
    }

    /// Bytes held, for the cache's budget.
    pub fn heap_bytes(&self) -> usize {
        self.radius.len() * 8 + self.runs.len() * std::mem::size_of::<Run>() + self.row_start.len() * 8
    }

    /// Fused power and band accumulation over a transposed half spectrum.
    ///
    /// Writes the weighted energy of slots 0 (low) ..= B into `energy` and
    /// returns `(sum of w P r, sum of w P over r > 0.25)`, corners excluded.
    /// The summation order is fixed, so results do not depend on threads.
    pub fn accumulate(&self, spectrum: &[Complex<f64>], energy: &mut [f64]) -> (f64, f64) {
        let mut sums = BandSums::new(self.bands);
        self.accumulate_columns(0, spectrum, &mut sums);
        energy[..=self.bands].copy_from_slice(&sums.energy);
        (sums.centroid, sums.hf)
    }

    /// Add spectrum rows `kx0 .. kx0 + columns.len() / H` to `sums`: lets the
    /// FFT hand over each chunk of columns while it is still in cache.
    pub fn accumulate_columns(&self, kx0: usize, columns: &[Complex<f64>], sums: &mut BandSums) {
        for (j, column) in columns.chunks_exact(self.height).enumerate() {
            accumulate_row(self, kx0 + j, column, sums);
        }
    }
}

crate::simd::avx2_dispatch! {
    /// Add spectrum row `kx` (`height` coefficients) to `sums`.
    fn accumulate_row(table: &BandTable, kx: usize, column: &[Complex<f64>], sums: &mut BandSums) = accumulate_row_body;
}

#[inline(always)]
fn accumulate_row_body(table: &BandTable, kx: usize, column: &[Complex<f64>], sums: &mut BandSums) {
    let w = column_weight(kx, table.width);
    for run in &table.runs[table.row_start[kx]..table.row_start[kx + 1]] {
        let (s, e) = (run.start as usize, run.end as usize);
        let (p, pr) = run_sums(&column[s..e], &table.radius[run.radius_at..run.radius_at + e - s]);
        sums.energy[run.slot as usize] += w * p;
        sums.centroid += w * pr;
        if run.hf {
            sums.hf += w * p;
        }
    }
}

/// Running band sums of one image: energy per slot 0 (low) ..= B, `sum w P r`
/// and the energy above [`HF_CUTOFF`].
#[derive(Clone, Debug, Default)]
pub struct BandSums {
    pub energy: Vec<f64>,
    pub centroid: f64,
    pub hf: f64,
}

impl BandSums {
    pub fn new(bands: usize) -> Self {
        BandSums { energy: vec![0.0; bands + 1], centroid: 0.0, hf: 0.0 }
    }

    /// Zero the sums for `bands` bands, keeping the allocation.
    pub fn reset(&mut self, bands: usize) {
        self.energy.clear();
        self.energy.resize(bands + 1, 0.0);
        self.centroid = 0.0;
        self.hf = 0.0;
    }
}

/// `(sum |z|^2, sum |z|^2 r)` over one run, in four lanes so the compiler
/// vectorises it (it does not reassociate f64 sums by itself).
#[inline(always)]
fn run_sums(z: &[Complex<f64>], radius: &[f64]) -> (f64, f64) {
    let (mut p, mut pr) = ([0.0f64; 4], [0.0f64; 4]);
    let (zc, rc) = (z.chunks_exact(4), radius.chunks_exact(4));
    let (mut tp, mut tpr) = (0.0, 0.0);
    for (a, r) in zc.remainder().iter().zip(rc.remainder()) {
        let q = a.re * a.re + a.im * a.im;
        tp += q;
        tpr += q * r;
    }
    for (a, r) in zc.zip(rc) {
        for l in 0..4 {
            let q = a[l].re * a[l].re + a[l].im * a[l].im;
            p[l] += q;
            pr[l] += q * r[l];
        }
    }
    ((p[0] + p[1]) + (p[2] + p[3]) + tp, (pr[0] + pr[1]) + (pr[2] + pr[3]) + tpr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_avx2_copy_of_the_row_pass_gives_the_same_bits() {
        let (h, w) = (97, 64);
        let table = BandTable::new(h, w, 32, Spacing::Log);
        let column: Vec<Complex<f64>> =
            (0..h).map(|i| Complex::new((i as f64 * 0.7).sin(), (i * 13 % 7) as f64)).collect();
        for kx in [0, 5, w / 2] {
            let (mut a, mut b) = (BandSums::new(32), BandSums::new(32));
            accumulate_row(&table, kx, &column, &mut a);
            accumulate_row_body(&table, kx, &column, &mut b);
            let bits =
                |s: &BandSums| s.energy.iter().chain([&s.centroid, &s.hf]).map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b));
        }
    }

    #[test]
    fn edges_run_from_one_over_the_short_side_to_one_half() {
        for spacing in [Spacing::Log, Spacing::Linear] {
            let e = band_edges(64, 100, 8, spacing);
            assert_eq!(e.len(), 9);
            assert_eq!(e[0], 1.0 / 64.0);
            assert_eq!(e[8], 0.5);
            assert!(e.windows(2).all(|p| p[0] < p[1]));
        }
    }

    #[test]
    fn runs_reproduce_the_lut_and_the_naive_accumulation() {
        for &(h, w, bands, spacing) in &[
            (8, 8, 3, Spacing::Log),
            (9, 13, 32, Spacing::Log),
            (40, 17, 7, Spacing::Linear),
            (16, 64, 254, Spacing::Log),
        ] {
            let table = BandTable::new(h, w, bands, spacing);
            let lut = band_lut(h, w, &table.edges);
            let spectrum: Vec<Complex<f64>> =
                (0..lut.len()).map(|i| Complex::new(((i * 31) % 17) as f64 - 8.0, ((i * 7) % 5) as f64)).collect();
            let (mut naive, mut counts) = (vec![0.0; bands + 2], vec![0.0; bands + 2]);
            let (mut naive_c, mut naive_hf) = (0.0, 0.0);
            for (i, (&s, z)) in lut.iter().zip(&spectrum).enumerate() {
                let (kx, ky) = (i / h, i % h);
                let wgt = column_weight(kx, w);
                let fx = kx as f64 / w as f64;
                let r = (freq_y(ky, h).powi(2) + fx * fx).sqrt();
                naive[s as usize] += wgt * z.norm_sqr();
                counts[s as usize] += wgt;
                if (s as usize) <= bands {
                    naive_c += wgt * z.norm_sqr() * r;
                    if r > HF_CUTOFF {
                        naive_hf += wgt * z.norm_sqr();
                    }
                }
            }
            let mut energy = vec![f64::NAN; bands + 1];
            let (c, hf) = table.accumulate(&spectrum, &mut energy);
            for s in 0..=bands {
                assert!((energy[s] - naive[s]).abs() <= 1e-12 * naive[s].abs().max(1.0));
                assert_eq!(table.counts[s], counts[s]);
            }
            assert!((c - naive_c).abs() <= 1e-12 * naive_c.abs().max(1.0));
            assert!((hf - naive_hf).abs() <= 1e-12 * naive_hf.abs().max(1.0));
        }
    }

    #[test]
    fn all_coefficients_are_counted_once_across_slots() {
        // Weighted counts over every slot, corners included, equal H * W (the full spectrum).
        for &(h, w) in &[(8, 8), (9, 12), (31, 17)] {
            let edges = band_edges(h, w, 5, Spacing::Log);
            let lut = band_lut(h, w, &edges);
            let total: f64 = lut.iter().enumerate().map(|(i, _)| column_weight(i / h, w)).sum();
            assert_eq!(total, (h * w) as f64);
        }
    }

    #[test]
    fn radius_one_half_goes_to_the_last_band() {
        let edges = band_edges(8, 8, 4, Spacing::Log);
        assert_eq!(slot(0.5, &edges), 4);
        assert_eq!(slot(0.500001, &edges), 5);
        assert_eq!(slot(0.0, &edges), 0);
        assert_eq!(slot(edges[1], &edges), 2);
    }
}
