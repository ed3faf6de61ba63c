//! `hist_comb`: a comb-like integer histogram (gamma curves, LUTs, bit-depth
//! cuts) measured as the Poisson-normalised second difference of the counts.
//!
//! Counts are gathered densely (one bin per integer between the image's
//! extremes) when that range is small, which covers every 8/16-bit image;
//! wider integer-valued float images fall back to sorting their values. The
//! maths then runs on the occupied bins only, so a huge range costs nothing.

use crate::fft2::grow;
use crate::gray::gray_row;
use crate::image::{ImageView, Pixels};

/// Fewer integer levels than this between the percentiles give NaN.
const MIN_LEVELS: f64 = 8.0;
/// Widest value range counted in a dense histogram (4 MiB of `u32`).
const DENSE_MAX: f64 = (1 << 20) as f64;

#[derive(Default)]
pub(super) struct Scratch {
    /// Dense counts; bin `i` holds value `base + i`.
    dense: Vec<u32>,
    /// Four interleaved sub-histograms for [`Self::count_samples`].
    sub: Vec<u32>,
    /// One gray row for [`Self::add_rows`].
    row: Vec<f64>,
    /// The values themselves when the range is too wide for `dense`.
    values: Vec<f64>,
    base: f64,
    len: usize,
    is_dense: bool,
    integral: bool,
    /// Occupied bins `(value, count)`, ascending.
    bins: Vec<(f64, u64)>,
}

impl Scratch {
    /// Start counting an image whose gray values lie in `[min, max]`.
    pub(super) fn start(&mut self, min: f64, max: f64) -> Result<(), std::collections::TryReserveError> {
        self.integral = min == min.round();
        self.base = min;
        self.values.clear();
        self.is_dense = max - min < DENSE_MAX;
        if self.is_dense {
            self.len = (max - min) as usize + 1;
            grow(&mut self.dense, self.len, 0)?;
            self.dense[..self.len].fill(0);
        }
        Ok(())
    }

    /// Count the gray values of `image` row by row, stopping at the first non-integer.
    pub(super) fn add_rows(&mut self, image: &ImageView) -> Result<(), std::collections::TryReserveError> {
        let mut row = std::mem::take(&mut self.row);
        let mut result = grow(&mut row, image.width, 0.0);
        for r in 0..image.height {
            if !self.integral || result.is_err() {
                break;
            }
            gray_row(image, r, &mut row);
            result = self.add_row(&row[..image.width]);
        }
        self.row = row;
        result
    }

    fn add_row(&mut self, row: &[f64]) -> Result<(), std::collections::TryReserveError> {
        if row.iter().any(|&v| v != v.round()) {
            self.integral = false;
            return Ok(());
        }
        if self.is_dense {
            let dense = &mut self.dense[..self.len];
            for &v in row {
                dense[(v - self.base) as usize] += 1;
            }
        } else {
            self.values.try_reserve(row.len())?;
            self.values.extend_from_slice(row);
        }
        Ok(())
    }

    /// Count the samples of a one-channel integer image directly (no f64 rows).
    /// Returns false for other images, which must go through [`Self::add_row`].
    pub(super) fn count_samples(&mut self, image: &ImageView) -> Result<bool, std::collections::TryReserveError> {
        if image.channels != 1 || !self.is_dense {
            return Ok(false);
        }
        let base = self.base as i64;
        let (dense, sub) = (&mut self.dense[..self.len], &mut self.sub);
        match image.pixels {
            Pixels::U8(s) => count_u8(s, base, dense),
            Pixels::U16(s) => count_ints(s, base, dense, sub)?,
            Pixels::I16(s) => count_ints(s, base, dense, sub)?,
            Pixels::F32(_) | Pixels::F64(_) => return Ok(false),
        }
        Ok(true)
    }

    /// `hist_comb` of the values counted (see `spectral_fast.artefacts.hist_comb`).
    pub(super) fn finish(&mut self) -> f64 {
        if !self.integral {
            return f64::NAN;
        }
        self.bins.clear();
        if self.is_dense {
            let base = self.base;
            self.bins.extend(
                self.dense[..self.len]
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| c > 0)
                    .map(|(i, &c)| (base + i as f64, c as u64)),
            );
        } else {
            self.values.sort_unstable_by(f64::total_cmp);
            for &v in &self.values {
                match self.bins.last_mut() {
                    Some((last, c)) if *last == v => *c += 1,
                    _ => self.bins.push((v, 1)),
                }
            }
        }
        comb(&self.bins)
    }
}

