//! Pixels to float64 gray, one row at a time, and the statistics of the native image.
//!
//! Rows are converted straight into the buffer the FFT reads, so no full-size
//! f64 copy of the image is made unless it is resized.

use crate::image::{ImageView, Pixels};

/// A pixel sample that converts exactly to f64 (every supported dtype does).
trait Sample: Copy {
    fn f(self) -> f64;
}
macro_rules! sample {
    ($($t:ty),*) => {$(impl Sample for $t { #[inline(always)] fn f(self) -> f64 { self as f64 } })*};
}
sample!(u8, u16, i16, f32, f64);

/// Luma weights (ITU-R BT.601), as in the reference.
const LUMA: [f64; 3] = [0.299, 0.587, 0.114];

#[inline(always)]
fn row_of<T: Sample>(src: &[T], channels: usize, width: usize, r: usize, out: &mut [f64]) {
    let row = &src[r * width * channels..(r + 1) * width * channels];
    if channels == 1 {
        for (o, &v) in out.iter_mut().zip(row) {
            *o = v.f();
        }
    } else {
        // Same operation order as the reference, (wR R + wG G) + wB B, so gray
        // values are bit-identical; alpha (4th sample) is ignored.
        for (o, px) in out.iter_mut().zip(row.chunks_exact(channels)) {
            *o = LUMA[0] * px[0].f() + LUMA[1] * px[1].f() + LUMA[2] * px[2].f();
        }
    }
}

/// Write row `r` of `img` as f64 gray into `out[..img.width]`.
///
/// The view must have passed [`ImageView::check`].
pub(crate) fn gray_row(img: &ImageView, r: usize, out: &mut [f64]) {
    let (c, w, out) = (img.channels, img.width, &mut out[..img.width]);
    match img.pixels {
        Pixels::U8(s) => row_of(s, c, w, r, out),
        Pixels::U16(s) => row_of(s, c, w, r, out),
        Pixels::I16(s) => row_of(s, c, w, r, out),
        Pixels::F32(s) => row_of(s, c, w, r, out),
        Pixels::F64(s) => row_of(s, c, w, r, out),
    }
}

/// Sum, extremes and finiteness of the gray image.
pub(crate) struct Stats {
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub finite: bool,
}

/// One pass over the image for the checks and the mean; `row` is scratch of at least `width`.
pub(crate) fn stats(img: &ImageView, row: &mut [f64]) -> Stats {
    let mut s = Stats { sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, finite: true };
    for r in 0..img.height {
        gray_row(img, r, row);
        let row = &row[..img.width];
        s.sum += sum(row);
        for &v in row {
            s.finite &= v.is_finite();
            s.min = s.min.min(v);
            s.max = s.max.max(v);
        }
    }
    s
}

/// Sum of squared deviations from `mean`, for the population std.
pub(crate) fn squared_deviations(img: &ImageView, mean: f64, row: &mut [f64]) -> f64 {
    let mut total = 0.0;
    for r in 0..img.height {
        gray_row(img, r, row);
        total += sum_sq_dev(&row[..img.width], mean);
    }
    total
}

/// Sum with four partial sums: vectorisable, and more accurate than one running sum.
#[inline]
pub(crate) fn sum(xs: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let chunks = xs.chunks_exact(4);
    let tail: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..4 {
            acc[l] += c[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Sum of `(x - mean)^2` with four partial sums.
#[inline]
pub(crate) fn sum_sq_dev(xs: &[f64], mean: f64) -> f64 {
    let mut acc = [0.0; 4];
    let chunks = xs.chunks_exact(4);
    let tail: f64 = chunks.remainder().iter().map(|&v| (v - mean) * (v - mean)).sum();
    for c in chunks {
        for l in 0..4 {
            let d = c[l] - mean;
            acc[l] += d * d;
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb_becomes_luma_and_alpha_is_ignored() {
        let px: Vec<u8> = vec![10, 20, 30, 255, 0, 0, 0, 7];
        let img = ImageView::new(Pixels::U8(&px), 1, 2, 4);
        let mut out = [0.0; 2];
        gray_row(&img, 0, &mut out);
        assert_eq!(out[0], 0.299 * 10.0 + 0.587 * 20.0 + 0.114 * 30.0);
        assert_eq!(out[1], 0.0);
    }

    #[test]
    fn stats_see_non_finite_values() {
        let px = [1.0f32, f32::NAN, 3.0, 4.0];
        let img = ImageView::new(Pixels::F32(&px), 2, 2, 1);
        assert!(!stats(&img, &mut [0.0; 2]).finite);
        let px = [1.0f64, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(sum(&px), 15.0);
        assert_eq!(sum_sq_dev(&px, 3.0), 10.0);
    }
}
