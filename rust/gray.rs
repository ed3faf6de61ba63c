//! Pixels to float64 gray, one row at a time, and the statistics of the native image.
//!
//! Rows are converted straight into the buffer the FFT reads, so no full-size
//! f64 copy of the image is made unless it is resized.

use crate::decode::PixelBuffer;
use crate::image::{ImageView, Pixels};

/// A pixel sample that converts exactly to f64 (every supported dtype does).
pub(crate) trait Sample: Copy {
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

/// A colour image whose R, G and B samples are exactly equal in every pixel
/// (a gray image stored as RGB(A), common in exports), as its one gray channel;
/// `None` for gray images and real colour. Luma of such a pixel is not exactly
/// its value (0.299 + 0.587 + 0.114 rounds), so without this the image would
/// lose its integer values and ``hist_comb``; with it, the profile is the gray
/// image's, bit for bit. Alpha is ignored, as in luma. `Err` if the copy cannot
/// be allocated.
pub(crate) fn equal_channels_as_gray(img: &ImageView) -> Result<Option<PixelBuffer>, ()> {
    if img.channels == 1 {
        return Ok(None);
    }
    let c = img.channels;
    Ok(match img.pixels {
        Pixels::U8(s) => first_channel(s, c)?.map(PixelBuffer::U8),
        Pixels::U16(s) => first_channel(s, c)?.map(PixelBuffer::U16),
        Pixels::I16(s) => first_channel(s, c)?.map(PixelBuffer::I16),
        Pixels::F32(s) => first_channel(s, c)?.map(PixelBuffer::F32),
        Pixels::F64(s) => first_channel(s, c)?.map(PixelBuffer::F64),
    })
}

/// Channel 0 of `s` when channels 0, 1 and 2 agree in every pixel (NaN never does).
fn first_channel<T: Copy + PartialEq>(s: &[T], channels: usize) -> Result<Option<Vec<T>>, ()> {
    if !s.chunks_exact(channels).all(|px| px[0] == px[1] && px[0] == px[2]) {
        return Ok(None);
    }
    let mut out = Vec::new();
    out.try_reserve_exact(s.len() / channels).map_err(|_| ())?;
    out.extend(s.chunks_exact(channels).map(|px| px[0]));
    Ok(Some(out))
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
    if img.channels == 1 {
        // Gray integers: exact integer sum and min/max on the samples
        // themselves, which vectorise far better than the same in f64. The sum
        // is exact (< 2^28 px x 2^16 < 2^53), like numpy's, so the means agree.
        match img.pixels {
            Pixels::U8(s) => return int_stats_u8(s),
            Pixels::U16(s) => return int_stats(s),
            Pixels::I16(s) => return int_stats(s),
            Pixels::F32(_) | Pixels::F64(_) => {}
        }
    }
    let mut s = Stats { sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, finite: true };
    for r in 0..img.height {
        gray_row(img, r, row);
        let (sum, min, max, finite) = row_stats(&row[..img.width]);
        s.sum += sum;
        s.min = s.min.min(min);
        s.max = s.max.max(max);
        s.finite &= finite;
    }
    s
}

/// Samples per chunk of [`int_stats`]: 32 KiB of u8 (the chunk stays in L1
/// across its three loops), and a chunk's i32 sum cannot overflow
/// (32,768 x 65,535 < 2^31).
const STATS_CHUNK: usize = 1 << 15;

crate::simd::avx2_dispatch! {
    /// Exact sum, min and max of integer samples, chunk by chunk: an i32 sum
    /// per chunk widens 8 or 16 lanes at a time, where a plain i64 sum stayed
    /// scalar (a byte per instruction).
    fn int_stats_u8(px: &[u8]) -> Stats = int_stats::<u8>;
}

#[inline(always)]
fn int_stats<T: Copy + Ord + Into<i32>>(px: &[T]) -> Stats {
    let (mut sum, mut min, mut max) = (0i64, i32::MAX, i32::MIN);
    for chunk in px.chunks(STATS_CHUNK) {
        sum += i64::from(chunk.iter().map(|&v| v.into()).sum::<i32>());
        min = min.min(chunk.iter().copied().min().map_or(i32::MAX, Into::into));
        max = max.max(chunk.iter().copied().max().map_or(i32::MIN, Into::into));
    }
    if px.is_empty() {
        (min, max) = (0, 0);
    }
    Stats { sum: sum as f64, min: f64::from(min), max: f64::from(max), finite: true }
}

/// Sum, min, max and finiteness of one row, in four independent lanes so the
/// loop vectorises (a single running min/max is a serial dependency chain).
/// `x - x` is 0 for finite `x` and NaN otherwise, so summing it flags
/// NaN/inf without a branch and without the overflow a plain sum could hit
/// (hence the allowed `eq_op`: the "same operands" are the point).
#[inline]
#[allow(clippy::eq_op)]
fn row_stats(xs: &[f64]) -> (f64, f64, f64, bool) {
    let (mut sum, mut lo, mut hi, mut bad) = ([0.0f64; 4], [f64::INFINITY; 4], [f64::NEG_INFINITY; 4], [0.0f64; 4]);
    let chunks = xs.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..4 {
            sum[l] += c[l];
            lo[l] = if c[l] < lo[l] { c[l] } else { lo[l] };
            hi[l] = if c[l] > hi[l] { c[l] } else { hi[l] };
            bad[l] += c[l] - c[l];
        }
    }
    for &v in tail {
        sum[0] += v;
        lo[0] = if v < lo[0] { v } else { lo[0] };
        hi[0] = if v > hi[0] { v } else { hi[0] };
        bad[0] += v - v;
    }
    let finite = ((bad[0] + bad[1]) + (bad[2] + bad[3])) == 0.0;
    (
        (sum[0] + sum[1]) + (sum[2] + sum[3]),
        lo[0].min(lo[1]).min(lo[2].min(lo[3])),
        hi[0].max(hi[1]).max(hi[2].max(hi[3])),
        finite,
    )
}

