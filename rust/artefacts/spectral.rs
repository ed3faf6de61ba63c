//! `peak_max` / `peak_freq` (narrow spectral peaks: grid lines, stripes) and
//! `axis_mid` / `axis_high` (energy on the frequency axes) from the power
//! spectrum of the Hann-windowed, mean-removed native image.
//!
//! Which coefficients form each ring, and which are on an axis, depends only
//! on the grid, so it is a cached [`RingTable`]; per image the powers are
//! gathered ring by ring and each ring's upper median is found by selection
//! (linear time) rather than the reference's full sort.

use std::sync::{Arc, LazyLock};

use rustfft::num_complex::Complex;

use crate::bands::freq_y;
use crate::cache::ShapeCache;
use crate::fft2::grow;

/// Peaks below this radial frequency (cycles/pixel) are anatomy, not artefacts.
const PEAK_MIN_FREQ: f64 = 0.02;
/// `peak_max` when a ring's median power is 0 but a peak is not.
const PEAK_INFINITE: f64 = 12.0;

/// Band class of a coefficient for the axis features.
const NONE: u8 = 0;
const MID_ON: u8 = 1;
const MID_OFF: u8 = 2;
const HIGH_ON: u8 = 3;
const HIGH_OFF: u8 = 4;

/// The rings of one `height x width` grid (see `spectral_fast.artefacts.spectral_artefacts`).
pub struct RingTable {
    pub height: usize,
    pub width: usize,
    /// Spectrum positions (`kx * height + ky`, the layout of `Grid::forward`)
    /// of the coefficients with `0.02 <= r <= 0.5`, ring by ring, then by axis
    /// class, then by position.
    order: Vec<u32>,
    /// Ring `q` is `order[ring_start[q]..ring_start[q + 1]]`.
    ring_start: Vec<usize>,
    /// For every spectrum position: where its power goes in the ring-ordered
    /// buffer (`order.len()`, a spare slot, if outside `0.02 <= r <= 0.5`).
    /// The spectrum is read in memory order and scattered into rings: reading
    /// it in ring order instead jumps between cache lines at every step.
    dest: Vec<u32>,
    /// Runs of `order` of one ring and axis class (`(class, start, end)`).
    runs: Vec<(u8, usize, usize)>,
    /// Ring `q` is covered by `runs[ring_runs[q]..ring_runs[q + 1]]`.
    ring_runs: Vec<usize>,
    /// Number of coefficients of each class.
    counts: [usize; 5],
}

/// 64 tables or 256 MiB (about 5 bytes per coefficient: 2.6 MB at 1024^2).
static RINGS: LazyLock<ShapeCache<(usize, usize), RingTable>> =
    LazyLock::new(|| ShapeCache::new(64, 256 << 20, RingTable::heap_bytes));

/// The shared ring table of a grid (cached).
pub fn ring_table(height: usize, width: usize) -> Arc<RingTable> {
    RINGS
        .get_or_build(&(height, width), || Ok::<_, std::convert::Infallible>(RingTable::new(height, width)))
        .unwrap_or_else(|never| match never {})
}

