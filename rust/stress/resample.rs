//! Resample a stack of images to a model's input size, each axis on its own
//! (the aspect ratio is not kept), with the profile's [`Resampler`]: area
//! averaging when shrinking, bilinear at pixel centres when enlarging.

use rayon::prelude::*;

use super::filter::Sample;
use crate::error::Error;
use crate::options::MAX_PIXELS;
use crate::resize::Resampler;

/// Resize `n` stacked `height x width` images to `out_h x out_w` on `pool`
/// (serially without one): per output row, a vertical pass, then a horizontal one.
///
/// # Errors
/// A side of 0, a length that is not `n * height * width`, an output over
/// [`MAX_PIXELS`] per image, or no memory for the output.
pub fn resize_stack<T: Sample>(
    images: &[T],
    (n, height, width): (usize, usize, usize),
    (out_h, out_w): (usize, usize),
    pool: Option<&rayon::ThreadPool>,
) -> Result<Vec<T>, Error> {
    if height == 0 || width == 0 || images.len() != n * height * width {
        return Err(Error::invalid(
            "images",
            format!("images: expected (N, H, W) with sides >= 1, got ({n}, {height}, {width})"),
        ));
    }
    if out_h == 0 || out_w == 0 || out_h.saturating_mul(out_w) > MAX_PIXELS {
        return Err(Error::invalid(
            "size",
            format!("size: expected (height, width) >= 1 and at most {MAX_PIXELS} pixels, got ({out_h}, {out_w})"),
        ));
    }
    let (rows, cols) = (Resampler::new(height, out_h), Resampler::new(width, out_w));
    let (per_in, per_out) = (height * width, out_h * out_w);
    let total = n * per_out;
    let mut out: Vec<T> = Vec::new();
    out.try_reserve_exact(total).map_err(|_| {
        Error::invalid("images", format!("images: cannot allocate the output of {n} x {out_h} x {out_w}"))
    })?;
    out.resize(total, T::default());
    // Vertical pass first, into one row of `width` (vectorisable, contiguous
    // rows); then the horizontal pass of that row: `out_h * out_w` short dot
    // products instead of `height * out_w` when shrinking.
    let run = |tmp: &mut Vec<f64>, (i, dst): (usize, &mut [T])| {
        let src = &images[i * per_in..(i + 1) * per_in];
        tmp.resize(width, 0.0);
        for (y, out) in dst.chunks_exact_mut(out_w).enumerate() {
            let (first, w) = rows.row(y);
            tmp.fill(0.0);
            for (k, &wk) in w.iter().enumerate() {
                let line = &src[(first + k) * width..(first + k + 1) * width];
                for (a, s) in tmp.iter_mut().zip(line) {
                    *a += wk * s.as_f64();
                }
            }
            for (x, d) in out.iter_mut().enumerate() {
                let (first, w) = cols.row(x);
                *d = T::of_f64(w.iter().zip(&tmp[first..]).map(|(a, b)| a * b).sum());
            }
        }
    };
    if n > 0 {
        match pool {
            Some(pool) => pool.install(|| out.par_chunks_mut(per_out).enumerate().for_each_init(Vec::new, run)),
            None => {
                let mut tmp = Vec::new();
                out.chunks_mut(per_out).enumerate().for_each(|item| run(&mut tmp, item));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_averages_blocks_and_same_size_is_identity() {
        let x: Vec<f64> = (0..16).map(|v| v as f64).collect();
        let y = resize_stack(&x, (1, 4, 4), (2, 2), None).unwrap();
        assert_eq!(y, vec![2.5, 4.5, 10.5, 12.5]);
        assert_eq!(resize_stack(&x, (2, 2, 4), (2, 4), None).unwrap(), x);
        let y = resize_stack(&x, (1, 4, 4), (4, 2), None).unwrap();
        assert_eq!(&y[..2], &[0.5, 2.5]);
    }

    #[test]
    fn threads_and_f32_agree_and_bad_sizes_are_errors() {
        let x: Vec<f32> = (0..3 * 10 * 7).map(|v| (v % 13) as f32).collect();
        let serial = resize_stack(&x, (3, 10, 7), (5, 9), None).unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        assert_eq!(resize_stack(&x, (3, 10, 7), (5, 9), Some(&pool)).unwrap(), serial);
        assert!(resize_stack(&x, (3, 10, 7), (0, 9), None).unwrap_err().to_string().contains("size"));
        assert!(resize_stack(&x, (2, 10, 7), (5, 9), None).unwrap_err().to_string().contains("images"));
    }
}
