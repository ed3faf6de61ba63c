//! A structure-aware fuzz test on stable Rust: a deterministic mutator over
//! small valid PNG, JPEG, TIFF and DICOM seeds. Every mutant must decode to
//! `Ok` or `Err` without a panic (caught panics are counted and fail the test)
//! and with bounded memory: a counting allocator records the peak heap use of
//! each decode on its thread.
//!
//! `SPECTRAL_FAST_FUZZ_N` sets the mutations per format (default 300, which
//! keeps this test to a few seconds); `SPECTRAL_FAST_FUZZ_SEED` the RNG seed;
//! `SPECTRAL_FAST_FUZZ_DUMP=<dir>` writes each failing mutant there.

use super::tests::crc32;
use super::*;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

// ------------------------------------------------------------ peak heap

struct Counting;

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + size;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

fn note_free(size: usize) {
    let _ = CURRENT.try_with(|c| c.set(c.get().saturating_sub(size)));
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// bookkeeping touches only const-initialised thread-locals (no allocation).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_free(layout.size());
        note_alloc(new_size);
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap growth on this thread while `f` runs.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(Cell::get) - base)
}

// ------------------------------------------------------------ RNG

/// SplitMix64: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

// ------------------------------------------------------------ seeds

fn gradient(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    (0..n).map(|i| ((i * 7) % 200) as u8 + (rng.next() % 50) as u8).collect()
}

fn png_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (color, depth, channels, bytes_per) in [
        (::png::ColorType::Grayscale, ::png::BitDepth::Eight, 1, 1),
        (::png::ColorType::Grayscale, ::png::BitDepth::Sixteen, 1, 2),
        (::png::ColorType::Rgba, ::png::BitDepth::Eight, 4, 1),
    ] {
        let (w, h) = (23u32, 17u32);
        let data = gradient((w * h) as usize * channels * bytes_per, 1);
        let mut bytes = Vec::new();
        let mut enc = ::png::Encoder::new(&mut bytes, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        enc.write_header().unwrap().write_image_data(&data).unwrap();
        out.push(bytes);
    }
    out
}

fn jpeg_seeds() -> Vec<Vec<u8>> {
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
    let mut out = Vec::new();
    for (color, sampling, progressive, restart) in [
        (ColorType::Luma, SamplingFactor::F_1_1, false, 0),
        (ColorType::Rgb, SamplingFactor::F_2_2, false, 2),
        (ColorType::Rgb, SamplingFactor::F_2_1, true, 0),
        (ColorType::Luma, SamplingFactor::F_1_1, true, 3),
    ] {
        let (w, h) = (41u16, 30u16);
        let n = usize::from(w) * usize::from(h) * if color == ColorType::Rgb { 3 } else { 1 };
        let mut bytes = Vec::new();
        let mut enc = Encoder::new(&mut bytes, 85);
        enc.set_sampling_factor(sampling);
        enc.set_progressive(progressive);
        enc.set_restart_interval(restart);
        enc.encode(&gradient(n, 2), w, h, color).unwrap();
        out.push(bytes);
    }
    out
}

fn tiff_seeds() -> Vec<Vec<u8>> {
    use ::tiff::encoder::{colortype, Compression, TiffEncoder};
    let (w, h) = (19u32, 13u32);
    let mut out = Vec::new();
    let g8 = gradient((w * h) as usize, 3);
    let g16: Vec<u16> = g8.iter().map(|&v| u16::from(v) * 200).collect();
    let mut a = std::io::Cursor::new(Vec::new());
    TiffEncoder::new(&mut a).unwrap().write_image::<colortype::Gray8>(w, h, &g8).unwrap();
    out.push(a.into_inner());
    let mut b = std::io::Cursor::new(Vec::new());
    TiffEncoder::new(&mut b)
        .unwrap()
        .with_compression(Compression::Lzw)
        .write_image::<colortype::Gray16>(w, h, &g16)
        .unwrap();
    out.push(b.into_inner());
    out
}