impl RingTable {
    fn new(height: usize, width: usize) -> Self {
        let half = width / 2 + 1;
        let n = height.min(width) as f64;
        let mut entries: Vec<(usize, u32, u8)> = Vec::new();
        for i in 0..height {
            let fy = freq_y(i, height);
            // Signed ky of -1, 0 or 1.
            let on_axis_y = i <= 1 || i == height - 1;
            for kx in 0..half {
                let fx = kx as f64 / width as f64;
                // The expression of `reference.radial_frequency`, bit for bit.
                let r = (fy * fy + fx * fx).sqrt();
                if !(PEAK_MIN_FREQ..=0.5).contains(&r) {
                    continue;
                }
                let on_axis = on_axis_y || kx <= 1;
                let class = match ((0.125..0.25).contains(&r), r >= 0.25, on_axis) {
                    (true, _, true) => MID_ON,
                    (true, _, false) => MID_OFF,
                    (_, true, true) => HIGH_ON,
                    (_, true, false) => HIGH_OFF,
                    _ => NONE,
                };
                let ring = (r * n).round_ties_even() as usize;
                entries.push((ring, (kx * height + i) as u32, class));
            }
        }
        // By ring, then axis class (the axis sums run over contiguous slices),
        // then spectrum position: the per-image scatter in memory order then
        // writes each (ring, class) group sequentially, a few hundred streams
        // that stay in cache, instead of jumping between cache lines at every
        // coefficient. numpy's first-maximum rule (row-major order among equal
        // powers) is applied explicitly in `features`.
        entries.sort_unstable_by_key(|e| (e.0, e.2, e.1));
        let rings = entries.last().map_or(0, |e| e.0 + 1);
        let mut ring_start = vec![0; rings + 1];
        for e in &entries {
            ring_start[e.0 + 1] += 1;
        }
        for q in 0..rings {
            ring_start[q + 1] += ring_start[q];
        }
        let mut counts = [0; 5];
        let mut dest = vec![entries.len() as u32; half * height];
        // Runs of one ring and axis class: (class, start, end) in ring order.
        let mut runs: Vec<(u8, usize, usize)> = Vec::new();
        let mut ring_runs = vec![0; rings + 1];
        for (k, e) in entries.iter().enumerate() {
            counts[e.2 as usize] += 1;
            dest[e.1 as usize] = k as u32;
            match runs.last_mut() {
                Some(run) if run.0 == e.2 && k > ring_start[e.0] => run.2 = k + 1,
                _ => {
                    runs.push((e.2, k, k + 1));
                    ring_runs[e.0 + 1] = runs.len();
                }
            }
        }
        for q in 0..rings {
            ring_runs[q + 1] = ring_runs[q + 1].max(ring_runs[q]);
        }
        let order = entries.iter().map(|e| e.1).collect();
        RingTable { height, width, order, ring_start, dest, runs, ring_runs, counts }
    }

    fn heap_bytes(&self) -> usize {
        self.order.len() * 4 + self.dest.len() * 4 + self.ring_start.len() * 16 + self.runs.len() * 24
    }

    /// Index `k` of the first of `ring[k] == value` in numpy's row-major
    /// order, i.e. smallest `(ky index, kx)` of `pos[k]`: numpy's stable sort
    /// by ring then power keeps that order among equal powers.
    fn first_in_numpy_order(&self, ring: &[u64], pos: &[u32], value: u64) -> usize {
        let key = |k: usize| {
            let p = pos[k] as usize;
            (p % self.height, p / self.height)
        };
        let mut best: Option<usize> = None;
        for (k, _) in ring.iter().enumerate().filter(|(_, &p)| p == value) {
            if best.is_none_or(|b| key(k) < key(b)) {
                best = Some(k);
            }
        }
        best.unwrap_or(0)
    }

    /// Radial frequency of spectrum position `pos`.
    fn radius(&self, pos: u32) -> f64 {
        let (kx, i) = (pos as usize / self.height, pos as usize % self.height);
        let fy = freq_y(i, self.height);
        let fx = kx as f64 / self.width as f64;
        (fy * fy + fx * fx).sqrt()
    }
}

/// Largest and sum of non-negative f64 bit patterns, in four lanes (a fixed
/// order, so thread-independent; vectorises).
fn max_and_sum(v: &[u64]) -> (u64, f64) {
    let (mut m, mut s) = ([0u64; 4], [0.0f64; 4]);
    let chunks = v.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..4 {
            m[l] = m[l].max(c[l]);
            s[l] += f64::from_bits(c[l]);
        }
    }
    let tail_max = tail.iter().copied().max().unwrap_or(0);
    let tail_sum: f64 = tail.iter().map(|&p| f64::from_bits(p)).sum();
    (m[0].max(m[1]).max(m[2].max(m[3])).max(tail_max), (s[0] + s[1]) + (s[2] + s[3]) + tail_sum)
}

/// How many of the f64 bit patterns are below `thr` (vectorises).
fn count_below(v: &[u64], thr: f64) -> usize {
    v.iter().map(|&p| usize::from(f64::from_bits(p) < thr)).sum()
}

/// Make `powers` ready for [`scatter`] on table `t`.
pub(super) fn prepare(t: &RingTable, powers: &mut Vec<u64>) -> Result<(), std::collections::TryReserveError> {
    grow(powers, t.order.len() + 1, 0)
}

/// Write the powers of spectrum rows `kx0 ..` (`columns`, `height` each) into
/// their ring slots of `powers` (after [`prepare`]). Positions outside the
/// rings go to the spare last slot: no branch in the loop.
pub(super) fn scatter(kx0: usize, columns: &[Complex<f64>], t: &RingTable, powers: &mut [u64]) {
    let start = kx0 * t.height;
    scatter_powers(columns, &t.dest[start..start + columns.len()], &mut powers[..=t.order.len()]);
}

