//! The common PNG decoded directly: 8- or 16-bit gray, gray+alpha, RGB or
//! RGBA, not interlaced, without palette or transparency chunk.
//!
//! The chunks are walked here (critical ones CRC-checked), the IDAT stream is
//! inflated with fdeflate (the png crate's own inflater) into one buffer, and
//! the rows are unfiltered by [`super::unfilter`], several rows at a time.
//!
//! Anything else (another layout, an unknown or misplaced chunk, a CRC or
//! deflate error, short data) returns `None` and the file goes through the png
//! crate, which decodes it or reports the error exactly as before this path
//! existed. The pixels are the png crate's bit for bit (tests below).

use super::png::{png_image, u16_bytes_mut, Samples};
use super::unfilter::unfilter;
use super::{check_size, DecodeOptions, DecodedImage, Format};
use crate::fft2::grow;

const SIGNATURE: [u8; 8] = [137, 80, 78, 71, 13, 10, 26, 10];

/// Ancillary chunks that may precede the image data: the png crate skips or
/// only records them, and a malformed one is skipped too (tested), so they
/// cannot change the pixels or make the file fail. Any other chunk before the
/// image data sends the file to the png crate.
const HARMLESS: [&[u8; 4]; 10] =
    [b"gAMA", b"cHRM", b"sRGB", b"pHYs", b"tIME", b"tEXt", b"zTXt", b"iTXt", b"bKGD", b"sBIT"];

/// The header fields the direct path needs.
struct Header {
    width: usize,
    height: usize,
    /// Samples per pixel: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
    samples: usize,
    /// 8 or 16.
    depth: u8,
}

/// The pixels of a PNG in the direct path's scope, or `None` (see the module docs).
pub(super) fn decode(bytes: &[u8], options: &DecodeOptions) -> Option<DecodedImage> {
    let rest = bytes.strip_prefix(&SIGNATURE)?;
    let (ihdr, mut rest) = chunk(rest)?;
    if ihdr.kind != *b"IHDR" || !ihdr.crc_ok() {
        return None;
    }
    let header = parse_header(ihdr.data)?;
    check_size(Format::Png, header.width as u64, header.height as u64, options).ok()?;
    // Chunks up to the first IDAT, then the consecutive run of IDAT chunks.
    let mut idat: Vec<&[u8]> = Vec::new();
    loop {
        let (c, after) = chunk(rest)?;
        if c.kind == *b"IDAT" {
            if !c.crc_ok() {
                return None;
            }
            idat.push(c.data);
        } else if !idat.is_empty() {
            // The png crate stops at the header of the chunk after the run.
            break;
        } else if !HARMLESS.contains(&&c.kind) {
            return None;
        }
        rest = after;
    }
    let bpp = header.samples * usize::from(header.depth / 8);
    let stride = header.width.checked_mul(bpp)?;
    let raw = inflate(&idat, header.height.checked_mul(stride + 1)?)?;
    let pixels = if header.depth == 16 {
        let mut px = zeroed::<u16>(header.height * stride / 2)?;
        unfilter(&raw, u16_bytes_mut(&mut px), stride, bpp)?;
        Samples::BigEndian16(px)
    } else {
        let mut px = zeroed::<u8>(header.height * stride)?;
        unfilter(&raw, &mut px, stride, bpp)?;
        Samples::Eight(px)
    };
    Some(png_image(pixels, header.height, header.width, header.samples, header.depth))
}

/// One chunk: its type, its data and its CRC field.
struct Chunk<'a> {
    kind: [u8; 4],
    /// Type and data: what the CRC covers.
    covered: &'a [u8],
    data: &'a [u8],
    crc: u32,
}

impl Chunk<'_> {
    fn crc_ok(&self) -> bool {
        crc32fast::hash(self.covered) == self.crc
    }
}