crate::simd::avx2_dispatch! {
    /// Row `r` of `img`, mean removed and windowed, into `out[..width]`; returns the
    /// row's sum of squared deviations (for the std). One pass: conversion, centring,
    /// the std's sum and the window multiply are fused. `wy` is this row's window
    /// value, `None` for no window; the window is `wy * wx[c]`, formed first as in
    /// the reference so the values agree to the last bit.
    pub(crate) fn centred_row(img: &ImageView, r: usize, mean: f64, wy: Option<f64>, wx: &[f64], out: &mut [f64]) -> f64
        = centred_row_body;
}

#[inline(always)]
fn centred_row_body(img: &ImageView, r: usize, mean: f64, wy: Option<f64>, wx: &[f64], out: &mut [f64]) -> f64 {
    let out = &mut out[..img.width];
    if img.channels != 1 {
        gray_row(img, r, out);
        return centre_in_place(out, mean, wy, wx);
    }
    let range = r * img.width..(r + 1) * img.width;
    match img.pixels {
        Pixels::U8(s) => centre_from(&s[range], mean, wy, wx, out),
        Pixels::U16(s) => centre_from(&s[range], mean, wy, wx, out),
        Pixels::I16(s) => centre_from(&s[range], mean, wy, wx, out),
        Pixels::F32(s) => centre_from(&s[range], mean, wy, wx, out),
        Pixels::F64(s) => centre_from(&s[range], mean, wy, wx, out),
    }
}

