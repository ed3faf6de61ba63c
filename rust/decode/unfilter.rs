//! PNG row unfiltering (PNG spec section 9): each row's filter type says how
//! its bytes were predicted from the pixel to the left (a), the one above (b)
//! and the one above-left (c).
//!
//! Sub, Average and Paeth rows are serial chains: a byte needs the byte to its
//! left. For one byte per pixel (8-bit gray, most radiographs) the chains of
//! several rows are run side by side instead: with row `k` of a block lagging
//! `k` pixels behind row 0, the pixel above every lane's pixel was made by the
//! lane before it one step earlier, so eight rows advance together in the
//! lanes of one SSE2 register, whatever their filter types ([`sse2::Block`]).
//! Integer arithmetic: the bytes are those of the scalar rows, which the tests
//! of `png_direct` compare with the png crate.

/// Unfilter `raw` (rows of a filter byte and `stride` bytes) into `out`
/// (`bpp` bytes per pixel); `None` on an unknown filter type.
pub(super) fn unfilter(raw: &[u8], out: &mut [u8], stride: usize, bpp: usize) -> Option<()> {
    let rows = out.len() / stride;
    let filter = |r: usize| raw[r * (stride + 1)];
    if (0..rows).any(|r| filter(r) > 4) {
        return None;
    }
    let src = |r: usize| &raw[r * (stride + 1) + 1..(r + 1) * (stride + 1)];
    let zeros = vec![0u8; stride];
    // Made on first use: a few rows of working memory (`sse2::Block`).
    #[cfg(target_arch = "x86_64")]
    let mut block = None;
    let mut r = 0;
    while r < rows {
        let (done, todo) = out.split_at_mut(r * stride);
        let prev = if r == 0 { &zeros[..] } else { &done[(r - 1) * stride..] };
        #[cfg(target_arch = "x86_64")]
        if bpp == 1 && r + sse2::LANES <= rows {
            let block = block.get_or_insert_with(|| sse2::Block::new(stride));
            block.run(raw, prev, &mut todo[..sse2::LANES * stride], r);
            r += sse2::LANES;
            continue;
        }
        row(filter(r), prev, src(r), &mut todo[..stride], bpp);
        r += 1;
    }
    Some(())
}

/// The PNG Paeth predictor (branch-free form of the png crate).
#[inline(always)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (a, b, c) = (i16::from(a), i16::from(b), i16::from(c));
    let (pa, pb, pc) = ((b - c).abs(), (a - c).abs(), (a - c + b - c).abs());
    let (mut out, mut min) = (a, pa);
    if pb < min {
        (out, min) = (b, pb);
    }
    if pc < min {
        out = c;
    }
    out as u8
}