/// A Part-10 file: explicit VR LE meta, then `data_set` (already encoded).
pub(super) fn part10(ts: &str, data_set: &[u8]) -> Vec<u8> {
    let mut uid = ts.as_bytes().to_vec();
    if uid.len() % 2 == 1 {
        uid.push(0);
    }
    let mut meta = Vec::new();
    for (element, vr, value) in [
        (0x0001u16, *b"OB", vec![0u8, 1]),
        (0x0002, *b"UI", b"1.2.840.10008.5.1.4.1.1.1\0".to_vec()),
        (0x0003, *b"UI", b"1.2.3.4.5\0".to_vec()),
        (0x0010, *b"UI", uid),
    ] {
        meta.extend(2u16.to_le_bytes());
        meta.extend(element.to_le_bytes());
        meta.extend(vr);
        if &vr == b"OB" {
            meta.extend([0, 0]);
            meta.extend((value.len() as u32).to_le_bytes());
        } else {
            meta.extend((value.len() as u16).to_le_bytes());
        }
        meta.extend(value);
    }
    let mut out = vec![0u8; 128];
    out.extend(b"DICM");
    out.extend([2, 0, 0, 0]);
    out.extend(b"UL");
    out.extend(4u16.to_le_bytes());
    out.extend((meta.len() as u32).to_le_bytes());
    out.extend(meta);
    out.extend(data_set);
    out
}

/// Little-endian data set elements: image attributes then pixel data.
fn image_elements(explicit: bool, rows: u16, cols: u16, bits: u16, pixel: &[u8], encapsulated: bool) -> Vec<u8> {
    let mut d = Vec::new();
    let mut el = |group: u16, element: u16, vr: &[u8; 2], value: &[u8]| {
        d.extend(group.to_le_bytes());
        d.extend(element.to_le_bytes());
        if explicit {
            d.extend(vr);
            d.extend((value.len() as u16).to_le_bytes());
        } else {
            d.extend((value.len() as u32).to_le_bytes());
        }
        d.extend(value);
    };
    el(0x0008, 0x0060, b"CS", b"CR");
    el(0x0028, 0x0002, b"US", &1u16.to_le_bytes());
    el(0x0028, 0x0004, b"CS", b"MONOCHROME2 ");
    el(0x0028, 0x0010, b"US", &rows.to_le_bytes());
    el(0x0028, 0x0011, b"US", &cols.to_le_bytes());
    el(0x0028, 0x0100, b"US", &bits.to_le_bytes());
    el(0x0028, 0x0101, b"US", &bits.to_le_bytes());
    el(0x0028, 0x0102, b"US", &(bits - 1).to_le_bytes());
    el(0x0028, 0x0103, b"US", &0u16.to_le_bytes());
    // A small sequence, so that the mutator has nesting to play with.
    let mut sq = Vec::new();
    sq.extend([0x40, 0x00, 0x30, 0xA7]);
    if explicit {
        sq.extend(b"SQ\0\0");
    }
    sq.extend(0xFFFF_FFFFu32.to_le_bytes());
    sq.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    sq.extend([0x08, 0x00, 0x60, 0x00]);
    if explicit {
        sq.extend(b"CS");
        sq.extend(2u16.to_le_bytes());
    } else {
        sq.extend(2u32.to_le_bytes());
    }
    sq.extend(b"DX");
    sq.extend([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    d.extend(sq);
    d.extend([0xE0, 0x7F, 0x10, 0x00]);
    if encapsulated {
        d.extend(b"OB\0\0");
        d.extend(0xFFFF_FFFFu32.to_le_bytes());
        d.extend([0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]); // empty offset table
        let mut frag = pixel.to_vec();
        if frag.len() % 2 == 1 {
            frag.push(0);
        }
        d.extend([0xFE, 0xFF, 0x00, 0xE0]);
        d.extend((frag.len() as u32).to_le_bytes());
        d.extend(frag);
        d.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    } else {
        if explicit {
            d.extend(if bits == 8 { b"OB\0\0" } else { b"OW\0\0" });
        }
        d.extend((pixel.len() as u32).to_le_bytes());
        d.extend(pixel);
    }
    d
}

fn dicom_seeds() -> Vec<Vec<u8>> {
    let (rows, cols) = (18u16, 22u16);
    let n = usize::from(rows) * usize::from(cols);
    let p8 = gradient(n, 4);
    let p16: Vec<u8> = gradient(n * 2, 5).chunks(2).flat_map(|c| [c[0], c[1] & 0x0F]).collect();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 90).encode(&p8, cols, rows, jpeg_encoder::ColorType::Luma).unwrap();
    // RLE: one segment, each row as literal runs of <= 128 bytes.
    let mut rle = vec![0u8; 64];
    rle[0] = 1;
    rle[4..8].copy_from_slice(&64u32.to_le_bytes());
    for row in p8.chunks(usize::from(cols)) {
        rle.push((row.len() - 1) as u8);
        rle.extend(row);
    }
    let seeds = vec![
        part10("1.2.840.10008.1.2.1", &image_elements(true, rows, cols, 8, &p8, false)),
        part10("1.2.840.10008.1.2.1", &image_elements(true, rows, cols, 16, &p16, false)),
        part10("1.2.840.10008.1.2", &image_elements(false, rows, cols, 16, &p16, false)),
        part10("1.2.840.10008.1.2.4.50", &image_elements(true, rows, cols, 8, &jpeg, true)),
        part10("1.2.840.10008.1.2.5", &image_elements(true, rows, cols, 8, &rle, true)),
    ];
    for (i, s) in seeds.iter().enumerate() {
        decode(s, &DecodeOptions::default()).unwrap_or_else(|e| panic!("DICOM seed {i} must decode: {e}"));
    }
    seeds
}

// ------------------------------------------------------------ mutator

const INTERESTING_32: [u32; 8] = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFF0, 0xFFFF_FFFF, 0xFFFE, 0x1_0000];
const INTERESTING_16: [u16; 7] = [0, 1, 0x7FFF, 0x8000, 0xFFDC, 0xFFFF, 0x4000];