/// `out = (x - mean) * (wy * wx)` from gray samples; returns `sum (x - mean)^2`.
/// Element `i` goes to lane `i % 4` of the sum, the tail to lane 0; chunked
/// slices (no index, so no bounds check) let the compiler vectorise it.
#[inline(always)]
fn centre_from<T: Sample>(x: &[T], mean: f64, wy: Option<f64>, wx: &[f64], out: &mut [f64]) -> f64 {
    let n = x.len();
    let (wx, out) = (&wx[..n], &mut out[..n]);
    let n4 = n / 4 * 4;
    let mut acc = [0.0f64; 4];
    let chunks = x[..n4].chunks_exact(4).zip(wx[..n4].chunks_exact(4)).zip(out[..n4].chunks_exact_mut(4));
    match wy {
        Some(wy) => {
            for ((xs, ws), os) in chunks {
                for l in 0..4 {
                    let d = xs[l].f() - mean;
                    acc[l] += d * d;
                    os[l] = d * (wy * ws[l]);
                }
            }
        }
        None => {
            for ((xs, _), os) in chunks {
                for l in 0..4 {
                    let d = xs[l].f() - mean;
                    acc[l] += d * d;
                    os[l] = d;
                }
            }
        }
    }
    for i in n4..n {
        let d = x[i].f() - mean;
        acc[0] += d * d;
        out[i] = wy.map_or(d, |wy| d * (wy * wx[i]));
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// [`centre_from`] in place on f64 gray values.
pub(crate) fn centre_in_place(row: &mut [f64], mean: f64, wy: Option<f64>, wx: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let n4 = row.len() / 4 * 4;
    let w = |i: usize| wy.map_or(1.0, |wy| wy * wx[i]);
    for i in (0..n4).step_by(4) {
        for l in 0..4 {
            let d = row[i + l] - mean;
            acc[l] += d * d;
            row[i + l] = if wy.is_some() { d * w(i + l) } else { d };
        }
    }
    for (i, value) in row.iter_mut().enumerate().skip(n4) {
        let d = *value - mean;
        acc[0] += d * d;
        *value = if wy.is_some() { d * w(i) } else { d };
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
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
    fn the_avx2_copy_of_centred_row_gives_the_same_bits() {
        let w = 203; // not a multiple of the lanes
        let px8: Vec<u8> = (0..w).map(|i| (i * 37 % 251) as u8).collect();
        let px16: Vec<u16> = (0..w).map(|i| (i * 7919 % 65521) as u16).collect();
        let pxf: Vec<f32> = px16.iter().map(|&v| f32::from(v) * 0.37).collect();
        let wx: Vec<f64> = (0..w).map(|i| (i as f64 * 0.1).sin().abs()).collect();
        for pixels in [Pixels::U8(&px8), Pixels::U16(&px16), Pixels::F32(&pxf)] {
            let img = ImageView::new(pixels, 1, w, 1);
            for wy in [None, Some(0.73)] {
                let (mut a, mut b) = (vec![0.0; w], vec![0.0; w]);
                let sa = centred_row(&img, 0, 101.3, wy, &wx, &mut a);
                let sb = centred_row_body(&img, 0, 101.3, wy, &wx, &mut b);
                assert_eq!(sa.to_bits(), sb.to_bits());
                assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
            }
        }
    }

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
    fn equal_channels_become_the_gray_channel() {
        let rgba: Vec<u16> = vec![10, 10, 10, 255, 7, 7, 7, 0];
        let img = ImageView::new(Pixels::U16(&rgba), 1, 2, 4);
        assert_eq!(equal_channels_as_gray(&img), Ok(Some(PixelBuffer::U16(vec![10, 7]))));
        let rgb: Vec<u8> = vec![10, 10, 10, 7, 7, 8];
        assert_eq!(equal_channels_as_gray(&ImageView::new(Pixels::U8(&rgb), 1, 2, 3)), Ok(None));
        let nan = [f32::NAN; 3];
        assert_eq!(equal_channels_as_gray(&ImageView::new(Pixels::F32(&nan), 1, 1, 3)), Ok(None));
        let gray = [1u8, 2];
        assert_eq!(equal_channels_as_gray(&ImageView::new(Pixels::U8(&gray), 1, 2, 1)), Ok(None));
    }

    #[test]
    fn stats_see_non_finite_values() {
        let px = [1.0f32, f32::NAN, 3.0, 4.0];
        let img = ImageView::new(Pixels::F32(&px), 2, 2, 1);
        assert!(!stats(&img, &mut [0.0; 2]).finite);
        let px = [1.0f64, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(sum(&px), 15.0);
        assert_eq!(row_stats(&px), (15.0, 1.0, 5.0, true));
        assert!(!row_stats(&[1.0, 2.0, 3.0, 4.0, f64::INFINITY]).3);
        assert!(!row_stats(&[1.0, f64::NEG_INFINITY, 3.0]).3);
        // Huge finite values overflow a sum but are still finite.
        assert!(row_stats(&[f64::MAX; 6]).3);
        assert_eq!(sum_sq_dev(&px, 3.0), 10.0);
    }
}
