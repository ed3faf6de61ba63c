//! Centre crop and separable resampling, as `spectral_fast.reference.resize`.
//!
//! The reference builds dense matrices `M` (n_out x n_in) and computes
//! `M @ square @ M.T`; each row of `M` has at most `ceil(n_in / n_out) + 1`
//! non-zero weights, in one contiguous run, so here each output sample is a
//! short dot product over that run (O(n) instead of O(n^2) per line).

use crate::fft2::grow;
use crate::gray::gray_row;
use crate::image::ImageView;

/// Sparse rows of the resampling matrix: output `i` is
/// `sum_k weights[offsets[i] + k] * input[first[i] + k]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Resampler {
    pub n_in: usize,
    pub n_out: usize,
    first: Vec<usize>,
    offsets: Vec<usize>,
    weights: Vec<f64>,
}

impl Resampler {
    /// Area averaging when shrinking, bilinear at pixel centres when enlarging,
    /// identity when the sizes match: weight for weight as `resample_matrix`.
    pub fn new(n_in: usize, n_out: usize) -> Self {
        let mut s = Resampler { n_in, n_out, first: vec![], offsets: vec![0], weights: vec![] };
        for i in 0..n_out {
            let mut row: Vec<(usize, f64)> = Vec::with_capacity(4);
            if n_out == n_in {
                row.push((i, 1.0));
            } else if n_out < n_in {
                let scale = n_in as f64 / n_out as f64;
                let (start, stop) = (i as f64 * scale, (i + 1) as f64 * scale);
                for j in (start.floor() as usize)..(stop.ceil() as usize).min(n_in) {
                    let overlap = stop.min((j + 1) as f64) - start.max(j as f64);
                    if overlap > 0.0 {
                        row.push((j, overlap / scale));
                    }
                }
            } else {
                let scale = n_out as f64 / n_in as f64;
                let src = ((i as f64 + 0.5) / scale - 0.5).max(0.0).min(n_in as f64 - 1.0);
                let j0 = src.floor() as usize;
                let j1 = (j0 + 1).min(n_in - 1);
                let frac = src - j0 as f64;
                row.push((j0, 1.0 - frac));
                if j1 == j0 {
                    // `m[i, j0] += frac` in the reference lands on the same entry.
                    row[0].1 += frac;
                } else {
                    row.push((j1, frac));
                }
            }
            s.push_row(&row);
        }
        s
    }

    fn push_row(&mut self, row: &[(usize, f64)]) {
        // Weights are contiguous in j by construction; keep them dense from the first.
        let first = row.first().map_or(0, |&(j, _)| j);
        let last = row.last().map_or(0, |&(j, _)| j);
        let base = self.weights.len();
        self.weights.resize(base + last + 1 - first, 0.0);
        for &(j, w) in row {
            self.weights[base + j - first] += w;
        }
        self.first.push(first);
        self.offsets.push(self.weights.len());
    }

    /// The weights of output `i` and the input index they start at.
    #[inline]
    pub fn row(&self, i: usize) -> (usize, &[f64]) {
        (self.first[i], &self.weights[self.offsets[i]..self.offsets[i + 1]])
    }

    /// The dense matrix, for tests against the reference.
    pub fn dense(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.n_out * self.n_in];
        for i in 0..self.n_out {
            let (first, w) = self.row(i);
            for (k, &v) in w.iter().enumerate() {
                m[i * self.n_in + first + k] = v;
            }
        }
        m
    }
}

/// Per-thread buffers of [`resize`].
#[derive(Default)]
pub struct ResizeScratch {
    row: Vec<f64>,
    /// Crop after the horizontal pass: `m` rows of `size` samples.
    tmp: Vec<f64>,
    resampler: Option<Resampler>,
}

/// Centre-crop `img` to a square on its shorter side and resample it to
/// `size` x `size` into `out` (row-major). Returns the mean of the result.
pub fn resize(
    img: &ImageView,
    size: usize,
    ws: &mut ResizeScratch,
    out: &mut Vec<f64>,
) -> Result<f64, std::collections::TryReserveError> {
    let m = img.height.min(img.width);
    let (top, left) = ((img.height - m) / 2, (img.width - m) / 2);
    if ws.resampler.as_ref().is_none_or(|r| r.n_in != m || r.n_out != size) {
        ws.resampler = Some(Resampler::new(m, size));
    }
    let rs = ws.resampler.as_ref().expect("set just above");
    grow(&mut ws.row, img.width, 0.0)?;
    grow(&mut ws.tmp, m * size, 0.0)?;
    grow(out, size * size, 0.0)?;
    // Horizontal pass over the rows of the crop.
    for y in 0..m {
        gray_row(img, top + y, &mut ws.row);
        let src = &ws.row[left..left + m];
        for (i, t) in ws.tmp[y * size..(y + 1) * size].iter_mut().enumerate() {
            let (first, w) = rs.row(i);
            *t = w.iter().zip(&src[first..]).map(|(a, b)| a * b).sum();
        }
    }
    // Vertical pass: each output row is a weighted sum of whole tmp rows.
    let mut total = 0.0;
    for i in 0..size {
        let (first, w) = rs.row(i);
        let dst = &mut out[i * size..(i + 1) * size];
        dst.fill(0.0);
        for (k, &wk) in w.iter().enumerate() {
            let src = &ws.tmp[(first + k) * size..(first + k + 1) * size];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += wk * s;
            }
        }
        total += crate::gray::sum(dst);
    }
    Ok(total / (size * size) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sum_to_one() {
        for &(n_in, n_out) in &[(10, 10), (10, 3), (1024, 512), (7, 19), (9, 16), (100, 33)] {
            let r = Resampler::new(n_in, n_out);
            for i in 0..n_out {
                let s: f64 = r.row(i).1.iter().sum();
                assert!((s - 1.0).abs() < 1e-12, "{n_in}->{n_out} row {i}: {s}");
            }
        }
    }

    #[test]
    fn shrinking_by_two_averages_pairs_and_enlarging_interpolates() {
        let r = Resampler::new(4, 2);
        assert_eq!(r.row(0), (0, &[0.5, 0.5][..]));
        assert_eq!(r.row(1), (2, &[0.5, 0.5][..]));
        let r = Resampler::new(2, 4);
        // Output centres at 0.25, 0.75, 1.25, 1.75 input px map to src -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        assert_eq!(r.row(0), (0, &[1.0, 0.0][..]));
        assert_eq!(r.row(1), (0, &[0.75, 0.25][..]));
        assert_eq!(r.row(3), (1, &[1.0][..]));
    }

    #[test]
    fn resize_crops_the_centre() {
        // 4 x 8 image: the centre 4 x 4 crop is columns 2..6; identity resample keeps it.
        let px: Vec<u16> = (0..32).collect();
        let img = ImageView::new(crate::image::Pixels::U16(&px), 4, 8, 1);
        let mut out = Vec::new();
        let mean = resize(&img, 4, &mut ResizeScratch::default(), &mut out).unwrap();
        assert_eq!(&out[..4], &[2.0, 3.0, 4.0, 5.0]);
        assert_eq!(&out[12..16], &[26.0, 27.0, 28.0, 29.0]);
        assert_eq!(mean, 15.5);
    }
}
