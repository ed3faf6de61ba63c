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
    /// class, then in numpy's row-major order (first-maximum ties resolve as numpy's do).
    order: Vec<u32>,
    /// Ring `q` is `order[ring_start[q]..ring_start[q + 1]]`.
    ring_start: Vec<usize>,
    /// For every spectrum position: where its power goes in the ring-ordered
    /// buffer (`u32::MAX` if outside `0.02 <= r <= 0.5`).
    /// The spectrum is read in memory order and scattered into rings: reading
    /// it in ring order instead jumps between cache lines at every step.
    dest: Vec<u32>,
    /// Runs of `order` of one axis class (`(class, start, end)`), NONE left out.
    runs: Vec<(u8, usize, usize)>,
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
        // Stable: within a ring and class, numpy's row-major order is kept.
        // (Grouping a ring by class lets the axis sums run over contiguous
        // slices; it reorders only coefficients of different classes, whose
        // powers would have to be bit-identical for numpy's first-maximum
        // rule to tell them apart.)
        entries.sort_by_key(|e| (e.0, e.2));
        let rings = entries.last().map_or(0, |e| e.0 + 1);
        let mut ring_start = vec![0; rings + 1];
        for e in &entries {
            ring_start[e.0 + 1] += 1;
        }
        for q in 0..rings {
            ring_start[q + 1] += ring_start[q];
        }
        let mut counts = [0; 5];
        let mut dest = vec![u32::MAX; half * height];
        // Runs of one axis class: (class, start, end) in ring order.
        let mut runs: Vec<(u8, usize, usize)> = Vec::new();
        for (k, e) in entries.iter().enumerate() {
            counts[e.2 as usize] += 1;
            dest[e.1 as usize] = k as u32;
            match runs.last_mut() {
                Some(run) if run.0 == e.2 => run.2 = k + 1,
                _ => runs.push((e.2, k, k + 1)),
            }
        }
        runs.retain(|r| r.0 != NONE);
        RingTable { height, width, order: entries.iter().map(|e| e.1).collect(), ring_start, dest, runs, counts }
    }

    fn heap_bytes(&self) -> usize {
        self.order.len() * 4 + self.dest.len() * 4 + self.ring_start.len() * 8 + self.runs.len() * 24
    }

    /// Radial frequency of spectrum position `pos`.
    fn radius(&self, pos: u32) -> f64 {
        let (kx, i) = (pos as usize / self.height, pos as usize % self.height);
        let fy = freq_y(i, self.height);
        let fx = kx as f64 / self.width as f64;
        (fy * fy + fx * fx).sqrt()
    }
}

/// `(peak_max, peak_freq, axis_mid, axis_high)` of a transposed half spectrum.
///
/// Powers are handled as the bits of non-negative f64, whose integer order is
/// their numeric order: comparisons and selection on `u64` are cheaper.
pub(super) fn features(
    spectrum: &[Complex<f64>],
    t: &RingTable,
    powers: &mut Vec<u64>,
) -> Result<(f64, f64, f64, f64), std::collections::TryReserveError> {
    let n = t.order.len();
    grow(powers, n, 0)?;
    let powers = &mut powers[..n];
    for (z, &d) in spectrum.iter().zip(&t.dest) {
        if d != u32::MAX {
            powers[d as usize] = z.norm_sqr().to_bits();
        }
    }
    let mut sums = [0.0f64; 5];
    for &(c, a, b) in &t.runs {
        sums[c as usize] += powers[a..b].iter().map(|&p| f64::from_bits(p)).sum::<f64>();
    }

    // numpy: argmax over every coefficient of p / (its ring's upper median),
    // sorted by ring then power; the first maximum wins.
    let (mut best, mut best_pos) = (f64::NEG_INFINITY, None);
    for q in 0..t.ring_start.len() - 1 {
        let (a, b) = (t.ring_start[q], t.ring_start[q + 1]);
        if a == b {
            continue;
        }
        let ring = &mut powers[a..b];
        // First maximum, and first smallest positive power (the first
        // infinite ratio when the median is 0), before selection reorders.
        let (mut max_at, mut minpos_at) = (0, None::<usize>);
        for (k, &p) in ring.iter().enumerate() {
            if p > ring[max_at] {
                max_at = k;
            }
            if p > 0 && minpos_at.is_none_or(|m| p < ring[m]) {
                minpos_at = Some(k);
            }
        }
        let max = f64::from_bits(ring[max_at]);
        let upper = ring.len() / 2;
        let median = f64::from_bits(*ring.select_nth_unstable(upper).1);
        let (ratio, at) = if median > 0.0 {
            (max / median, max_at)
        } else if let Some(m) = minpos_at {
            (f64::INFINITY, m)
        } else {
            (1.0, 0)
        };
        if ratio > best {
            best = ratio;
            best_pos = Some(t.order[a + at]);
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