fn mutate(rng: &mut Rng, seed: &[u8], others: &[Vec<u8>], format: Format) -> Vec<u8> {
    let mut b = seed.to_vec();
    let rounds = 1 + rng.below(3);
    for _ in 0..rounds {
        if b.is_empty() {
            b.push(0);
        }
        let at = rng.below(b.len());
        match rng.below(11) {
            0 => b[at] ^= 1 << rng.below(8),
            1 => b[at] = rng.pick(&[0x00, 0xFF, 0x7F, 0x80, 0xD9, 0xDA]),
            2 => b.truncate(at.max(4)),
            3 => {
                // splice a chunk of another seed in
                let other = &others[rng.below(others.len())];
                let from = rng.below(other.len());
                let len = rng.below(64).min(other.len() - from);
                b.splice(at..(at + len).min(b.len()), other[from..from + len].iter().copied());
            }
            4 => {
                let len = rng.below(32).min(b.len() - at);
                let chunk = b[at..at + len].to_vec();
                b.splice(at..at, chunk);
            }
            5 => {
                let len = rng.below(32).min(b.len() - at);
                b.drain(at..at + len);
            }
            6 if at + 4 <= b.len() => {
                let v = rng.pick(&INTERESTING_32);
                let bytes = if rng.below(2) == 0 { v.to_le_bytes() } else { v.to_be_bytes() };
                b[at..at + 4].copy_from_slice(&bytes);
            }
            7 if at + 2 <= b.len() => {
                let v = rng.pick(&INTERESTING_16);
                let bytes = if rng.below(2) == 0 { v.to_le_bytes() } else { v.to_be_bytes() };
                b[at..at + 2].copy_from_slice(&bytes);
            }
            _ => structural(rng, &mut b, format),
        }
    }
    b
}

