//! `jpeg_block`: how much more the gray level jumps at one phase of an
//! 8-pixel grid than at the other seven, across and down the image.

use crate::fft2::grow;
use crate::gray::{gray_row, Sample};
use crate::image::{ImageView, Pixels};

/// JPEG, H.26x and MPEG code images in 8 x 8 blocks.
const BLOCK: usize = 8;

/// Rows of the pass and the per-column / per-row difference sums.
#[derive(Default)]
pub(super) struct Scratch {
    prev: Vec<f64>,
    cur: Vec<f64>,
    /// `sum_i |x[i, j + 1] - x[i, j]|` for each j.
    across: Vec<f64>,
    /// `mean_j |x[i + 1, j] - x[i, j]|` for each i.
    down: Vec<f64>,
    /// Integer column sums of [`int_differences`] between flushes.
    across_int: Vec<u32>,
    /// The same in 16 bits for [`u8_differences`].
    across_u16: Vec<u16>,
}

/// `sqrt(b_h b_v) - 1` (see `spectral_fast.artefacts.jpeg_block`), in one pass over the rows.
pub(super) fn jpeg_block(image: &ImageView, s: &mut Scratch) -> Result<f64, std::collections::TryReserveError> {
    let (h, w) = (image.height, image.width);
    grow(&mut s.prev, w, 0.0)?;
    grow(&mut s.cur, w, 0.0)?;
    grow(&mut s.across, w, 0.0)?;
    grow(&mut s.down, h, 0.0)?;
    s.across[..w - 1].fill(0.0);
    if image.channels == 1 {
        // Gray samples are read as they are: no f64 copy of each row.
        match image.pixels {
            Pixels::U8(px) => u8_differences(px, h, w, s)?,
            Pixels::U16(px) => int_differences(px, h, w, 65535, s)?,
            Pixels::I16(px) => int_differences(px, h, w, 65535, s)?,
            Pixels::F32(px) => differences(px, h, w, s),
            Pixels::F64(px) => differences(px, h, w, s),
        }
    } else {
        for r in 0..h {
            gray_row(image, r, &mut s.cur);
            let (cur, prev) = (&s.cur[..w], &s.prev[..w]);
            add_row(cur, (r > 0).then_some(prev), &mut s.across[..w - 1], &mut s.down, r);
            std::mem::swap(&mut s.prev, &mut s.cur);
        }
    }
    let across = &mut s.across[..w - 1];
    // Column means as numpy takes them (sum over rows / H).
    for a in across.iter_mut() {
        *a /= h as f64;
    }
    let b_h = block_ratio(across);
    let b_v = block_ratio(&s.down[..h - 1]);
    Ok((b_h * b_v).sqrt() - 1.0)
}

fn differences<T: Sample>(px: &[T], h: usize, w: usize, s: &mut Scratch) {
    let across = &mut s.across[..w - 1];
    for r in 0..h {
        let cur = &px[r * w..(r + 1) * w];
        let prev = (r > 0).then(|| &px[(r - 1) * w..r * w]);
        add_row(cur, prev, across, &mut s.down, r);
    }
}

/// [`differences`] for integer samples in integer arithmetic (twice the
/// lanes of f64). The sums are integers, exact in any order, so the result is
/// bit-identical to the f64 path; the u32 column sums are moved into `across`
/// before they could overflow (`max_step` is the largest possible difference).
fn int_differences<T: Copy + Into<i32>>(
    px: &[T],
    h: usize,
    w: usize,
    max_step: u32,
    s: &mut Scratch,
) -> Result<(), std::collections::TryReserveError> {
    grow(&mut s.across_int, w, 0)?;
    let (across, across_int) = (&mut s.across[..w - 1], &mut s.across_int[..w - 1]);
    across_int.fill(0);
    let flush_every = (u32::MAX / max_step) as usize;
    for r in 0..h {
        let cur = &px[r * w..(r + 1) * w];
        let (left, right) = (&cur[..w - 1], &cur[1..]);
        for ((a, &l), &rt) in across_int.iter_mut().zip(left).zip(right) {
            *a += (rt.into() - l.into()).unsigned_abs();
        }
        if r > 0 {
            let prev = &px[(r - 1) * w..r * w];
            let total: u64 = cur.iter().zip(prev).map(|(&c, &p)| u64::from((c.into() - p.into()).unsigned_abs())).sum();
            s.down[r - 1] = total as f64 / w as f64;
        }
        if (r + 1) % flush_every == 0 || r + 1 == h {
            for (a, i) in across.iter_mut().zip(across_int.iter_mut()) {
                *a += f64::from(*i);
                *i = 0;
            }
        }
    }
    Ok(())
}

