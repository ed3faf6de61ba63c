//! `peak_max` / `peak_freq` (narrow spectral peaks: grid lines, stripes) and
//! `axis_mid` / `axis_high` (energy on the frequency axes) from the power
//! spectrum of the Hann-windowed, mean-removed native image.
//!
//! The spectrum is cut into cells: quarter-octave rings of radial frequency
//! times eight angular sectors (`spectral_fast.profiling.artefacts_oracle`
//! has the definition). Per image each cell keeps its power sum and its
//! largest power with where it is, so a peak is measured against the median
//! sector mean of its ring. Which cell a coefficient falls in depends only on
//! the grid, so a cached [`RingTable`] holds it run-length encoded along each
//! spectrum row: a row of 1024 coefficients crosses about 60 cells, and a run
//! is summed and maximised in registers (why a per-coefficient scatter into
//! rings was replaced: `docs/benchmarks.md#artefact-feature-cost`).

use std::sync::{Arc, LazyLock};

use crate::bands::freq_y;
use crate::cache::ShapeCache;
use crate::fft2::grow;

/// Peaks below this radial frequency (cycles/pixel) are anatomy, not artefacts.
pub const PEAK_MIN_FREQ: f64 = 0.02;
/// `peak_max` when a ring's background power is 0 but a peak is not.
const PEAK_INFINITE: f64 = 12.0;
/// Rings per octave of radial frequency; ring edges are `0.5 * 2^(-j / 4)`.
const RINGS_PER_OCTAVE: i32 = 4;
/// Angular sectors per ring (of the half plane `kx >= 0`).
pub const SECTORS: usize = 8;
/// Sector boundaries as slopes `fy / fx = a / b` (`b > 0`): a coefficient's
/// sector is the number of them its slope reaches. Integer comparisons, so
/// the core and numpy agree exactly.
const SLOPES: [(i64, i64); SECTORS - 1] = [(-2, 1), (-1, 1), (-1, 2), (0, 1), (1, 2), (1, 1), (2, 1)];

/// Axis features: `1/8 <= r < 1/4` (mid) and `1/4 <= r <= 1/2` (high).
const MID: (f64, f64) = (0.125, 0.25);

/// Ring edges from [`PEAK_MIN_FREQ`] to 0.5, ascending: `PEAK_MIN_FREQ`, then
/// `0.5 * 2^(-j / 4)` for `j = J .. 0` (the largest `J` above `PEAK_MIN_FREQ`).
/// 0.125 and 0.25 are edges, so the axis bands are whole rings.
pub fn ring_edges() -> Vec<f64> {
    let top = (f64::from(RINGS_PER_OCTAVE) * (0.5 / PEAK_MIN_FREQ).log2()).floor() as i32;
    let mut edges = vec![PEAK_MIN_FREQ];
    edges.extend((0..=top).rev().map(|j| 0.5 * 2f64.powf(-f64::from(j) / f64::from(RINGS_PER_OCTAVE))));
    edges
}

/// A run of coefficients `start..end` of one spectrum row, all in `cell`, all
/// on or all off the frequency axes.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: u32,
    end: u32,
    cell: u16,
    on_axis: bool,
}

/// The cells of one `height x width` grid.
pub struct RingTable {
    pub height: usize,
    pub width: usize,
    rings: usize,
    runs: Vec<Run>,
    /// Runs of spectrum row `kx` are `runs[row_start[kx]..row_start[kx + 1]]`.
    row_start: Vec<usize>,
    /// Coefficients per cell, `[off axis, on axis]`.
    counts: Vec<[usize; 2]>,
    /// Index of the first mid and the first high ring, and the number of rings.
    mid: usize,
    high: usize,
}

/// 64 tables or 64 MiB (a 1024^2 table holds about 0.5 MB).
static TABLES: LazyLock<ShapeCache<(usize, usize), RingTable>> =
    LazyLock::new(|| ShapeCache::new(64, 64 << 20, RingTable::heap_bytes));

/// The shared cell table of a grid (cached).
pub fn ring_table(height: usize, width: usize) -> Arc<RingTable> {
    TABLES
        .get_or_build(&(height, width), || Ok::<_, std::convert::Infallible>(RingTable::new(height, width)))
        .unwrap_or_else(|never| match never {})
}

/// Sector of the coefficient at signed `ky`, `kx >= 0` of an `h x w` grid.
fn sector(ky: i64, kx: i64, h: i64, w: i64) -> usize {
    SLOPES.iter().filter(|&&(a, b)| ky * w * b >= a * kx * h).count()
}

