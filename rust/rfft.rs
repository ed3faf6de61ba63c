//! Real-to-complex FFT of one row: realfft's algorithm, with its last pass in AVX.
//!
//! An even-length real row is transformed as a complex row of half the length
//! (rustfft, which picks its own AVX kernels at run time), then "untangled"
//! into the half spectrum. realfft does that pass one coefficient pair at a
//! time in scalar code (about 10 % of a 256^2 image, compiled for AVX2 or
//! not). Here the same operations run on two pairs per AVX instruction; each
//! lane does realfft's sequence of IEEE operations (no fused multiply-adds),
//! so the bits are realfft's. Odd lengths go to realfft as they are.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// A planned forward real FFT of rows of one length.
pub enum RealFft {
    /// Even length `2m`: a complex FFT of length `m`, then [`untangle`].
    Even { half: Arc<dyn Fft<f64>>, twiddles: Vec<Complex<f64>> },
    /// Odd length: realfft's own plan.
    Odd(Arc<dyn RealToComplex<f64>>),
}

impl RealFft {
    /// The plan for rows of `len` samples (`len >= 1`).
    pub fn new(len: usize) -> Self {
        if len % 2 == 1 {
            return RealFft::Odd(RealFftPlanner::<f64>::new().plan_fft_forward(len));
        }
        // realfft's `RealToComplexEven::new`: the same count and values.
        let count = if len % 4 == 0 { len / 4 } else { len / 4 + 1 };
        let twiddles = (1..count).map(|i| twiddle(i, len) * 0.5).collect();
        RealFft::Even { half: FftPlanner::<f64>::new().plan_fft_forward(len / 2), twiddles }
    }

    /// Scratch length [`Self::process`] needs.
    pub fn scratch_len(&self) -> usize {
        match self {
            RealFft::Even { half, .. } => half.get_outofplace_scratch_len(),
            RealFft::Odd(plan) => plan.get_scratch_len(),
        }
    }

    /// `output = rfft(input)` (`input.len() / 2 + 1` coefficients); `input`
    /// is used as scratch. Lengths must match the plan.
    pub fn process(&self, input: &mut [f64], output: &mut [Complex<f64>], scratch: &mut [Complex<f64>]) {
        match self {
            RealFft::Even { half, twiddles } => {
                let m = input.len() / 2;
                assert!(input.len() == 2 * m && output.len() == m + 1, "row lengths match the plan");
                // SAFETY: Complex<f64> is `repr(C)` {re, im} of two f64, with
                // f64's alignment, so `2m` f64 are `m` complex values; the
                // slice borrows `input` mutably for its whole life.
                let as_complex = unsafe { std::slice::from_raw_parts_mut(input.as_mut_ptr().cast(), m) };
                half.process_outofplace_with_scratch(as_complex, &mut output[..m], scratch);
                untangle(twiddles, output);
            }
            RealFft::Odd(plan) => {
                // Lengths are set from the plan itself, so this cannot fail.
                plan.process_with_scratch(input, output, scratch).expect("row lengths match the plan");
            }
        }
    }
}

/// realfft's `compute_twiddle`: `exp(-2 pi i index / len)`.
fn twiddle(index: usize, len: usize) -> Complex<f64> {
    let angle = -2f64 * std::f64::consts::PI / len as f64 * index as f64;
    Complex { re: angle.cos(), im: angle.sin() }
}

/// Turn the complex FFT of the row's sample pairs (in `output[..m]`) into the
/// row's half spectrum, in place: realfft's post-processing of
/// `RealToComplexEven::process_with_scratch`, step for step.
fn untangle(twiddles: &[Complex<f64>], output: &mut [Complex<f64>]) {
    let n = output.len();
    if n < 2 {
        return;
    }
    let f = output[0];
    output[0] = Complex { re: f.re + f.im, im: 0.0 };
    output[n - 1] = Complex { re: f.re - f.im, im: 0.0 };
    // Pairs (k, n - 1 - k) for k = 1 ..= pairs, twiddle k - 1 (realfft's zip
    // of the left half, the reversed right half and the twiddles).
    let pairs = twiddles.len().min(n / 2 - 1).min(n - n / 2 - 1);
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX, checked just above.
        done = unsafe { avx::pairs(twiddles, output, pairs) };
    }
    for k in done + 1..=pairs {
        let (o, r) = pair(twiddles[k - 1], output[k], output[n - 1 - k]);
        (output[k], output[n - 1 - k]) = (o, r);
    }
    if n % 2 == 1 {
        output[n / 2].im = -output[n / 2].im;
    }
}