/// The chunk at the start of `bytes` and what follows it; `None` if it is cut short.
fn chunk(bytes: &[u8]) -> Option<(Chunk<'_>, &[u8])> {
    let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
    if len > i32::MAX as u32 {
        return None;
    }
    let end = 8 + len as usize;
    let covered = bytes.get(4..end)?;
    let crc = u32::from_be_bytes(bytes.get(end..end + 4)?.try_into().ok()?);
    let kind = covered[..4].try_into().ok()?;
    Some((Chunk { kind, covered, data: &covered[4..], crc }, &bytes[end + 4..]))
}

fn parse_header(d: &[u8]) -> Option<Header> {
    let &[w0, w1, w2, w3, h0, h1, h2, h3, depth, color, compression, filter, interlace] = d else {
        return None;
    };
    let (width, height) = (u32::from_be_bytes([w0, w1, w2, w3]), u32::from_be_bytes([h0, h1, h2, h3]));
    let samples = match color {
        0 => 1,
        2 => 3,
        4 => 2,
        6 => 4,
        _ => return None, // palette or invalid
    };
    let valid = width > 0 && height > 0 && width <= i32::MAX as u32 && height <= i32::MAX as u32;
    if !valid || !matches!(depth, 8 | 16) || (compression, filter, interlace) != (0, 0, 0) {
        return None;
    }
    Some(Header { width: width as usize, height: height as usize, samples, depth })
}

/// Inflate the IDAT chunks into exactly `len` bytes. Data beyond them is
/// ignored, as libpng and the png crate do; a short or corrupt stream is `None`.
fn inflate(chunks: &[&[u8]], len: usize) -> Option<Vec<u8>> {
    let mut out = zeroed::<u8>(len)?;
    let mut inflater = fdeflate::Decompressor::new();
    // The png crate's default: the Adler-32 checksum is not checked.
    inflater.ignore_adler32();
    let mut filled = 0;
    for (i, &data) in chunks.iter().enumerate() {
        let mut input = data;
        let last = i + 1 == chunks.len();
        while !input.is_empty() && filled < len && !inflater.is_done() {
            let (used, made) = inflater.read(input, &mut out, filled, last).ok()?;
            if used == 0 && made == 0 {
                return None;
            }
            (input, filled) = (&input[used..], filled + made);
        }
        if filled == len || inflater.is_done() {
            break;
        }
    }
    (filled == len).then_some(out)
}