crate::simd::avx2_dispatch! {
    /// [`int_differences`] for 8-bit samples in 16-bit lanes (8 per SSE2 register
    /// instead of 4): column sums are flushed every 257 rows (255 x 257 = 65535)
    /// and row sums taken in chunks of 256. Integer sums: bit-identical results.
    fn u8_differences(px: &[u8], h: usize, w: usize, s: &mut Scratch) -> Result<(), std::collections::TryReserveError>
        = u8_differences_body;
}

#[inline(always)]
fn u8_differences_body(
    px: &[u8],
    h: usize,
    w: usize,
    s: &mut Scratch,
) -> Result<(), std::collections::TryReserveError> {
    const FLUSH: usize = 257;
    grow(&mut s.across_u16, w, 0)?;
    let (across, acc) = (&mut s.across[..w - 1], &mut s.across_u16[..w - 1]);
    acc.fill(0);
    for r in 0..h {
        let cur = &px[r * w..(r + 1) * w];
        for ((a, &l), &rt) in acc.iter_mut().zip(&cur[..w - 1]).zip(&cur[1..]) {
            *a += u16::from(l.abs_diff(rt));
        }
        if r > 0 {
            let prev = &px[(r - 1) * w..r * w];
            let mut total = 0u64;
            for (c, p) in cur.chunks(256).zip(prev.chunks(256)) {
                let part: u16 = c.iter().zip(p).map(|(&c, &p)| u16::from(c.abs_diff(p))).sum();
                total += u64::from(part);
            }
            s.down[r - 1] = total as f64 / w as f64;
        }
        if (r + 1) % FLUSH == 0 || r + 1 == h {
            for (a, i) in across.iter_mut().zip(acc.iter_mut()) {
                *a += f64::from(*i);
                *i = 0;
            }
        }
    }
    Ok(())
}

/// Add row `r`'s horizontal differences to `across` and store the mean
/// vertical difference to the row above in `down[r - 1]`.
#[inline]
fn add_row<T: Sample>(cur: &[T], prev: Option<&[T]>, across: &mut [f64], down: &mut [f64], r: usize) {
    // Equal-length slices (not `windows(2)`), so the loop vectorises.
    let (left, right) = (&cur[..cur.len() - 1], &cur[1..]);
    for ((a, l), r) in across.iter_mut().zip(left).zip(right) {
        *a += (r.f() - l.f()).abs();
    }
    if let Some(prev) = prev {
        // Four partial sums: vectorisable. Integer samples give integer sums,
        // exact in any order, so numpy's result is reproduced exactly.
        let mut acc = [0.0f64; 4];
        let n4 = cur.len() / 4 * 4;
        for j in (0..n4).step_by(4) {
            for l in 0..4 {
                acc[l] += (cur[j + l].f() - prev[j + l].f()).abs();
            }
        }
        let tail: f64 = (n4..cur.len()).map(|j| (cur[j].f() - prev[j].f()).abs()).sum();
        down[r - 1] = ((acc[0] + acc[1]) + (acc[2] + acc[3]) + tail) / cur.len() as f64;
    }
}