/// One row: filter type `f`, the unfiltered row above `prev` (zeros for the first).
fn row(f: u8, prev: &[u8], src: &[u8], cur: &mut [u8], bpp: usize) {
    let n = cur.len();
    let (prev, src) = (&prev[..n], &src[..n]);
    let first = bpp.min(n);
    match f {
        0 => cur.copy_from_slice(src),
        1 => {
            cur[..first].copy_from_slice(&src[..first]);
            for i in first..n {
                cur[i] = src[i].wrapping_add(cur[i - bpp]);
            }
        }
        2 => {
            for ((c, &s), &p) in cur.iter_mut().zip(src).zip(prev) {
                *c = s.wrapping_add(p);
            }
        }
        3 => {
            for i in 0..first {
                cur[i] = src[i].wrapping_add(prev[i] >> 1);
            }
            for i in first..n {
                cur[i] = src[i].wrapping_add(((u16::from(cur[i - bpp]) + u16::from(prev[i])) >> 1) as u8);
            }
        }
        4 => {
            for i in 0..first {
                cur[i] = src[i].wrapping_add(prev[i]);
            }
            for i in first..n {
                cur[i] = src[i].wrapping_add(paeth(cur[i - bpp], prev[i], prev[i - bpp]));
            }
        }
        _ => unreachable!("filter types are checked first"),
    }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    //! SSE2 is part of x86-64 itself: no run-time check needed.
    use std::arch::x86_64::*;

    /// Rows unfiltered together: the i16 lanes of one register.
    pub(super) const LANES: usize = 8;

    /// Working rows of [`Block::run`] for one stride, reused block after block.
    pub(super) struct Block {
        stride: usize,
        /// Steps of a block: `stride + LANES - 1` rounded up to whole 8 x 8 tiles.
        steps: usize,
        /// Row `k` of the block's filtered bytes, shifted right by `k`.
        shifted_in: Vec<u8>,
        /// The same for the unfiltered bytes.
        shifted_out: Vec<u8>,
        /// The row above the block, zero-padded to `steps`.
        above: Vec<u8>,
    }

    impl Block {
        pub(super) fn new(stride: usize) -> Self {
            let steps = (stride + LANES - 1).div_ceil(8) * 8;
            let buf = || vec![0u8; LANES * steps];
            Block { stride, steps, shifted_in: buf(), shifted_out: buf(), above: vec![0u8; steps] }
        }

        /// Unfilter rows `r0 .. r0 + LANES` of `raw` into `out` (those rows),
        /// `prev` being the unfiltered row above them (zeros for the first).
        pub(super) fn run(&mut self, raw: &[u8], prev: &[u8], out: &mut [u8], r0: usize) {
            let (n, steps) = (self.stride, self.steps);
            let mut filters = [0u8; LANES];
            for k in 0..LANES {
                let row = &raw[(r0 + k) * (n + 1)..(r0 + k + 1) * (n + 1)];
                filters[k] = row[0];
                self.shifted_in[k * steps + k..k * steps + k + n].copy_from_slice(&row[1..]);
            }
            self.above[..n].copy_from_slice(&prev[..n]);
            // SAFETY: SSE2 is part of x86_64.
            unsafe { unfilter_shifted(&self.shifted_in, &mut self.shifted_out, &self.above, steps, filters) };
            for k in 0..LANES {
                out[k * n..(k + 1) * n].copy_from_slice(&self.shifted_out[k * steps + k..k * steps + k + n]);
            }
        }
    }

    /// All ones in lanes `k` where `pick(k)`, else zero.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn lane_mask(pick: impl Fn(usize) -> bool) -> __m128i {
        let m = |k: usize| if pick(k) { -1i16 } else { 0 };
        _mm_setr_epi16(m(0), m(1), m(2), m(3), m(4), m(5), m(6), m(7))
    }

    /// `if mask { x } else { y }`, lane by lane.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn select(mask: __m128i, x: __m128i, y: __m128i) -> __m128i {
        _mm_or_si128(_mm_and_si128(mask, x), _mm_andnot_si128(mask, y))
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn abs16(x: __m128i) -> __m128i {
        _mm_max_epi16(x, _mm_sub_epi16(_mm_setzero_si128(), x))
    }

    /// Transpose 8 x 8 i16.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn transpose(r: [__m128i; 8]) -> [__m128i; 8] {
        let t = [
            _mm_unpacklo_epi16(r[0], r[1]),
            _mm_unpackhi_epi16(r[0], r[1]),
            _mm_unpacklo_epi16(r[2], r[3]),
            _mm_unpackhi_epi16(r[2], r[3]),
            _mm_unpacklo_epi16(r[4], r[5]),
            _mm_unpackhi_epi16(r[4], r[5]),
            _mm_unpacklo_epi16(r[6], r[7]),
            _mm_unpackhi_epi16(r[6], r[7]),
        ];
        let u = [
            _mm_unpacklo_epi32(t[0], t[2]),
            _mm_unpackhi_epi32(t[0], t[2]),
            _mm_unpacklo_epi32(t[1], t[3]),
            _mm_unpackhi_epi32(t[1], t[3]),
            _mm_unpacklo_epi32(t[4], t[6]),
            _mm_unpackhi_epi32(t[4], t[6]),
            _mm_unpacklo_epi32(t[5], t[7]),
            _mm_unpackhi_epi32(t[5], t[7]),
        ];
        [
            _mm_unpacklo_epi64(u[0], u[4]),
            _mm_unpackhi_epi64(u[0], u[4]),
            _mm_unpacklo_epi64(u[1], u[5]),
            _mm_unpackhi_epi64(u[1], u[5]),
            _mm_unpacklo_epi64(u[2], u[6]),
            _mm_unpackhi_epi64(u[2], u[6]),
            _mm_unpacklo_epi64(u[3], u[7]),
            _mm_unpackhi_epi64(u[3], u[7]),
        ]
    }

    /// Step `t` gives lane `k` the byte of row `k` at column `t - k`, i.e.
    /// column `t` of the shifted rows: eight steps are one 8 x 8 tile,
    /// transposed in and out of the lanes.
    #[target_feature(enable = "sse2")]
    fn unfilter_shifted(input: &[u8], output: &mut [u8], above: &[u8], steps: usize, filters: [u8; LANES]) {
        let lanes_of = |f: u8| lane_mask(|k| filters[k] == f);
        let (sub, up, avg, paeth) = (lanes_of(1), lanes_of(2), lanes_of(3), lanes_of(4));
        let zero = _mm_setzero_si128();
        let low_byte = _mm_set1_epi16(0xff);
        // Lanes that have started by step t < LANES (lane k starts at step k);
        // the others must stay 0: they are the left neighbours of their first pixel.
        let started = |t: usize| lane_mask(|k| k <= t);
        // a: each lane's last byte; c: the last step's b.
        let (mut a, mut c) = (zero, zero);
        for tile in (0..steps).step_by(8) {
            let rows: [__m128i; 8] = std::array::from_fn(|k| {
                let p = input[k * steps + tile..k * steps + tile + 8].as_ptr();
                // SAFETY: the slice above holds the 8 bytes read.
                _mm_unpacklo_epi8(unsafe { _mm_loadl_epi64(p.cast()) }, zero)
            });
            let s = transpose(rows);
            let mut o = [zero; 8];
            for (j, (&x, out)) in s.iter().zip(o.iter_mut()).enumerate() {
                let t = tile + j;
                // The pixel above lane k is lane k - 1's last byte; lane 0's is the row above.
                let b = _mm_insert_epi16(_mm_slli_si128(a, 2), i32::from(above[t]), 0);
                let pa = abs16(_mm_sub_epi16(b, c));
                let a_c = _mm_sub_epi16(a, c);
                let pb = abs16(a_c);
                let pc = abs16(_mm_add_epi16(a_c, _mm_sub_epi16(b, c)));
                // The png crate's order: a, then b if pb < pa, then c if pc < min(pa, pb).
                let best = select(_mm_cmplt_epi16(pb, pa), b, a);
                let best = select(_mm_cmplt_epi16(pc, _mm_min_epi16(pa, pb)), c, best);
                let mean = _mm_srli_epi16(_mm_add_epi16(a, b), 1);
                let predicted = _mm_or_si128(
                    _mm_or_si128(_mm_and_si128(sub, a), _mm_and_si128(up, b)),
                    _mm_or_si128(_mm_and_si128(avg, mean), _mm_and_si128(paeth, best)),
                );
                let mut byte = _mm_and_si128(_mm_add_epi16(x, predicted), low_byte);
                if t < LANES {
                    byte = _mm_and_si128(byte, started(t));
                }
                (*out, a, c) = (byte, byte, b);
            }
            let rows_out = transpose(o);
            for (k, v) in rows_out.iter().enumerate() {
                let p = output[k * steps + tile..k * steps + tile + 8].as_mut_ptr();
                // SAFETY: the slice above holds the 8 bytes written.
                unsafe { _mm_storel_epi64(p.cast(), _mm_packus_epi16(*v, *v)) };
            }
        }
    }
}