/// A zero-filled buffer, or `None` if it cannot be allocated.
fn zeroed<T: Clone + Default>(len: usize) -> Option<Vec<T>> {
    let mut v = Vec::new();
    grow(&mut v, len, T::default()).ok()?;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::super::DecodeError;
    use super::*;

    fn encode(
        w: u32,
        h: u32,
        color: ::png::ColorType,
        depth: ::png::BitDepth,
        filter: ::png::Filter,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = ::png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        enc.set_filter(filter);
        enc.write_header().unwrap().write_image_data(data).unwrap();
        out
    }

    fn crate_decode(bytes: &[u8]) -> Result<DecodedImage, DecodeError> {
        super::super::png::decode_with_crate(bytes, &DecodeOptions::default())
    }

    /// Smooth gradients plus noise: every filter and predictor branch is taken.
    fn sample_bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((i / 7) as u64 + (s >> 61)) as u8
            })
            .collect()
    }

    #[test]
    fn every_layout_and_filter_gives_the_png_crates_pixels() {
        use ::png::{BitDepth, ColorType, Filter};
        let colors =
            [(ColorType::Grayscale, 1), (ColorType::GrayscaleAlpha, 2), (ColorType::Rgb, 3), (ColorType::Rgba, 4)];
        let filters = [Filter::NoFilter, Filter::Sub, Filter::Up, Filter::Avg, Filter::Paeth, Filter::Adaptive];
        for (w, h) in [(1, 1), (1, 5), (1, 9), (3, 17), (37, 23), (64, 64)] {
            for (color, samples) in colors {
                for (depth, bytes) in [(BitDepth::Eight, 1), (BitDepth::Sixteen, 2)] {
                    for filter in filters {
                        let data = sample_bytes(w * h * samples * bytes, (w * 31 + samples) as u64);
                        let png = encode(w as u32, h as u32, color, depth, filter, &data);
                        let ours = decode(&png, &DecodeOptions::default()).expect("in the direct path's scope");
                        let theirs = crate_decode(&png).unwrap();
                        let label = format!("{w}x{h} {color:?} {depth:?} {filter:?}");
                        assert_eq!(ours.pixels, theirs.pixels, "{label}");
                        assert_eq!(
                            (ours.height, ours.width, ours.channels, ours.bit_depth),
                            (theirs.height, theirs.width, theirs.channels, theirs.bit_depth),
                            "{label}"
                        );
                    }
                }
            }
        }
    }

    /// A PNG of `raw` (filter bytes included) in one stored deflate block, with
    /// `extra` chunks (type, data) before the IDAT.
    fn stored_png(ihdr: [u8; 13], raw: &[u8], extra: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut z = vec![0x78, 0x01, 0x01];
        let len = raw.len() as u16;
        z.extend(len.to_le_bytes());
        z.extend((!len).to_le_bytes());
        z.extend(raw);
        let (mut a, mut b) = (1u32, 0u32);
        for &x in raw {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        z.extend(((b << 16) | a).to_be_bytes());
        let mut png = SIGNATURE.to_vec();
        let mut put = |kind: &[u8; 4], data: &[u8]| {
            png.extend((data.len() as u32).to_be_bytes());
            let start = png.len();
            png.extend(kind);
            png.extend(data);
            let crc = crc32fast::hash(&png[start..]);
            png.extend(crc.to_be_bytes());
        };
        put(b"IHDR", &ihdr);
        for (kind, data) in extra {
            put(kind, data);
        }
        put(b"IDAT", &z);
        put(b"IEND", &[]);
        png
    }

    fn gray8_header(w: u8, h: u8) -> [u8; 13] {
        [0, 0, 0, w, 0, 0, 0, h, 8, 0, 0, 0, 0]
    }

    /// Whenever the direct path decodes a file, the png crate decodes it to
    /// the same pixels; `expect_direct` says whether the direct path should.
    fn check(label: &str, png: &[u8], expect_direct: bool) {
        let ours = decode(png, &DecodeOptions::default());
        assert_eq!(ours.is_some(), expect_direct, "{label}: direct path taken?");
        if let Some(ours) = ours {
            let theirs = crate_decode(png).unwrap_or_else(|e| panic!("{label}: the crate refuses it: {e}"));
            assert_eq!(ours.pixels, theirs.pixels, "{label}");
        }
    }

    #[test]
    fn out_of_scope_or_damaged_files_go_to_the_png_crate() {
        // 3 x 2 gray: rows "Paeth 1 2 3" and "Up 4 5 6".
        let raw = [4, 1, 2, 3, 2, 4, 5, 6];
        check("stored", &stored_png(gray8_header(3, 2), &raw, &[]), true);
        check("harmless chunk", &stored_png(gray8_header(3, 2), &raw, &[(b"pHYs", &[0; 9])]), true);
        for kind in HARMLESS {
            for junk in [&[][..], &[7], &[1, 2, 3], &[0xff; 40]] {
                let label = format!("{} of {} bytes", String::from_utf8_lossy(kind), junk.len());
                check(&label, &stored_png(gray8_header(3, 2), &raw, &[(kind, junk)]), true);
            }
        }
        let mut bad_ancillary_crc = stored_png(gray8_header(3, 2), &raw, &[(b"pHYs", &[0; 9])]);
        bad_ancillary_crc[8 + 25 + 8 + 9] ^= 1;
        check("pHYs with a bad CRC", &bad_ancillary_crc, true);
        check("tRNS", &stored_png(gray8_header(3, 2), &raw, &[(b"tRNS", &[0, 7])]), false);
        check("unknown ancillary chunk", &stored_png(gray8_header(3, 2), &raw, &[(b"abCd", &[1])]), false);
        check("unknown critical chunk", &stored_png(gray8_header(3, 2), &raw, &[(b"ABCD", &[1])]), false);
        check("filter type 5", &stored_png(gray8_header(3, 2), &[5, 1, 2, 3, 2, 4, 5, 6], &[]), false);
        check("short data", &stored_png(gray8_header(3, 2), &raw[..6], &[]), false);
        check("data beyond the image", &stored_png(gray8_header(3, 2), &[&raw[..], &[0, 9, 9, 9]].concat(), &[]), true);
        let mut interlaced = gray8_header(3, 2);
        interlaced[12] = 1;
        check("interlaced", &stored_png(interlaced, &raw, &[]), false);
        let mut palette = gray8_header(3, 2);
        palette[9] = 3;
        check("palette", &stored_png(palette, &raw, &[(b"PLTE", &[0; 12])]), false);
        let mut low_bit = gray8_header(3, 2);
        low_bit[8] = 4;
        check("4-bit gray", &stored_png(low_bit, &[0, 0x12, 0, 0x34], &[]), false);
        check("zero width", &stored_png(gray8_header(0, 2), &raw, &[]), false);

        let good = stored_png(gray8_header(3, 2), &raw, &[]);
        let idat_data = 8 + 25 + 8;
        let mut bad_crc = good.clone();
        bad_crc[idat_data + 7] ^= 1;
        check("IDAT CRC", &bad_crc, false);
        let mut bad_ihdr = good.clone();
        bad_ihdr[16] ^= 1;
        check("IHDR CRC", &bad_ihdr, false);
        check("cut in IEND", &good[..good.len() - 6], false);
        check("cut in IDAT", &good[..idat_data + 4], false);
        for png in [&bad_crc, &bad_ihdr] {
            assert!(crate_decode(png).is_err(), "the crate reports what the direct path leaves");
        }
    }

    #[test]
    fn random_rows_of_random_filter_types_decode_as_through_the_png_crate() {
        // Differential: random sizes, layouts, bytes and filter types (one
        // image in ten with an invalid one), every one of which the direct
        // path must either leave to the crate or decode to the crate's pixels.
        let mut s = 5u64;
        let mut next = |n: u64| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) % n
        };
        let (mut direct, mut refused) = (0, 0);
        for _ in 0..400 {
            let (w, h) = (1 + next(40) as u8, 1 + next(40) as u8);
            // Half of them 8-bit gray: the layout unfiltered eight rows at a time.
            let (color, samples) = [(0u8, 1usize), (2, 3), (4, 2), (6, 4)][next(4) as usize];
            let depth = [8u8, 16][next(2) as usize];
            let (color, samples, depth) = if next(2) == 0 { (0, 1, 8) } else { (color, samples, depth) };
            let stride = usize::from(w) * samples * usize::from(depth / 8);
            let bad_row = if next(10) == 0 { next(u64::from(h)) } else { u64::MAX };
            let mut raw = Vec::new();
            for r in 0..u64::from(h) {
                raw.push(if r == bad_row { 5 + next(251) as u8 } else { next(5) as u8 });
                // Runs of equal bytes sometimes: ties in the Paeth predictor.
                let run = next(2) == 0;
                let v = next(256) as u8;
                raw.extend((0..stride).map(|_| if run { v } else { next(256) as u8 }));
            }
            let mut header = gray8_header(w, h);
            (header[8], header[9]) = (depth, color);
            let png = stored_png(header, &raw, &[]);
            let ours = decode(&png, &DecodeOptions::default());
            let theirs = crate_decode(&png);
            match ours {
                Some(ours) => {
                    direct += 1;
                    assert_eq!(ours.pixels, theirs.expect("the crate decodes what the direct path does").pixels);
                }
                None => {
                    refused += 1;
                    assert!(theirs.is_err(), "only invalid filter types are left to the crate here");
                }
            }
        }
        assert!(direct > 300 && refused > 20, "{direct} decoded, {refused} refused");
    }
}