impl RingTable {
    fn new(height: usize, width: usize) -> Self {
        let edges = ring_edges();
        let rings = edges.len() - 1;
        let half = width / 2 + 1;
        let (h, w) = (height as i64, width as i64);
        let mut runs: Vec<Run> = Vec::new();
        let mut row_start = Vec::with_capacity(half + 1);
        let mut counts = vec![[0usize; 2]; rings * SECTORS];
        for kx in 0..half {
            row_start.push(runs.len());
            let fx = kx as f64 / width as f64;
            for i in 0..height {
                let fy = freq_y(i, height);
                // The expression of `oracle.radial_frequency`, bit for bit.
                let r = (fy * fy + fx * fx).sqrt();
                if !(PEAK_MIN_FREQ..=0.5).contains(&r) {
                    continue;
                }
                let ring = if r == 0.5 { rings - 1 } else { edges.partition_point(|&e| e <= r) - 1 };
                let ky = if i >= height.div_ceil(2) { i as i64 - h } else { i as i64 };
                let cell = (ring * SECTORS + sector(ky, kx as i64, h, w)) as u16;
                let on_axis = ky.abs() <= 1 || kx <= 1;
                counts[cell as usize][usize::from(on_axis)] += 1;
                let row_runs = &mut runs[row_start[kx]..];
                match row_runs.last_mut() {
                    Some(run) if run.end as usize == i && run.cell == cell && run.on_axis == on_axis => run.end += 1,
                    _ => runs.push(Run { start: i as u32, end: i as u32 + 1, cell, on_axis }),
                }
            }
        }
        row_start.push(runs.len());
        let first_at = |f: f64| edges.partition_point(|&e| e < f);
        RingTable { height, width, rings, runs, row_start, counts, mid: first_at(MID.0), high: first_at(MID.1) }
    }

    fn heap_bytes(&self) -> usize {
        self.runs.len() * std::mem::size_of::<Run>() + self.row_start.len() * 8 + self.counts.len() * 16
    }

    fn cells(&self) -> usize {
        self.rings * SECTORS
    }

    /// Radial frequency of spectrum position `pos` (`kx * height + ky index`).
    fn radius(&self, pos: u32) -> f64 {
        let (kx, i) = (pos as usize / self.height, pos as usize % self.height);
        let fy = freq_y(i, self.height);
        let fx = kx as f64 / self.width as f64;
        (fy * fy + fx * fx).sqrt()
    }
}

/// Per-image running state of the cells, reused between images.
#[derive(Default)]
pub(super) struct CellSums {
    /// Sum of the powers per cell, `[off axis, on axis]`.
    sums: Vec<[f64; 2]>,
    /// Largest power per cell and its spectrum position, the first in memory order.
    max: Vec<(f64, u32)>,
}

/// Make `acc` ready for [`accumulate`] on table `t`.
pub(super) fn prepare(t: &RingTable, acc: &mut CellSums) -> Result<(), std::collections::TryReserveError> {
    let n = t.cells();
    grow(&mut acc.sums, n, [0.0; 2])?;
    grow(&mut acc.max, n, (0.0, u32::MAX))?;
    acc.sums[..n].fill([0.0; 2]);
    acc.max[..n].fill((0.0, u32::MAX));
    Ok(())
}

/// Largest power and sum of the powers of one run, in four lanes (a fixed
/// order, so thread-independent; vectorises). Powers are non-negative and
/// not NaN (a non-finite spectrum fails the profile first).
#[inline(always)]
fn run_max_sum(p: &[f64]) -> (f64, f64) {
    let (mut m, mut s) = ([0.0f64; 4], [0.0f64; 4]);
    let chunks = p.chunks_exact(4);
    let (mut tm, mut ts) = (0.0f64, 0.0);
    for &v in chunks.remainder() {
        tm = if v > tm { v } else { tm };
        ts += v;
    }
    for c in chunks {
        for l in 0..4 {
            m[l] = if c[l] > m[l] { c[l] } else { m[l] };
            s[l] += c[l];
        }
    }
    (m[0].max(m[1]).max(m[2].max(m[3])).max(tm), (s[0] + s[1]) + (s[2] + s[3]) + ts)
}

crate::simd::avx2_dispatch! {
    /// Add spectrum row `kx` to the cells, given its powers `|z|^2` (`height`
    /// long; only positions with `0.02 <= r <= 0.5` are read). Every row must
    /// pass once, in ascending order, before [`features`].
    pub(super) fn accumulate_row(kx: usize, powers: &[f64], t: &RingTable, acc: &mut CellSums) = accumulate_row_body;
}

#[inline(always)]
fn accumulate_row_body(kx: usize, powers: &[f64], t: &RingTable, acc: &mut CellSums) {
    let h = t.height;
    for run in &t.runs[t.row_start[kx]..t.row_start[kx + 1]] {
        let (s, e) = (run.start as usize, run.end as usize);
        let (m, sum) = run_max_sum(&powers[s..e]);
        let c = run.cell as usize;
        acc.sums[c][usize::from(run.on_axis)] += sum;
        // Strictly larger: the earliest position keeps a tie.
        if m > acc.max[c].0 || acc.max[c].1 == u32::MAX {
            let at = powers[s..e].iter().position(|&p| p == m).unwrap_or(0);
            acc.max[c] = (m, (kx * h + s + at) as u32);
        }
    }
}