/// Format-aware rewrites: dimensions, lengths, tags, nesting.
fn structural(rng: &mut Rng, b: &mut Vec<u8>, format: Format) {
    match format {
        Format::Jpeg => {
            // SOF dimensions, or a segment length, or an early EOI.
            let sofs: Vec<usize> =
                (0..b.len().saturating_sub(9)).filter(|&i| b[i] == 0xFF && matches!(b[i + 1], 0xC0..=0xC3)).collect();
            match rng.below(3) {
                0 if !sofs.is_empty() => {
                    let i = sofs[rng.below(sofs.len())];
                    let (h, w) = (rng.pick(&INTERESTING_16), rng.pick(&INTERESTING_16));
                    b[i + 5..i + 7].copy_from_slice(&h.to_be_bytes());
                    b[i + 7..i + 9].copy_from_slice(&w.to_be_bytes());
                }
                1 => {
                    let at = rng.below(b.len());
                    b.truncate(at);
                    b.extend([0xFF, 0xD9]);
                }
                _ => {
                    let markers: Vec<usize> =
                        (0..b.len().saturating_sub(4)).filter(|&i| b[i] == 0xFF && b[i + 1] >= 0xC0).collect();
                    if let Some(&i) = markers.get(rng.below(markers.len().max(1))) {
                        let v = rng.pick(&INTERESTING_16);
                        b[i + 2..i + 4].copy_from_slice(&v.to_be_bytes());
                    }
                }
            }
        }
        Format::Png => {
            // IHDR dimensions with a valid CRC, so the decoder reads them.
            if b.len() >= 33 {
                let w = rng.pick(&INTERESTING_32);
                let h = rng.pick(&INTERESTING_32);
                b[16..20].copy_from_slice(&w.to_be_bytes());
                b[20..24].copy_from_slice(&h.to_be_bytes());
                let crc = crc32(&b[12..29]);
                b[29..33].copy_from_slice(&crc.to_be_bytes());
            }
        }
        Format::Tiff => {
            // An IFD entry's count or value (ImageWidth, StripByteCounts, ...).
            if b.len() >= 8 {
                let ifd = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
                let entry = ifd + 2 + 12 * rng.below(12);
                if entry + 12 <= b.len() {
                    let field = entry + if rng.below(2) == 0 { 4 } else { 8 };
                    b[field..field + 4].copy_from_slice(&rng.pick(&INTERESTING_32).to_le_bytes());
                }
            }
        }
        Format::Dicom => {
            let starts: Vec<usize> = (132..b.len().saturating_sub(8)).filter(|&i| i % 2 == 0).collect();
            if starts.is_empty() {
                return;
            }
            let at = starts[rng.below(starts.len())];
            match rng.below(4) {
                0 => {
                    // nest many undefined-length sequences here
                    let depth = rng.pick(&[10usize, 63, 64, 65, 200, 3000]);
                    let mut sq = Vec::new();
                    for _ in 0..depth {
                        sq.extend([0x40, 0x00, 0x30, 0xA7, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
                        sq.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
                    }
                    b.splice(at..at, sq);
                }
                1 => {
                    // a length field after a VR: 2 or 4 bytes
                    let vrs: Vec<usize> = (132..b.len().saturating_sub(8))
                        .filter(|&i| b[i].is_ascii_uppercase() && b[i + 1].is_ascii_uppercase())
                        .collect();
                    if let Some(&i) = vrs.get(rng.below(vrs.len().max(1))) {
                        if b[i + 2] == 0 && b[i + 3] == 0 {
                            b[i + 4..i + 8].copy_from_slice(&rng.pick(&INTERESTING_32).to_le_bytes());
                        } else {
                            b[i + 2..i + 4].copy_from_slice(&rng.pick(&INTERESTING_16).to_le_bytes());
                        }
                    }
                }
                2 => {
                    // an item / delimiter tag, or an SQ / UN VR
                    let what: &[u8] = rng.pick(&[
                        &[0xFE, 0xFF, 0x00, 0xE0][..],
                        &[0xFE, 0xFF, 0xDD, 0xE0],
                        &[0xFE, 0xFF, 0x0D, 0xE0],
                        b"SQ",
                        b"UN",
                    ]);
                    b[at..at + what.len()].copy_from_slice(what);
                }
                _ => {
                    // Rows / Columns / BitsAllocated
                    let tag = rng.pick(&[[0x28u8, 0, 0x10, 0], [0x28, 0, 0x11, 0], [0x28, 0, 0, 1]]);
                    if let Some(i) = b.windows(4).position(|w| w == tag) {
                        if i + 10 <= b.len() {
                            b[i + 8..i + 10].copy_from_slice(&rng.pick(&INTERESTING_16).to_le_bytes());
                        }
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------ the test

/// The mutants of one format for one RNG seed, in the order the fuzz test
/// runs them (so a failing `#i` can be rebuilt with `.nth(i)`).
fn mutants<'a>(
    format: Format,
    seeds: &'a [Vec<u8>],
    all: &'a [Vec<u8>],
    seed: u64,
) -> impl Iterator<Item = Vec<u8>> + 'a {
    let mut rng = Rng(seed ^ (format as u64).wrapping_mul(0x9E37));
    std::iter::from_fn(move || {
        let base = &seeds[rng.below(seeds.len())];
        Some(mutate(&mut rng, base, all, format))
    })
}

/// Every seed of every format, as the fuzz test splices them.
fn all_seeds() -> Vec<Vec<u8>> {
    [png_seeds(), jpeg_seeds(), tiff_seeds(), dicom_seeds()].concat()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn fuzz_every_mutant_is_ok_or_err_with_bounded_memory() {
    let n = env_usize("SPECTRAL_FAST_FUZZ_N", 300);
    let seed = env_usize("SPECTRAL_FAST_FUZZ_SEED", 18) as u64;
    // A small pixel budget makes every size bomb hit the guard.
    let max_pixels = 1u64 << 20;
    let options = DecodeOptions { max_pixels };
    // Heap allowed per decode: the output (<= max_pixels x 4 channels x 8 bytes
    // as f64) plus decoder state proportional to the input, plus slack.
    let budget = |input: usize| (max_pixels as usize) * 4 * 8 + 64 * input + (16 << 20);

    let corpora = [
        (Format::Png, png_seeds()),
        (Format::Jpeg, jpeg_seeds()),
        (Format::Tiff, tiff_seeds()),
        (Format::Dicom, dicom_seeds()),
    ];
    let all: Vec<Vec<u8>> = corpora.iter().flat_map(|(_, s)| s.clone()).collect();
    let mut failures = Vec::new();
    for (format, seeds) in &corpora {
        let (mut ok, mut err, mut panics, mut peak_max) = (0usize, 0usize, 0usize, 0usize);
        let mut kinds = std::collections::BTreeMap::new();
        for (i, input) in mutants(*format, seeds, &all, seed).take(n).enumerate() {
            let (result, peak) = peak_during(|| decode(&input, &options));
            peak_max = peak_max.max(peak);
            if peak > budget(input.len()) {
                if let Ok(dir) = std::env::var("SPECTRAL_FAST_FUZZ_DUMP") {
                    let _ = std::fs::write(format!("{dir}/{format}-{i}.bin"), &input);
                }
                let what = result.as_ref().map(|img| format!("{}x{}", img.width, img.height));
                failures
                    .push(format!("{format} #{i}: {peak} bytes of heap for a {}-byte input ({what:?})", input.len()));
            }
            match result {
                Ok(img) => {
                    ok += 1;
                    assert!((img.width * img.height) as u64 <= max_pixels, "{format} #{i}");
                    assert_eq!(img.pixels.len(), img.width * img.height * img.channels, "{format} #{i}");
                }
                Err(e) => {
                    err += 1;
                    *kinds.entry(e.kind()).or_insert(0usize) += 1;
                    if e.kind() == "decoder_panic" {
                        panics += 1;
                        failures.push(format!("{format} #{i}: {e}"));
                    }
                }
            }
        }
        eprintln!(
            "fuzz {format}: {n} mutants, {ok} ok, {err} errors {kinds:?}, {panics} caught panics, peak heap {:.1} MiB",
            peak_max as f64 / (1 << 20) as f64
        );
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Mutants of the run at 3,000 per format with seed 18 that went over the
/// heap budget: six TIFFs whose IFD declares millions of values (a
/// SampleFormat of 8 M shorts, an ImageWidth of 4 M longs) and made the tiff
/// crate allocate 128-256 MiB before reading them, and a DICOM whose
/// one-byte US element made dicom-rs lose its place and ask for 671 MB.
/// Rebuilt here from the mutator, so no file is shared.
#[test]
fn fuzz_findings_of_seed_18_stay_bounded() {
    let options = DecodeOptions { max_pixels: 1 << 20 };
    let all = all_seeds();
    // (format, its seeds, the indices of the mutants that once went over budget)
    type Case = (Format, Vec<Vec<u8>>, &'static [usize]);
    let cases: [Case; 2] =
        [(Format::Tiff, tiff_seeds(), &[311, 731, 1294, 2871, 2899, 2977]), (Format::Dicom, dicom_seeds(), &[1903])];
    for (format, seeds, indices) in cases {
        let inputs: Vec<Vec<u8>> = mutants(format, &seeds, &all, 18).take(3000).collect();
        for &i in indices {
            let (result, peak) = peak_during(|| decode(&inputs[i], &options));
            assert!(result.is_err(), "{format} #{i} is not an image");
            assert!(peak < 1 << 20, "{format} #{i}: {peak} bytes of heap for {} bytes", inputs[i].len());
        }
    }
}

/// Little-endian TIFF IFD entry `tag` rewritten to `count` values at `offset`.
fn tiff_with_entry(mut tiff: Vec<u8>, tag: u16, count: u32, offset: u32) -> Vec<u8> {
    let ifd = u32::from_le_bytes(tiff[4..8].try_into().unwrap()) as usize;
    let n = usize::from(u16::from_le_bytes([tiff[ifd], tiff[ifd + 1]]));
    let at = (0..n).map(|k| ifd + 2 + 12 * k).find(|&e| u16::from_le_bytes([tiff[e], tiff[e + 1]]) == tag);
    let e = at.expect("tag present in the seed");
    tiff[e + 4..e + 8].copy_from_slice(&count.to_le_bytes());
    tiff[e + 8..e + 12].copy_from_slice(&offset.to_le_bytes());
    tiff
}

#[test]
fn tiff_values_and_strips_larger_than_the_file_are_refused_before_allocation() {
    let seed = tiff_seeds().remove(0);
    let options = DecodeOptions::default();
    // 4 M ImageWidth values, or a strip of 2 GiB, in a file of a few hundred bytes.
    for bad in [
        tiff_with_entry(seed.clone(), 256, 0x0040_0001, 0x7FFF_FFFF),
        tiff_with_entry(seed.clone(), 279, 1, 0x7FFF_FFFF),
    ] {
        let (result, peak) = peak_during(|| decode(&bad, &options));
        let err = result.unwrap_err();
        assert_eq!(err.kind(), "corrupt", "{err}");
        assert!(peak < 1 << 20, "{peak} bytes of heap for a {}-byte file ({err})", bad.len());
    }
}

#[test]
fn dicom_binary_element_of_a_partial_value_is_refused() {
    // Columns (US) of one byte: dicom-rs would read no value, then take the
    // next bytes, 00 00 00 10 ..., as an element (0000,1000) of 0x28001200 bytes.
    let mut d = Vec::new();
    d.extend([0x28, 0x00, 0x10, 0x00, b'U', b'S', 2, 0, 18, 0]);
    d.extend([0x28, 0x00, 0x11, 0x00, b'U', b'S', 1, 0, 0]);
    d.extend([0x00, 0x00, 0x10, 0x00, b'U', b'S', 2, 0, 0x00, 0x12, 0x00, 0x28]);
    d.extend([0u8; 64]);
    let bytes = part10("1.2.840.10008.1.2.1", &d);
    let (result, peak) = peak_during(|| decode(&bytes, &DecodeOptions::default()));
    let err = result.unwrap_err();
    assert!(err.to_string().contains("(0028,0011) (US) has 1 bytes, not a whole number of 2-byte values"), "{err}");
    assert!(peak < 1 << 20, "{peak} bytes of heap");
}

#[test]
fn dicom_rle_segment_offset_past_the_fragment_is_an_error_not_a_panic() {
    // 16-bit RLE: two segments (high bytes, low bytes) of Rows x Columns each.
    // The Python fuzzer's finding: one byte of the second offset set to 0x7F
    // (0x000009CE -> 0x7F0009CE) made the RLE check slice past the fragment.
    let (rows, cols) = (4u16, 6u16);
    let n = usize::from(rows) * usize::from(cols);
    let segment: Vec<u8> = std::iter::once((n - 1) as u8).chain((0..n).map(|i| i as u8)).collect();
    for second in [64 + segment.len() as u32, 0x7F00_0000 | (64 + segment.len() as u32)] {
        let mut rle = vec![0u8; 64];
        rle[0..4].copy_from_slice(&2u32.to_le_bytes());
        rle[4..8].copy_from_slice(&64u32.to_le_bytes());
        rle[8..12].copy_from_slice(&second.to_le_bytes());
        rle.extend(&segment);
        rle.extend(&segment);
        let bytes = part10("1.2.840.10008.1.2.5", &image_elements(true, rows, cols, 16, &rle, true));
        let result = decode(&bytes, &DecodeOptions::default());
        if second < 0x7F00_0000 {
            let img = result.unwrap_or_else(|e| panic!("the valid RLE frame must decode: {e}"));
            assert_eq!((img.height, img.width), (4, 6));
        } else {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), "corrupt", "{err}");
            assert!(err.to_string().contains("RLE frame: segment 0 at bytes 64..2130706521 of"), "{err}");
        }
    }
}

/// Found at 20,000 mutants per format (seed 18, #15515 and #16651): an item
/// delimiter mutated to (FFFE,FF0D) or (FFFE,FFFF) with a length of 255.
/// dicom-rs reads such a tag as an element of VR UN and skips 255 bytes; the
/// scan skipped 8, lost its place and missed a 2.5 GB length further on.
#[test]
fn dicom_unknown_fffe_tags_are_skipped_as_dicom_rs_skips_them() {
    let options = DecodeOptions { max_pixels: 1 << 20 };
    let all = all_seeds();
    let seeds = dicom_seeds();
    let inputs: Vec<Vec<u8>> = mutants(Format::Dicom, &seeds, &all, 18).take(16652).collect();
    for i in [15515, 16651] {
        let (result, peak) = peak_during(|| decode(&inputs[i], &options));
        assert!(result.is_err(), "DICOM #{i} is not an image");
        assert!(peak < 1 << 20, "DICOM #{i}: {peak} bytes of heap for {} bytes", inputs[i].len());
    }
    // By hand: (FFFE,FF0D) of 8 bytes whose value hides an element header
    // declaring 0xFFFF_FFF0 bytes; read as dicom-rs reads it, the value is
    // skipped and the following element is what counts.
    let mut d = Vec::new();
    d.extend([0xFE, 0xFF, 0x0D, 0xFF, 8, 0, 0, 0]);
    d.extend([0x09, 0x00, 0x10, 0x00, b'O', b'B', 0, 0]);
    d.extend([0x09, 0x00, 0x12, 0x00, b'O', b'B', 0, 0, 0xF0, 0xFF, 0xFF, 0xFF]);
    d.extend([0u8; 16]);
    let err = decode(&part10("1.2.840.10008.1.2.1", &d), &options).unwrap_err();
    assert!(err.to_string().contains("(0009,0012) declares 4294967280 bytes"), "{err}");
}
