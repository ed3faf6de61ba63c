//! 2-D real FFT: a real FFT along rows ([`crate::rfft`]), a blocked
//! transpose, then ONE batched rustfft call over all columns.
//!
//! The plans of one grid size are immutable and shared by every thread
//! (`Arc<Grid>`); the buffers they write into are per thread ([`FftScratch`]).
//! Rows are transformed in blocks of [`BLOCK`] and written transposed at once,
//! so the row spectra never make a full-size round trip through memory.

use std::f64::consts::PI;
use std::sync::{Arc, LazyLock};

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use crate::cache::ShapeCache;
use crate::rfft::RealFft;

/// Rows transformed before each transpose step: 16 rows of a 1024-wide image
/// (16 x 513 complex = 131 KiB) stay in L2 between the FFT and the transpose.
const BLOCK: usize = 16;

/// Spectrum rows (columns of the image) per column-FFT call: 8 x 1024
/// complex = 128 KiB, still in L2 when the spectrum passes read them.
pub const COLUMNS: usize = 8;

/// Plans and windows of one `height` x `width` grid, shared across threads.
pub struct Grid {
    pub height: usize,
    pub width: usize,
    /// Columns of the half spectrum, `width / 2 + 1`.
    pub half: usize,
    r2c: RealFft,
    c2c: Arc<dyn Fft<f64>>,
    /// Periodic Hann windows along y and x.
    pub hann_y: Vec<f64>,
    pub hann_x: Vec<f64>,
}

/// Plans and windows are O(H + W): bound the count only.
static GRIDS: LazyLock<ShapeCache<(usize, usize), Grid>> = LazyLock::new(|| ShapeCache::new(64, usize::MAX, |_| 0));

/// The shared grid of a `height` x `width` transform (cached).
pub fn grid(height: usize, width: usize) -> Arc<Grid> {
    GRIDS
        .get_or_build(&(height, width), || Ok::<_, std::convert::Infallible>(Grid::new(height, width)))
        .unwrap_or_else(|never| match never {})
}

/// Periodic Hann window `0.5 - 0.5 cos(2 pi k / n)`, evaluated as the reference does.
pub fn hann(n: usize) -> Vec<f64> {
    (0..n).map(|k| 0.5 - 0.5 * ((2.0 * PI) * k as f64 / n as f64).cos()).collect()
}

impl Grid {
    fn new(height: usize, width: usize) -> Self {
        Grid {
            height,
            width,
            half: width / 2 + 1,
            r2c: RealFft::new(width),
            c2c: FftPlanner::<f64>::new().plan_fft_forward(height),
            hann_y: hann(height),
            hann_x: hann(width),
        }
    }

    /// Number of coefficients of the (transposed) half spectrum.
    pub fn spectrum_len(&self) -> usize {
        self.half * self.height
    }

    /// 2-D real FFT of the image whose row `r` `fill_row(r, row)` writes.
    ///
    /// On return `ws.spectrum()[kx * height + ky]` holds `rfft2(x)[ky, kx]`,
    /// `ky` in `numpy.fft.fftfreq` order: each row of the result is one column
    /// of numpy's output. Fails only if the buffers cannot be allocated.
    pub fn forward(
        &self,
        ws: &mut FftScratch,
        fill_row: impl FnMut(usize, &mut [f64]),
    ) -> Result<(), std::collections::TryReserveError> {
        self.forward_with(ws, fill_row, |_, _| {})
    }

    /// [`Self::forward`], handing each chunk of [`COLUMNS`] finished spectrum
    /// rows to `on_columns(kx0, rows)` while it is still in cache, so that the
    /// passes over the spectrum (bands, rings) do not read it back from memory.
    /// Each column is transformed exactly as in one batched call, so the
    /// spectrum is the same bit for bit.
    pub fn forward_with(
        &self,
        ws: &mut FftScratch,
        mut fill_row: impl FnMut(usize, &mut [f64]),
        mut on_columns: impl FnMut(usize, &[Complex<f64>]),
    ) -> Result<(), std::collections::TryReserveError> {
        let (h, w, half) = (self.height, self.width, self.half);
        let scratch_len = self.r2c.scratch_len().max(self.c2c.get_inplace_scratch_len());
        grow(&mut ws.row, w, 0.0)?;
        grow(&mut ws.block, BLOCK * half, Complex::default())?;
        grow(&mut ws.spectrum, h * half, Complex::default())?;
        grow(&mut ws.scratch, scratch_len, Complex::default())?;
        let row = &mut ws.row[..w];
        let spectrum = &mut ws.spectrum[..h * half];
        for r0 in (0..h).step_by(BLOCK) {
            let rows = BLOCK.min(h - r0);
            for j in 0..rows {
                fill_row(r0 + j, row);
                let out = &mut ws.block[j * half..(j + 1) * half];
                self.r2c.process(row, out, &mut ws.scratch[..self.r2c.scratch_len()]);
            }
            transpose_block(&ws.block[..rows * half], half, &mut spectrum[r0..], h);
        }
        // Each call transforms COLUMNS columns: rustfft splits the buffer into
        // `h`-long chunks internally and amortises its setup over them.
        let scratch = &mut ws.scratch[..self.c2c.get_inplace_scratch_len()];
        for (j, chunk) in spectrum.chunks_mut(COLUMNS * h).enumerate() {
            self.c2c.process_with_scratch(chunk, scratch);
            on_columns(j * COLUMNS, chunk);
        }
        Ok(())
    }
}