/// `(peak_max, peak_freq, axis_mid, axis_high)` from the cells of a whole spectrum.
pub(super) fn features(t: &RingTable, acc: &CellSums) -> (f64, f64, f64, f64) {
    let mean = |c: usize| {
        let n = t.counts[c][0] + t.counts[c][1];
        (n > 0).then(|| (acc.sums[c][0] + acc.sums[c][1]) / n as f64)
    };
    // The peak: the cell maximum with the largest ratio to its ring's
    // background (the upper median of its sectors' mean powers); on a tie the
    // earliest in memory order.
    let (mut best, mut best_pos) = (f64::NEG_INFINITY, None::<u32>);
    let mut means = [0.0f64; SECTORS];
    for q in 0..t.rings {
        let cells = q * SECTORS..(q + 1) * SECTORS;
        let mut k = 0;
        for c in cells.clone() {
            if let Some(m) = mean(c) {
                means[k] = m;
                k += 1;
            }
        }
        if k == 0 {
            continue;
        }
        means[..k].sort_unstable_by(f64::total_cmp);
        let background = means[k / 2];
        for c in cells {
            let (p, pos) = acc.max[c];
            if pos == u32::MAX {
                continue; // no coefficient in this cell
            }
            let ratio = if background > 0.0 {
                p / background
            } else if p > 0.0 {
                f64::INFINITY
            } else {
                1.0
            };
            if ratio > best || (ratio == best && best_pos.is_some_and(|b| pos < b)) {
                (best, best_pos) = (ratio, Some(pos));
            }
        }
    }
    let (peak_max, peak_freq) = match best_pos {
        Some(pos) => (if best.is_finite() { best.log10() } else { PEAK_INFINITE }, t.radius(pos)),
        None => (f64::NAN, f64::NAN),
    };
    let axis = |rings: std::ops::Range<usize>| {
        let (mut s, mut n) = ([0.0f64; 2], [0usize; 2]);
        for c in rings.start * SECTORS..rings.end * SECTORS {
            for a in 0..2 {
                s[a] += acc.sums[c][a];
                n[a] += t.counts[c][a];
            }
        }
        if n[0] == 0 || n[1] == 0 {
            return 0.0; // no coefficients there (tiny image): neutral
        }
        let (m_off, m_on) = (s[0] / n[0] as f64, s[1] / n[1] as f64);
        if m_on <= 0.0 || m_off <= 0.0 {
            0.0
        } else {
            (m_on / m_off).log10()
        }
    };
    (peak_max, peak_freq, axis(t.mid..t.high), axis(t.high..t.rings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustfft::num_complex::Complex;

    /// The definition, written out over the transposed half spectrum: the cell
    /// of each coefficient, the ring background as the upper median of the
    /// sector means, the largest ratio of a cell maximum, earliest first.
    fn naive(spectrum: &[Complex<f64>], h: usize, w: usize) -> (f64, f64, f64, f64) {
        let edges = ring_edges();
        let rings = edges.len() - 1;
        let mut cells: Vec<Vec<(usize, f64, bool)>> = vec![Vec::new(); rings * SECTORS]; // (pos, power, on axis)
        for kx in 0..w / 2 + 1 {
            for i in 0..h {
                let (fy, fx) = (freq_y(i, h), kx as f64 / w as f64);
                let r = (fy * fy + fx * fx).sqrt();
                if !(PEAK_MIN_FREQ..=0.5).contains(&r) {
                    continue;
                }
                let ring = (0..rings).find(|&q| r >= edges[q] && (r < edges[q + 1] || q == rings - 1)).unwrap();
                let ky = if i >= h.div_ceil(2) { i as i64 - h as i64 } else { i as i64 };
                let s = sector(ky, kx as i64, h as i64, w as i64);
                let pos = kx * h + i;
                cells[ring * SECTORS + s].push((pos, spectrum[pos].norm_sqr(), ky.abs() <= 1 || kx <= 1));
            }
        }
        let (mut best, mut at) = (f64::NEG_INFINITY, usize::MAX);
        for q in 0..rings {
            let mut means: Vec<f64> = (0..SECTORS)
                .map(|s| &cells[q * SECTORS + s])
                .filter(|c| !c.is_empty())
                .map(|c| c.iter().map(|e| e.1).sum::<f64>() / c.len() as f64)
                .collect();
            if means.is_empty() {
                continue;
            }
            means.sort_by(f64::total_cmp);
            let bg = means[means.len() / 2];
            for s in 0..SECTORS {
                // The cell's largest power, the first in memory order.
                let Some(&(pos, p, _)) = cells[q * SECTORS + s].iter().rev().max_by(|a, b| a.1.total_cmp(&b.1)) else {
                    continue;
                };
                let ratio = if bg > 0.0 {
                    p / bg
                } else if p > 0.0 {
                    f64::INFINITY
                } else {
                    1.0
                };
                if ratio > best || (ratio == best && pos < at) {
                    (best, at) = (ratio, pos);
                }
            }
        }
        let t = RingTable::new(h, w);
        let axis = |lo: f64, hi: f64| {
            let (mut s, mut n) = ([0.0; 2], [0usize; 2]);
            for c in cells.iter().flatten() {
                let r = t.radius(c.0 as u32);
                if r >= lo && (r < hi || (hi == 0.5 && r <= hi)) {
                    s[usize::from(c.2)] += c.1;
                    n[usize::from(c.2)] += 1;
                }
            }
            if n[0] == 0 || n[1] == 0 || s[0] <= 0.0 || s[1] <= 0.0 {
                0.0
            } else {
                ((s[1] / n[1] as f64) / (s[0] / n[0] as f64)).log10()
            }
        };
        let peak = if best.is_finite() { best.log10() } else { PEAK_INFINITE };
        (peak, t.radius(at as u32), axis(0.125, 0.25), axis(0.25, 0.5))
    }

    fn features_of(spectrum: &[Complex<f64>], h: usize, w: usize) -> (f64, f64, f64, f64) {
        let t = ring_table(h, w);
        let mut acc = CellSums::default();
        prepare(&t, &mut acc).unwrap();
        for (kx, column) in spectrum.chunks(h).enumerate() {
            let powers: Vec<f64> = column.iter().map(|z| z.norm_sqr()).collect();
            accumulate_row(kx, &powers, &t, &mut acc);
        }
        features(&t, &acc)
    }

    #[test]
    fn the_avx2_copy_of_the_cell_pass_gives_the_same_bits() {
        let (h, w) = (131, 90);
        let t = RingTable::new(h, w);
        let (mut a, mut b) = (CellSums::default(), CellSums::default());
        prepare(&t, &mut a).unwrap();
        prepare(&t, &mut b).unwrap();
        for kx in 0..w / 2 + 1 {
            let powers: Vec<f64> = (0..h).map(|i| ((i * 31 + kx * 17) % 101) as f64 * 0.37).collect();
            accumulate_row(kx, &powers, &t, &mut a);
            accumulate_row_body(kx, &powers, &t, &mut b);
        }
        assert_eq!(features(&t, &a), features(&t, &b));
        assert!(a
            .sums
            .iter()
            .zip(&b.sums)
            .all(|(x, y)| x[0].to_bits() == y[0].to_bits() && x[1].to_bits() == y[1].to_bits()));
    }

    #[test]
    fn ring_edges_hold_the_axis_bands() {
        let e = ring_edges();
        assert_eq!((e[0], *e.last().unwrap()), (PEAK_MIN_FREQ, 0.5));
        assert!(e.contains(&0.125) && e.contains(&0.25));
        assert!(e.windows(2).all(|p| p[0] < p[1]));
    }

    #[test]
    fn cell_runs_match_the_definition() {
        let mut s = 99u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        for &(h, w) in &[(64, 64), (50, 71), (97, 40), (8, 9)] {
            let half = w / 2 + 1;
            let noise: Vec<Complex<f64>> = (0..h * half).map(|_| Complex::new(next() - 0.5, next() - 0.5)).collect();
            // Ties: every power equal to a few values, and a spectrum mostly of zeros.
            let ties: Vec<Complex<f64>> = (0..h * half).map(|i| Complex::new(((i * 7) % 3) as f64, 0.0)).collect();
            let mut zeros = vec![Complex::new(0.0, 0.0); h * half];
            zeros[3 * h + 3] = Complex::new(2.0, 0.0);
            zeros[4 * h + 1] = Complex::new(0.5, 0.0);
            for spectrum in [&noise, &ties, &zeros] {
                let got = features_of(spectrum, h, w);
                let want = naive(spectrum, h, w);
                // Sums are taken in another order: peak_max to rounding, its position exactly.
                assert!((got.0 - want.0).abs() <= 1e-12, "{h}x{w} peak_max {got:?} {want:?}");
                assert_eq!(got.1.to_bits(), want.1.to_bits(), "{h}x{w} peak_freq");
                for (g, v) in [(got.2, want.2), (got.3, want.3)] {
                    assert!((g - v).abs() <= 1e-12 * v.abs().max(1.0), "{h}x{w} axis {g} {v}");
                }
            }
        }
    }
}