/// One coefficient pair: realfft's loop body.
#[inline(always)]
fn pair(tw: Complex<f64>, out: Complex<f64>, out_rev: Complex<f64>) -> (Complex<f64>, Complex<f64>) {
    let sum = out + out_rev;
    let diff = out - out_rev;
    let (re_sum, im_sum) = (sum * tw.re, sum * tw.im);
    let (re_diff, im_diff) = (diff * tw.re, diff * tw.im);
    let half_sum_re = 0.5 * sum.re;
    let half_diff_im = 0.5 * diff.im;
    let twiddled_re = re_sum.im + im_diff.re;
    let twiddled_im = im_sum.im - re_diff.re;
    (
        Complex { re: half_sum_re + twiddled_re, im: half_diff_im + twiddled_im },
        Complex { re: half_sum_re - twiddled_re, im: twiddled_im - half_diff_im },
    )
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    use rustfft::num_complex::Complex;

    /// [`super::pair`] for pairs `k, k + 1` at once (a register holds two
    /// complex values, lanes `[re, im, re, im]`), while two are left of the
    /// first `pairs`; returns how many pairs it did.
    #[target_feature(enable = "avx")]
    pub(super) fn pairs(twiddles: &[Complex<f64>], output: &mut [Complex<f64>], pairs: usize) -> usize {
        let n = output.len();
        assert!(pairs <= twiddles.len() && pairs < n / 2 && pairs < n - n / 2);
        let (tw, out) = (twiddles.as_ptr().cast::<f64>(), output.as_mut_ptr().cast::<f64>());
        let half = _mm256_set1_pd(0.5);
        let flip_im = _mm256_set_pd(-0.0, 0.0, -0.0, 0.0);
        let mut k = 1;
        while k < pairs {
            // SAFETY: k + 1 <= pairs, so twiddles k - 1, k, coefficients k,
            // k + 1 and n - 2 - k, n - 1 - k are in bounds (asserted above),
            // and the two coefficient ranges do not overlap (k + 1 < n - 2 - k).
            unsafe {
                let t = _mm256_loadu_pd(tw.add(2 * (k - 1)));
                let o = _mm256_loadu_pd(out.add(2 * k));
                let r_swapped = _mm256_loadu_pd(out.add(2 * (n - 2 - k)));
                let r = _mm256_permute2f128_pd(r_swapped, r_swapped, 1);
                let (t_re, t_im) = (_mm256_movedup_pd(t), _mm256_permute_pd(t, 0b1111));
                let sum = _mm256_add_pd(o, r);
                let diff = _mm256_sub_pd(o, r);
                let (re_sum, im_sum) = (_mm256_mul_pd(sum, t_re), _mm256_mul_pd(sum, t_im));
                let (re_diff, im_diff) = (_mm256_mul_pd(diff, t_re), _mm256_mul_pd(diff, t_im));
                // [half_sum_re, half_diff_im]
                let a = _mm256_mul_pd(half, _mm256_blend_pd(sum, diff, 0b1010));
                // [re_sum.im, im_sum.im] + [im_diff.re, -re_diff.re]: x - y is x + (-y) in IEEE.
                let x = _mm256_blend_pd(_mm256_permute_pd(re_sum, 0b0101), im_sum, 0b1010);
                let y = _mm256_blend_pd(im_diff, _mm256_permute_pd(re_diff, 0b0101), 0b1010);
                let b = _mm256_add_pd(x, _mm256_xor_pd(y, flip_im));
                let new_out = _mm256_add_pd(a, b);
                // [half_sum_re - twiddled_re, twiddled_im - half_diff_im]
                let new_rev = _mm256_sub_pd(_mm256_blend_pd(a, b, 0b1010), _mm256_blend_pd(b, a, 0b1010));
                _mm256_storeu_pd(out.add(2 * k), new_out);
                _mm256_storeu_pd(out.add(2 * (n - 2 - k)), _mm256_permute2f128_pd(new_rev, new_rev, 1));
            }
            k += 2;
        }
        k - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_copies_give_realffts_bits_for_every_length() {
        let mut s = 7u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for len in [1, 2, 3, 4, 6, 8, 10, 14, 16, 30, 64, 96, 100, 255, 256, 258, 1000, 1024, 2500] {
            let row: Vec<f64> = (0..len).map(|_| next() * 1e3).collect();
            let reference = RealFftPlanner::<f64>::new().plan_fft_forward(len);
            let mut want = reference.make_output_vec();
            reference.process(&mut row.clone(), &mut want).unwrap();
            let ours = RealFft::new(len);
            let mut got = vec![Complex::default(); len / 2 + 1];
            let mut scratch = vec![Complex::default(); ours.scratch_len()];
            ours.process(&mut row.clone(), &mut got, &mut scratch);
            let bits = |v: &[Complex<f64>]| v.iter().flat_map(|z| [z.re.to_bits(), z.im.to_bits()]).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "length {len}");
            if let RealFft::Even { half, twiddles } = &ours {
                // The scalar loop alone too (the test above ran the AVX one on an AVX machine).
                let mut base = vec![Complex::default(); len / 2 + 1];
                let m = len / 2;
                let mut input: Vec<Complex<f64>> = row.chunks_exact(2).map(|p| Complex::new(p[0], p[1])).collect();
                half.process_outofplace_with_scratch(&mut input, &mut base[..m], &mut scratch);
                let n = base.len();
                let f = base[0];
                (base[0], base[n - 1]) = (Complex::new(f.re + f.im, 0.0), Complex::new(f.re - f.im, 0.0));
                for k in 1..=twiddles.len().min(n / 2 - 1).min(n - n / 2 - 1) {
                    (base[k], base[n - 1 - k]) = pair(twiddles[k - 1], base[k], base[n - 1 - k]);
                }
                if n % 2 == 1 {
                    base[n / 2].im = -base[n / 2].im;
                }
                assert_eq!(bits(&base), bits(&want), "length {len}, scalar loop");
            }
        }
    }
}