/// Write the `rows x half` row spectra of `block` transposed: its element
/// `(j, kx)` goes to `dst[kx * h + j]`. Two columns at a time, so each read
/// takes 32 contiguous bytes of a row and the loop has no bounds checks.
fn transpose_block(block: &[Complex<f64>], half: usize, dst: &mut [Complex<f64>], h: usize) {
    let rows = block.len() / half;
    let pairs = half / 2;
    for p in 0..pairs {
        let kx = 2 * p;
        let (a, b) = dst[kx * h..].split_at_mut(h);
        let (a, b) = (&mut a[..rows], &mut b[..rows]);
        for ((x, y), src) in a.iter_mut().zip(b.iter_mut()).zip(block.chunks_exact(half)) {
            let pair = &src[kx..kx + 2];
            (*x, *y) = (pair[0], pair[1]);
        }
    }
    if half % 2 == 1 {
        let kx = half - 1;
        for (d, src) in dst[kx * h..kx * h + rows].iter_mut().zip(block.chunks_exact(half)) {
            *d = src[kx];
        }
    }
}

/// Per-thread buffers of [`Grid::forward`]; they grow to the largest grid seen and are reused.
#[derive(Default)]
pub struct FftScratch {
    row: Vec<f64>,
    block: Vec<Complex<f64>>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
}

impl FftScratch {
    /// The spectrum of the last [`Grid::forward`] call on `grid`.
    pub fn spectrum(&self, grid: &Grid) -> &[Complex<f64>] {
        &self.spectrum[..grid.spectrum_len()]
    }
}

/// Grow `v` to at least `n` elements, reporting allocation failure instead of aborting.
pub(crate) fn grow<T: Clone>(v: &mut Vec<T>, n: usize, fill: T) -> Result<(), std::collections::TryReserveError> {
    if v.len() < n {
        v.try_reserve_exact(n - v.len())?;
        v.resize(n, fill);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct O(N^2) DFT of one coefficient, the definition the FFT must match.
    fn dft(x: &[f64], h: usize, w: usize, ky: usize, kx: usize) -> Complex<f64> {
        let mut acc = Complex::new(0.0, 0.0);
        for y in 0..h {
            for xx in 0..w {
                let phase = -2.0 * PI * ((ky * y) as f64 / h as f64 + (kx * xx) as f64 / w as f64);
                acc += Complex::new(phase.cos(), phase.sin()) * x[y * w + xx];
            }
        }
        acc
    }

    #[test]
    fn matches_the_direct_dft_for_odd_even_and_tall_grids() {
        for &(h, w) in &[(8, 8), (9, 12), (37, 10), (12, 21)] {
            let x: Vec<f64> = (0..h * w).map(|i| ((i * 7919) % 97) as f64 - 40.0).collect();
            let g = grid(h, w);
            let mut ws = FftScratch::default();
            g.forward(&mut ws, |r, row| row.copy_from_slice(&x[r * w..(r + 1) * w])).unwrap();
            let s = ws.spectrum(&g);
            for ky in 0..h {
                for kx in 0..g.half {
                    let d = dft(&x, h, w, ky, kx);
                    let f = s[kx * h + ky];
                    assert!((f - d).norm() < 1e-9 * (1.0 + d.norm()), "{h}x{w} ({ky},{kx}): {f} vs {d}");
                }
            }
        }
    }

    #[test]
    fn hann_is_periodic() {
        let w = hann(8);
        assert_eq!(w[0], 0.0);
        assert!((w[4] - 1.0).abs() < 1e-15);
        assert!((w[2] - 0.5).abs() < 1e-15 && (w[6] - 0.5).abs() < 1e-15);
    }
}