crate::simd::avx2_dispatch! {
    /// `powers[dest[i]] = |columns[i]|^2` (as bits); every `dest` is at most
    /// `powers.len() - 1`, the spare slot.
    fn scatter_powers(columns: &[Complex<f64>], dest: &[u32], powers: &mut [u64]) = scatter_powers_body;
}

#[inline(always)]
fn scatter_powers_body(columns: &[Complex<f64>], dest: &[u32], powers: &mut [u64]) {
    // The clamp is a no-op on a valid table and lets the compiler drop the
    // bounds check from the loop.
    let spare = powers.len() - 1;
    for (z, &d) in columns.iter().zip(dest) {
        powers[(d as usize).min(spare)] = z.norm_sqr().to_bits();
    }
}

/// `(peak_max, peak_freq, axis_mid, axis_high)` of a transposed half spectrum
/// whose powers [`scatter`] has put into `powers`.
///
/// Powers are handled as the bits of non-negative f64, whose integer order is
/// their numeric order: comparisons and selection on `u64` are cheaper.
pub(super) fn features(
    spectrum: &[Complex<f64>],
    t: &RingTable,
    powers: &mut [u64],
    candidates: &mut Vec<(f64, u32, u64)>,
) -> Result<(f64, f64, f64, f64), std::collections::TryReserveError> {
    candidates.try_reserve(t.ring_start.len())?;
    let n = t.order.len();
    let powers = &mut powers[..n];
    let mut sums = [0.0f64; 5];

    // numpy: argmax over every coefficient of p / (its ring's upper median),
    // sorted by ring then power; the first maximum wins. That is the largest
    // ring ratio max / median, the lowest ring on ties, whatever order the
    // rings are visited in. They are visited most promising first (max over
    // mean), and a ring whose median is provably too large to win is skipped
    // after one counting pass instead of a selection.
    candidates.clear();
    for q in 0..t.ring_start.len() - 1 {
        let len = t.ring_start[q + 1] - t.ring_start[q];
        if len == 0 {
            continue;
        }
        // One pass per ring, run by run: its max and sum, and the axis sums.
        let (mut max, mut sum) = (0u64, 0.0);
        for &(c, a, b) in &t.runs[t.ring_runs[q]..t.ring_runs[q + 1]] {
            let (m, s) = max_and_sum(&powers[a..b]);
            (max, sum) = (max.max(m), sum + s);
            sums[c as usize] += s;
        }
        let ring = &powers[t.ring_start[q]..t.ring_start[q + 1]];
        let promise = if sum > 0.0 { f64::from_bits(max) * ring.len() as f64 / sum } else { f64::INFINITY };
        candidates.push((promise, q as u32, max));
    }
    candidates.sort_unstable_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let (mut best, mut best_q, mut best_pos) = (f64::NEG_INFINITY, usize::MAX, None);
    for &(_, q, max) in candidates.iter() {
        let q = q as usize;
        let (a, b) = (t.ring_start[q], t.ring_start[q + 1]);
        let ring = &mut powers[a..b];
        let pos = &t.order[a..b];
        let upper = ring.len() / 2;
        if best.is_finite() && best > 0.0 && max > 0 {
            // median >= thr gives max / median < best, even once rounded.
            let thr = f64::from_bits(max) / best * (1.0 + 1e-9);
            if count_below(ring, thr) <= upper {
                continue;
            }
        }
        // Located before selection reorders the ring (`pos` is not reordered).
        let max_at = t.first_in_numpy_order(ring, pos, max);
        let median = f64::from_bits(*ring.select_nth_unstable(upper).1);
        let (ratio, at) = if median > 0.0 {
            (f64::from_bits(max) / median, max_at)
        } else if max > 0 {
            // Every positive power is an infinite ratio: numpy's argmax takes
            // the first in its sort, the smallest positive power. Rare (a ring
            // mostly of zeros), so the ring is gathered again in table order.
            for (p, &q) in ring.iter_mut().zip(pos) {
                *p = spectrum[q as usize].norm_sqr().to_bits();
            }
            let min_pos = ring.iter().copied().filter(|&p| p > 0).min().unwrap_or(max);
            (f64::INFINITY, t.first_in_numpy_order(ring, pos, min_pos))
        } else {
            (1.0, t.first_in_numpy_order(ring, pos, 0))
        };
        if ratio > best || (ratio == best && q < best_q) {
            (best, best_q, best_pos) = (ratio, q, Some(t.order[a + at]));
        }
    }
    let (peak_max, peak_freq) = match best_pos {
        Some(pos) => (if best.is_finite() { best.log10() } else { PEAK_INFINITE }, t.radius(pos)),
        None => (f64::NAN, f64::NAN),
    };
    let axis = |on: u8, off: u8| {
        let (n_on, n_off) = (t.counts[on as usize], t.counts[off as usize]);
        if n_on == 0 || n_off == 0 {
            return 0.0; // no coefficients there (tiny image): neutral
        }
        let (m_on, m_off) = (sums[on as usize] / n_on as f64, sums[off as usize] / n_off as f64);
        if m_on <= 0.0 || m_off <= 0.0 {
            0.0
        } else {
            (m_on / m_off).log10()
        }
    };
    Ok((peak_max, peak_freq, axis(MID_ON, MID_OFF), axis(HIGH_ON, HIGH_OFF)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numpy's definition, step by step: stable sort by ring then power,
    /// upper median per ring, first maximum of the ratio.
    fn naive_peak(spectrum: &[Complex<f64>], h: usize, w: usize) -> (f64, f64) {
        let half = w / 2 + 1;
        let n = h.min(w) as f64;
        let mut v: Vec<(usize, f64, f64)> = Vec::new(); // (ring, power, r), row-major
        for i in 0..h {
            for kx in 0..half {
                let (fy, fx) = (freq_y(i, h), kx as f64 / w as f64);
                let r = (fy * fy + fx * fx).sqrt();
                if (PEAK_MIN_FREQ..=0.5).contains(&r) {
                    v.push(((r * n).round_ties_even() as usize, spectrum[kx * h + i].norm_sqr(), r));
                }
            }
        }
        v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let (mut best, mut at) = (f64::NEG_INFINITY, 0);
        let mut a = 0;
        while a < v.len() {
            let b = a + v[a..].iter().take_while(|e| e.0 == v[a].0).count();
            let median = v[(a + b) / 2].1;
            for (k, e) in v.iter().enumerate().take(b).skip(a) {
                let ratio = if median > 0.0 {
                    e.1 / median
                } else if e.1 > 0.0 {
                    f64::INFINITY
                } else {
                    1.0
                };
                if ratio > best {
                    (best, at) = (ratio, k);
                }
            }
            a = b;
        }
        (if best.is_finite() { best.log10() } else { PEAK_INFINITE }, v[at].2)
    }

    fn features_of(spectrum: &[Complex<f64>], h: usize, w: usize) -> (f64, f64, f64, f64) {
        let t = ring_table(h, w);
        let (mut powers, mut candidates) = (Vec::new(), Vec::new());
        prepare(&t, &mut powers).unwrap();
        for (j, cols) in spectrum.chunks(3 * h).enumerate() {
            scatter(3 * j, cols, &t, &mut powers);
        }
        features(spectrum, &t, &mut powers, &mut candidates).unwrap()
    }

    #[test]
    fn pruned_selection_matches_numpys_definition_bit_for_bit() {
        let mut s = 99u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        for &(h, w) in &[(64, 64), (50, 71), (97, 40)] {
            let half = w / 2 + 1;
            let noise: Vec<Complex<f64>> = (0..h * half).map(|_| Complex::new(next() - 0.5, next() - 0.5)).collect();
            // Ties: every power equal to a few values, and a ring mostly of zeros.
            let ties: Vec<Complex<f64>> = (0..h * half).map(|i| Complex::new(((i * 7) % 3) as f64, 0.0)).collect();
            let mut zeros = vec![Complex::new(0.0, 0.0); h * half];
            zeros[5 * h + 3] = Complex::new(2.0, 0.0);
            zeros[9 * h + 1] = Complex::new(0.5, 0.0);
            for spectrum in [&noise, &ties, &zeros] {
                let (peak_max, peak_freq, _, _) = features_of(spectrum, h, w);
                let (want_max, want_freq) = naive_peak(spectrum, h, w);
                assert_eq!(peak_max.to_bits(), want_max.to_bits(), "{h}x{w}");
                assert_eq!(peak_freq.to_bits(), want_freq.to_bits(), "{h}x{w}");
            }
        }
    }
}