/// Four interleaved sub-histograms: runs of equal pixels (flat regions, the
/// norm in X-rays) would otherwise serialise on one counter.
fn count_ints<T: Copy + Into<i64>>(
    px: &[T],
    base: i64,
    dense: &mut [u32],
    sub: &mut Vec<u32>,
) -> Result<(), std::collections::TryReserveError> {
    let n = dense.len();
    grow(sub, 4 * n, 0)?;
    let sub = &mut sub[..4 * n];
    sub.fill(0);
    let chunks = px.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..4 {
            sub[l * n + (c[l].into() - base) as usize] += 1;
        }
    }
    for &v in tail {
        sub[(v.into() - base) as usize] += 1;
    }
    for (i, d) in dense.iter_mut().enumerate() {
        *d = sub[i] + sub[n + i] + sub[2 * n + i] + sub[3 * n + i];
    }
    Ok(())
}

/// [`count_ints`] for 8-bit samples: eight 256-bin tables indexed by the byte
/// itself (no offset, no bounds check), folded into `dense` from `base`. Eight,
/// not four: flat regions repeat a value, and a table hit again within a few
/// cycles waits for its own last store (0.48 against 0.67 ms per 1024^2 image).
fn count_u8(px: &[u8], base: i64, dense: &mut [u32]) {
    const LANES: usize = 8;
    let mut sub = [[0u32; 256]; LANES];
    let chunks = px.chunks_exact(LANES);
    for &v in chunks.remainder() {
        sub[0][usize::from(v)] += 1;
    }
    for c in chunks {
        for l in 0..LANES {
            sub[l][usize::from(c[l])] += 1;
        }
    }
    for (i, d) in dense.iter_mut().enumerate() {
        let v = base as usize + i;
        *d = sub.iter().map(|t| t[v]).sum();
    }
}

/// numpy's `percentile(x, q)` (method "linear") from the occupied bins of `x`.
fn percentile(bins: &[(f64, u64)], n: u64, q: f64) -> f64 {
    // The k-th smallest value (0-based).
    let kth = |k: u64| {
        let mut seen = 0;
        for &(v, c) in bins {
            seen += c;
            if k < seen {
                return v;
            }
        }
        bins[bins.len() - 1].0
    };
    let virtual_index = (n - 1) as f64 * q;
    if virtual_index >= (n - 1) as f64 {
        return kth(n - 1);
    }
    let prev = virtual_index.floor();
    let gamma = virtual_index - prev;
    let (a, b) = (kth(prev as u64), kth(prev as u64 + 1));
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// Mean over the interior integers `lo < i < hi` of `|d_i| / s_i`.
fn comb(bins: &[(f64, u64)]) -> f64 {
    let n: u64 = bins.iter().map(|b| b.1).sum();
    if n == 0 {
        return f64::NAN;
    }
    let lo = percentile(bins, n, 1.0 / 100.0).floor();
    let hi = percentile(bins, n, 99.0 / 100.0).ceil();
    if hi - lo < MIN_LEVELS {
        return f64::NAN;
    }
    let inside: Vec<(f64, u64)> = bins.iter().copied().filter(|&(v, _)| v >= lo && v <= hi).collect();
    let h = |i: f64| inside.binary_search_by(|b| b.0.total_cmp(&i)).map_or(0.0, |k| inside[k].1 as f64);
    // Only integers next to an occupied one have d_i != 0; empty stretches add 0.
    let mut total = 0.0;
    let mut last = f64::NEG_INFINITY;
    for &(v, _) in &inside {
        for i in [v - 1.0, v, v + 1.0] {
            if i > last && i > lo && i < hi {
                let side = h(i - 1.0) + h(i + 1.0);
                let d = h(i) - side / 2.0;
                let s = (h(i) + side / 4.0 + 1.0).sqrt();
                total += d.abs() / s;
                last = i;
            }
        }
    }
    total / (hi - lo - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        // numpy.percentile([0, 1, 2, ..., 9], [1, 99]) == [0.09, 8.91]
        let bins: Vec<(f64, u64)> = (0..10).map(|v| (v as f64, 1)).collect();
        assert!((percentile(&bins, 10, 0.01) - 0.09).abs() < 1e-12);
        assert!((percentile(&bins, 10, 0.99) - 8.91).abs() < 1e-12);
        assert_eq!(percentile(&[(5.0, 3)], 3, 0.99), 5.0);
    }

    #[test]
    fn smooth_histograms_are_near_zero_point_eight_and_combs_far_above() {
        // Flat histogram: d_i = 0 everywhere inside.
        let flat: Vec<(f64, u64)> = (0..100).map(|v| (v as f64, 1000)).collect();
        assert_eq!(comb(&flat), 0.0);
        // Every other level empty: a comb.
        let combed: Vec<(f64, u64)> = (0..50).map(|v| (2.0 * v as f64, 1000)).collect();
        assert!(comb(&combed) > 10.0, "{}", comb(&combed));
        // Too few levels.
        assert!(comb(&[(0.0, 5), (3.0, 5)]).is_nan());
    }
}