/// Best phase mean over the mean of the other seven, whole periods only;
/// NaN when there is no whole period (a side of 8 px), as numpy's empty mean.
fn block_ratio(means: &[f64]) -> f64 {
    let periods = means.len() / BLOCK;
    if periods == 0 {
        return f64::NAN;
    }
    let mut phase = [0.0f64; BLOCK];
    for chunk in means[..periods * BLOCK].chunks_exact(BLOCK) {
        for (p, v) in phase.iter_mut().zip(chunk) {
            *p += v;
        }
    }
    for p in phase.iter_mut() {
        *p /= periods as f64;
    }
    // First maximum, as numpy.argmax.
    let best = (1..BLOCK).fold(0, |b, o| if phase[o] > phase[b] { o } else { b });
    let rest = phase.iter().enumerate().filter(|&(o, _)| o != best).map(|(_, v)| v).sum::<f64>() / (BLOCK - 1) as f64;
    if rest <= 0.0 {
        // Flat everywhere except at one phase (synthetic blocks): finite but large.
        return if phase[best] > 0.0 { 1e6 } else { 1.0 };
    }
    phase[best] / rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_and_float_paths_agree_bit_for_bit() {
        let (h, w) = (37, 53);
        let px: Vec<u16> = (0..h * w).map(|i| ((i * 2654435761usize) % 65536) as u16).collect();
        let fl: Vec<f64> = px.iter().map(|&v| f64::from(v)).collect();
        let a = jpeg_block(&ImageView::new(Pixels::U16(&px), h, w, 1), &mut Scratch::default()).unwrap();
        let b = jpeg_block(&ImageView::new(Pixels::F64(&fl), h, w, 1), &mut Scratch::default()).unwrap();
        assert_eq!(a.to_bits(), b.to_bits());
        let px8: Vec<u8> = px.iter().map(|&v| (v >> 8) as u8).collect();
        let fl8: Vec<f32> = px8.iter().map(|&v| f32::from(v)).collect();
        let a = jpeg_block(&ImageView::new(Pixels::U8(&px8), h, w, 1), &mut Scratch::default()).unwrap();
        let b = jpeg_block(&ImageView::new(Pixels::F32(&fl8), h, w, 1), &mut Scratch::default()).unwrap();
        assert_eq!(a.to_bits(), b.to_bits());
    }

    #[test]
    fn eight_bit_lanes_agree_with_floats_past_the_flush() {
        // More than 257 rows of the largest steps: the 16-bit sums must flush in time.
        let (h, w) = (600, 300);
        let px: Vec<u8> = (0..h * w).map(|i| if (i / w + i % w) % 2 == 0 { 255 } else { 0 }).collect();
        let fl: Vec<f64> = px.iter().map(|&v| f64::from(v)).collect();
        let a = jpeg_block(&ImageView::new(Pixels::U8(&px), h, w, 1), &mut Scratch::default()).unwrap();
        let b = jpeg_block(&ImageView::new(Pixels::F64(&fl), h, w, 1), &mut Scratch::default()).unwrap();
        assert_eq!(a.to_bits(), b.to_bits());
        let mut s = Scratch::default();
        jpeg_block(&ImageView::new(Pixels::U8(&px), h, w, 1), &mut s).unwrap();
        assert!(s.across[..w - 1].iter().all(|&v| v == 255.0), "every step is 255");
    }

    #[test]
    fn block_ratio_edge_cases() {
        // Fewer than 8 differences: no whole period, NaN as numpy's empty mean.
        assert!(block_ratio(&[1.0; 7]).is_nan());
        // Even differences: ratio 1.
        assert_eq!(block_ratio(&[2.0; 16]), 1.0);
        // Jumps at one phase only: the finite stand-in for infinity.
        let mut jumps = [0.0; 16];
        jumps[3] = 5.0;
        jumps[11] = 5.0;
        assert_eq!(block_ratio(&jumps), 1e6);
        assert_eq!(block_ratio(&[0.0; 8]), 1.0);
        // The first maximum wins, the rest is the mean of the other seven.
        let phases = [1.0, 4.0, 1.0, 4.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(block_ratio(&phases), 4.0 / (10.0 / 7.0));
    }
}
