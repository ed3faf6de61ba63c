//! Decoder tests on inputs encoded here (png, jpeg-encoder, tiff and dicom-rs
//! writers) and on the real DEV files in ../shared/data/cxr-real when present.

use super::*;

use std::io::Cursor;

/// Deterministic texture with values spread over `0..=max`.
fn texture(n: usize, max: u32, seed: u64) -> Vec<u32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|i| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let noise = (state >> 33) as u32 % (max / 8 + 1);
            let ramp = (i as u64 * u64::from(max) / n as u64) as u32;
            (ramp / 2 + noise).min(max)
        })
        .collect()
}

fn opts() -> DecodeOptions {
    DecodeOptions::default()
}

// ---------------------------------------------------------------- PNG

fn encode_png(w: u32, h: u32, color: ::png::ColorType, depth: ::png::BitDepth, data: &[u8]) -> Vec<u8> {
    encode_png_with(w, h, color, depth, data, |_| {})
}

fn encode_png_with(
    w: u32,
    h: u32,
    color: ::png::ColorType,
    depth: ::png::BitDepth,
    data: &[u8],
    setup: impl FnOnce(&mut ::png::Encoder<'_, &mut Vec<u8>>),
) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        setup(&mut enc);
        let mut writer = enc.write_header().unwrap();
        writer.write_image_data(data).unwrap();
    }
    out
}

#[test]
fn png_gray8_roundtrip() {
    let (w, h) = (37, 21);
    let px: Vec<u8> = texture(w * h, 255, 1).into_iter().map(|v| v as u8).collect();
    let bytes = encode_png(w as u32, h as u32, ::png::ColorType::Grayscale, ::png::BitDepth::Eight, &px);
    let img = decode(&bytes, &opts()).unwrap();
    assert_eq!((img.height, img.width, img.channels, img.bit_depth), (h, w, 1, 8));
    assert_eq!(img.format, Format::Png);
    assert_eq!(img.pixels, PixelBuffer::U8(px));
    assert_eq!(img.pixel_spacing_mm, None);
}

#[test]
fn png_gray16_is_read_big_endian() {
    let (w, h) = (19, 23);
    let px: Vec<u16> = texture(w * h, 65535, 2).into_iter().map(|v| v as u16).collect();
    let be: Vec<u8> = px.iter().flat_map(|v| v.to_be_bytes()).collect();
    let bytes = encode_png(w as u32, h as u32, ::png::ColorType::Grayscale, ::png::BitDepth::Sixteen, &be);
    let img = decode(&bytes, &opts()).unwrap();
    assert_eq!((img.channels, img.bit_depth), (1, 16));
    assert_eq!(img.pixels, PixelBuffer::U16(px));
}

#[test]
fn png_rgb_and_rgba_keep_their_channels() {
    let (w, h) = (9, 11);
    for (color, channels) in [(::png::ColorType::Rgb, 3), (::png::ColorType::Rgba, 4)] {
        let px: Vec<u8> = texture(w * h * channels, 255, 3).into_iter().map(|v| v as u8).collect();
        let bytes = encode_png(w as u32, h as u32, color, ::png::BitDepth::Eight, &px);
        let img = decode(&bytes, &opts()).unwrap();
        assert_eq!(img.channels, channels);
        assert_eq!(img.pixels, PixelBuffer::U8(px));
        assert_eq!(img.view().check(), Ok(()));
    }
}

#[test]
fn png_gray_alpha_drops_alpha() {
    let (w, h) = (8, 10);
    let gray: Vec<u8> = texture(w * h, 255, 4).into_iter().map(|v| v as u8).collect();
    let interleaved: Vec<u8> = gray.iter().flat_map(|&g| [g, 255 - g]).collect();
    let bytes = encode_png(w as u32, h as u32, ::png::ColorType::GrayscaleAlpha, ::png::BitDepth::Eight, &interleaved);
    let img = decode(&bytes, &opts()).unwrap();
    assert_eq!(img.channels, 1);
    assert_eq!(img.pixels, PixelBuffer::U8(gray));
}

#[test]
fn png_palette_expands_to_rgb() {
    let (w, h) = (8, 8);
    let palette: Vec<u8> = (0..4u8).flat_map(|i| [i * 60, i * 30, 255 - i * 50]).collect();
    let idx: Vec<u8> = (0..w * h).map(|i| (i % 4) as u8).collect();
    let bytes = encode_png_with(w, h, ::png::ColorType::Indexed, ::png::BitDepth::Eight, &idx, |e| {
        e.set_palette(palette.clone())
    });
    let img = decode(&bytes, &opts()).unwrap();
    assert_eq!(img.channels, 3);
    let expected: Vec<u8> = idx.iter().flat_map(|&i| palette[3 * i as usize..3 * i as usize + 3].to_vec()).collect();
    assert_eq!(img.pixels, PixelBuffer::U8(expected));
}

#[test]
fn png_low_bit_gray_expands_to_8_bits() {
    // 4-bit gray: two pixels per byte, the crate scales values to 0..=255.
    let (w, h) = (8u32, 2u32);
    let packed = vec![0x0F_u8, 0x37, 0x9C, 0xF0, 0x12, 0x34, 0x56, 0x78];
    let bytes = encode_png(w, h, ::png::ColorType::Grayscale, ::png::BitDepth::Four, &packed);
    let img = decode(&bytes, &opts()).unwrap();
    assert_eq!((img.channels, img.bit_depth), (1, 4));
    let PixelBuffer::U8(v) = img.pixels else { panic!("expected u8") };
    assert_eq!(v.len(), 16);
    assert_eq!(&v[..4], &[0, 255, 3 * 17, 7 * 17]);
}

/// A PNG signature + IHDR with a valid CRC and nothing else.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit gray, deflate, adaptive filter, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(13u32.to_be_bytes());
    out.extend(&ihdr);
    out.extend(crc32(&ihdr).to_be_bytes());
    out
}

pub(super) fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn png_bomb_header_is_refused_before_allocation() {
    let bytes = png_header_only(100_000, 100_000);
    let err = decode(&bytes, &opts()).unwrap_err();
    assert_eq!(err.kind(), "too_large");
    let msg = err.to_string();
    assert!(msg.contains("100000x100000") && msg.contains("100000000"), "{msg}");
    // The limit is configurable, and checked against the header only.
    let small = DecodeOptions { max_pixels: 100 };
    let px = vec![7u8; 20 * 20];
    let ok = encode_png(20, 20, ::png::ColorType::Grayscale, ::png::BitDepth::Eight, &px);
    assert_eq!(decode(&ok, &small).unwrap_err().kind(), "too_large");
}

#[test]
fn png_truncated_and_corrupt_are_errors() {
    let (w, h) = (64, 64);
    let px: Vec<u8> = texture(w * h, 255, 5).into_iter().map(|v| v as u8).collect();
    let bytes = encode_png(w as u32, h as u32, ::png::ColorType::Grayscale, ::png::BitDepth::Eight, &px);
    for cut in [bytes.len() / 2, bytes.len() - 20, 40, 12] {
        let err = decode(&bytes[..cut], &opts()).unwrap_err();
        assert_eq!(err.kind(), "corrupt", "cut at {cut}: {err}");
        assert_eq!(err.format(), Some(Format::Png));
    }
    let header_only = png_header_only(16, 16);
    assert_eq!(decode(&header_only, &opts()).unwrap_err().kind(), "corrupt");
    // Flip bytes inside the compressed data: CRC / zlib checks must catch it.
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 16] {
        *b ^= 0x5A;
    }
    assert_eq!(decode(&flipped, &opts()).unwrap_err().kind(), "corrupt");
}

// ---------------------------------------------------------------- generic

#[test]
fn empty_random_and_foreign_formats() {
    assert_eq!(decode(&[], &opts()).unwrap_err().kind(), "empty");
    let random: Vec<u8> = texture(4096, 255, 9).into_iter().map(|v| v as u8).collect();
    let err = decode(&random, &opts()).unwrap_err();
    assert_eq!(err.kind(), "not_an_image");
    assert!(err.to_string().contains("first bytes"), "{err}");
    let err = decode(b"GIF89a\x01\x00\x01\x00", &opts()).unwrap_err();
    assert_eq!(err.kind(), "unsupported_format");
    assert!(err.to_string().contains("GIF"));
    assert_eq!(decode(b"hello, world\n", &opts()).unwrap_err().kind(), "not_an_image");
}

#[test]
fn sniff_ignores_names_and_knows_dicom_without_preamble() {
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\n....").unwrap(), Some(Format::Png));
    assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(), Some(Format::Jpeg));
    assert_eq!(sniff(b"II*\0").unwrap(), Some(Format::Tiff));
    assert_eq!(sniff(b"MM\0*").unwrap(), Some(Format::Tiff));
    let mut dcm = vec![0u8; 128];
    dcm.extend(b"DICM");
    assert_eq!(sniff(&dcm).unwrap(), Some(Format::Dicom));
    assert_eq!(sniff(b"DICM\x02\x00").unwrap(), Some(Format::Dicom));
    assert_eq!(sniff(&[0u8; 200]).unwrap(), None);
}

// ---------------------------------------------------------------- JPEG

fn encode_jpeg(w: u16, h: u16, data: &[u8], color: jpeg_encoder::ColorType) -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 95).encode(data, w, h, color).unwrap();
    out
}

fn mean_abs_diff(a: &[u8], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| (f64::from(x) - y).abs()).sum::<f64>() / a.len() as f64
}

#[test]
fn jpeg_gray_decodes_to_luma() {
    let (w, h) = (64usize, 48usize);
    let px: Vec<u8> = texture(w * h, 255, 11).into_iter().map(|v| v as u8).collect();
    let bytes = encode_jpeg(w as u16, h as u16, &px, jpeg_encoder::ColorType::Luma);
    let img = decode(&bytes, &opts()).unwrap();
    assert_eq!((img.height, img.width, img.channels, img.bit_depth), (h, w, 1, 8));
    let PixelBuffer::U8(out) = &img.pixels else { panic!("expected u8") };
    let reference: Vec<f64> = px.iter().map(|&v| f64::from(v)).collect();
    assert!(mean_abs_diff(out, &reference) < 4.0);
}

#[test]
fn jpeg_rgb_decodes_to_bt601_luma() {
    let (w, h) = (40usize, 32usize);
    let rgb: Vec<u8> = texture(w * h * 3, 255, 12).into_iter().map(|v| v as u8).collect();
    let bytes = encode_jpeg(w as u16, h as u16, &rgb, jpeg_encoder::ColorType::Rgb);
    let img = decode(&bytes, &opts()).unwrap();
    assert_eq!(img.channels, 1);
    let luma: Vec<f64> = rgb
        .chunks_exact(3)
        .map(|c| 0.299 * f64::from(c[0]) + 0.587 * f64::from(c[1]) + 0.114 * f64::from(c[2]))
        .collect();
    let PixelBuffer::U8(out) = &img.pixels else { panic!("expected u8") };
    // 4:2:0 chroma subsampling does not touch Y; only quantisation differs.
    assert!(mean_abs_diff(out, &luma) < 4.0, "{}", mean_abs_diff(out, &luma));
}

#[test]
fn jpeg_truncated_is_an_error_not_a_grey_image() {
    let (w, h) = (64usize, 64usize);
    let px: Vec<u8> = texture(w * h, 255, 13).into_iter().map(|v| v as u8).collect();
    let bytes = encode_jpeg(w as u16, h as u16, &px, jpeg_encoder::ColorType::Luma);
    for cut in [bytes.len() * 2 / 3, bytes.len() / 3, 4] {
        let err = decode(&bytes[..cut], &opts()).unwrap_err();
        assert_eq!(err.format(), Some(Format::Jpeg), "cut at {cut}: {err}");
    }
}

// ---------------------------------------------------------------- TIFF

#[test]
fn tiff_gray16_and_rgb8() {
    use ::tiff::encoder::{colortype, TiffEncoder};
    let (w, h) = (30u32, 20u32);
    let px: Vec<u16> = texture((w * h) as usize, 4095, 21).into_iter().map(|v| v as u16).collect();
    let mut buf = Cursor::new(Vec::new());
    TiffEncoder::new(&mut buf).unwrap().write_image::<colortype::Gray16>(w, h, &px).unwrap();
    let img = decode(buf.get_ref(), &opts()).unwrap();
    assert_eq!((img.format, img.channels, img.bit_depth), (Format::Tiff, 1, 16));
    assert_eq!(img.pixels, PixelBuffer::U16(px));

    let rgb: Vec<u8> = texture((w * h * 3) as usize, 255, 22).into_iter().map(|v| v as u8).collect();
    let mut buf = Cursor::new(Vec::new());
    TiffEncoder::new(&mut buf).unwrap().write_image::<colortype::RGB8>(w, h, &rgb).unwrap();
    let img = decode(buf.get_ref(), &opts()).unwrap();
    assert_eq!(img.channels, 3);
    assert_eq!(img.pixels, PixelBuffer::U8(rgb));

    let bytes = buf.into_inner();
    assert_eq!(decode(&bytes[..bytes.len() / 2], &opts()).unwrap_err().kind(), "corrupt");
}

// ---------------------------------------------------------------- DICOM

mod dicom_build {
    use dicom_core::value::PrimitiveValue;
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::{tags, uids};
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

    /// Attributes of a synthetic CR image.
    pub struct Spec {
        pub rows: u16,
        pub cols: u16,
        pub spp: u16,
        pub photometric: &'static str,
        pub bits_allocated: u16,
        pub bits_stored: u16,
        pub signed: bool,
        pub planar: u16,
        pub rescale: Option<(f64, f64)>,
        pub spacing: Option<&'static str>,
        pub imager_spacing: Option<&'static str>,
        pub frames: Option<&'static str>,
        pub pixel_data: Option<Vec<u8>>,
        pub transfer_syntax: &'static str,
    }

    impl Default for Spec {
        fn default() -> Self {
            Spec {
                rows: 16,
                cols: 12,
                spp: 1,
                photometric: "MONOCHROME2",
                bits_allocated: 16,
                bits_stored: 12,
                signed: false,
                planar: 0,
                rescale: None,
                spacing: None,
                imager_spacing: None,
                frames: None,
                pixel_data: None,
                transfer_syntax: uids::EXPLICIT_VR_LITTLE_ENDIAN,
            }
        }
    }

    pub fn object(spec: &Spec) -> InMemDicomObject {
        let mut obj = InMemDicomObject::from_element_iter([
            DataElement::new(tags::SOP_CLASS_UID, VR::UI, uids::COMPUTED_RADIOGRAPHY_IMAGE_STORAGE),
            DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "2.25.1234567890"),
            DataElement::new(tags::MODALITY, VR::CS, "CR"),
            DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(spec.rows)),
            DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(spec.cols)),
            DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(spec.spp)),
            DataElement::new(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, spec.photometric),
            DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(spec.bits_allocated)),
            DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(spec.bits_stored)),
            DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(spec.bits_stored - 1)),
            DataElement::new(tags::PIXEL_REPRESENTATION, VR::US, PrimitiveValue::from(u16::from(spec.signed))),
        ]);
        if spec.spp > 1 {
            obj.put(DataElement::new(tags::PLANAR_CONFIGURATION, VR::US, PrimitiveValue::from(spec.planar)));
        }
        if let Some((slope, intercept)) = spec.rescale {
            obj.put(DataElement::new(tags::RESCALE_SLOPE, VR::DS, slope.to_string()));
            obj.put(DataElement::new(tags::RESCALE_INTERCEPT, VR::DS, intercept.to_string()));
        }
        if let Some(s) = spec.spacing {
            obj.put(DataElement::new(tags::PIXEL_SPACING, VR::DS, s));
        }
        if let Some(s) = spec.imager_spacing {
            obj.put(DataElement::new(tags::IMAGER_PIXEL_SPACING, VR::DS, s));
        }
        if let Some(f) = spec.frames {
            obj.put(DataElement::new(tags::NUMBER_OF_FRAMES, VR::IS, f));
        }
        if let Some(data) = &spec.pixel_data {
            let vr = if spec.bits_allocated == 8 { VR::OB } else { VR::OW };
            obj.put(DataElement::new(tags::PIXEL_DATA, vr, PrimitiveValue::from(data.clone())));
        }
        obj
    }

    pub fn file_bytes(obj: InMemDicomObject, transfer_syntax: &str) -> Vec<u8> {
        let file = obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(transfer_syntax)).unwrap();
        let mut out = Vec::new();
        file.write_all(&mut out).unwrap();
        out
    }

    pub fn build(spec: &Spec) -> Vec<u8> {
        file_bytes(object(spec), spec.transfer_syntax)
    }
}

use dicom_build::{build, Spec};

fn le16(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn dicom_native_12_bit_masks_high_bits_and_records_spacing() {
    let n = 16 * 12;
    let stored: Vec<u16> = texture(n, 4095, 31).into_iter().map(|v| v as u16).collect();
    // Garbage in the unused top nibble (e.g. burned-in overlay bits) must be masked.
    let raw: Vec<u16> = stored.iter().enumerate().map(|(i, &v)| v | (((i % 16) as u16) << 12)).collect();
    let bytes = build(&Spec { pixel_data: Some(le16(&raw)), spacing: Some("0.139\\0.139"), ..Spec::default() });
    assert_eq!(&bytes[128..132], b"DICM");
    let img = decode(&bytes, &opts()).unwrap();
    assert_eq!((img.format, img.height, img.width, img.channels, img.bit_depth), (Format::Dicom, 16, 12, 1, 12));
    assert_eq!(img.pixels, PixelBuffer::U16(stored));
    assert_eq!(img.pixel_spacing_mm, Some(0.139));
}

#[test]
fn dicom_monochrome1_is_inverted_within_the_stored_range() {
    let n = 16 * 12;
    let stored: Vec<u16> = texture(n, 4095, 32).into_iter().map(|v| v as u16).collect();
    let spec = |pi| Spec {
        photometric: pi,
        pixel_data: Some(le16(&stored)),
        imager_spacing: Some("0.2\\0.2"),
        ..Spec::default()
    };
    let mono2 = decode(&build(&spec("MONOCHROME2")), &opts()).unwrap();
    let mono1 = decode(&build(&spec("MONOCHROME1")), &opts()).unwrap();
    let (PixelBuffer::U16(a), PixelBuffer::U16(b)) = (&mono2.pixels, &mono1.pixels) else { panic!() };
    assert!(a.iter().zip(b).all(|(&x, &y)| u32::from(x) + u32::from(y) == 4095));
    assert_eq!(mono1.pixel_spacing_mm, Some(0.2), "ImagerPixelSpacing is the fallback");
}

#[test]
fn dicom_rescale_and_signed_samples() {
    let n = 16 * 12;
    let stored: Vec<i16> = texture(n, 4000, 33).into_iter().map(|v| v as i16 - 2000).collect();
    let raw: Vec<u16> = stored.iter().map(|&v| (v as u16) & 0x0FFF).collect(); // 12-bit two's complement
    let spec = Spec { signed: true, pixel_data: Some(le16(&raw)), ..Spec::default() };
    let img = decode(&build(&spec), &opts()).unwrap();
    assert_eq!(img.pixels, PixelBuffer::I16(stored.clone()));

    let spec = Spec { rescale: Some((0.5, -1024.0)), ..spec };
    let img = decode(&build(&spec), &opts()).unwrap();
    let expected: Vec<f64> = stored.iter().map(|&v| f64::from(v) * 0.5 - 1024.0).collect();
    assert_eq!(img.pixels, PixelBuffer::F64(expected));

    // MONOCHROME1 with a rescale mirrors the modality range: m1 + m2 = const.
    let m1 = decode(&build(&Spec { photometric: "MONOCHROME1", ..spec }), &opts()).unwrap();
    let (PixelBuffer::F64(a), PixelBuffer::F64(b)) = (&img.pixels, &m1.pixels) else { panic!() };
    let sum = a[0] + b[0];
    assert!(a.iter().zip(b).all(|(x, y)| (x + y - sum).abs() < 1e-9));
}

#[test]
fn dicom_8_bit_and_rgb_planar() {
    let n = 10 * 8;
    let gray: Vec<u8> = texture(n, 255, 34).into_iter().map(|v| v as u8).collect();
    let spec = Spec {
        rows: 10,
        cols: 8,
        bits_allocated: 8,
        bits_stored: 8,
        pixel_data: Some(gray.clone()),
        ..Spec::default()
    };
    let img = decode(&build(&spec), &opts()).unwrap();
    assert_eq!(img.pixels, PixelBuffer::U8(gray));

    let rgb: Vec<u8> = texture(n * 3, 255, 35).into_iter().map(|v| v as u8).collect();
    let planar: Vec<u8> = (0..3).flat_map(|c| rgb.iter().skip(c).step_by(3).copied().collect::<Vec<_>>()).collect();
    for (planar_cfg, data) in [(0, rgb.clone()), (1, planar)] {
        let spec = Spec {
            rows: 10,
            cols: 8,
            spp: 3,
            photometric: "RGB",
            bits_allocated: 8,
            bits_stored: 8,
            planar: planar_cfg,
            pixel_data: Some(data),
            ..Spec::default()
        };
        let img = decode(&build(&spec), &opts()).unwrap();
        assert_eq!(img.channels, 3);
        assert_eq!(img.pixels, PixelBuffer::U8(rgb.clone()), "planar={planar_cfg}");
    }
}

#[test]
fn dicom_jpeg_baseline_via_dicom_rs() {
    use dicom_pixeldata::Transcode;
    let (rows, cols) = (32u16, 40u16);
    let n = usize::from(rows) * usize::from(cols);
    let gray: Vec<u8> = texture(n, 255, 36).into_iter().map(|v| v as u8).collect();
    let spec =
        Spec { rows, cols, bits_allocated: 8, bits_stored: 8, pixel_data: Some(gray.clone()), ..Spec::default() };
    let mut file = dicom_build::object(&spec)
        .with_meta(dicom_object::FileMetaTableBuilder::new().transfer_syntax(spec.transfer_syntax))
        .unwrap();
    file.transcode(&dicom_transfer_syntax_registry::entries::JPEG_BASELINE.erased()).unwrap();
    let mut bytes = Vec::new();
    file.write_all(&mut bytes).unwrap();
    let img = decode(&bytes, &opts()).unwrap();
    assert_eq!((img.height, img.width, img.channels), (usize::from(rows), usize::from(cols), 1));
    let PixelBuffer::U8(out) = &img.pixels else { panic!("expected u8") };
    let reference: Vec<f64> = gray.iter().map(|&v| f64::from(v)).collect();
    assert!(mean_abs_diff(out, &reference) < 6.0);
}

#[test]
fn dicom_acquisition_tags_are_read_and_hostile_values_become_null_or_clean() {
    use dicom_core::value::PrimitiveValue;
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;

    use super::dicom_tags::{MAX_TEXT_CHARS, NUMBER_TAGS, TEXT_TAGS};

    let spec = Spec { pixel_data: Some(vec![0; 16 * 12 * 2]), spacing: Some("0.15\\0.15"), ..Spec::default() };
    let mut obj = dicom_build::object(&spec);
    let long = "X".repeat(200);
    for (tag, vr, value) in [
        (tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"),
        (tags::MANUFACTURER, VR::LO, "  AGFA\0"),
        (tags::MANUFACTURER_MODEL_NAME, VR::LO, "CR 85-X"),
        (tags::STATION_NAME, VR::SH, "ST\u{1b}[31mA\u{202E}1\u{7}"),
        (tags::INSTITUTION_NAME, VR::LO, long.as_str()),
        (tags::VIEW_POSITION, VR::CS, "PA "),
        (tags::DETECTOR_TYPE, VR::CS, "\u{0}\u{1}  "),
        (tags::KVP, VR::DS, "125.0"),
        (tags::EXPOSURE, VR::IS, "abc"),
        (tags::EXPOSURE_INU_AS, VR::IS, "2500"),
        (tags::X_RAY_TUBE_CURRENT, VR::IS, "-5"),
        (tags::EXPOSURE_TIME, VR::IS, "0"),
        (tags::EXPOSURE_TIME_INU_S, VR::DS, "NaN"),
    ] {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
    }
    let img = decode(&dicom_build::file_bytes(obj, spec.transfer_syntax), &opts()).unwrap();
    let tags = img.dicom.expect("a DICOM image carries its tags");
    let text = |name: &str| tags.text[TEXT_TAGS.iter().position(|(n, _)| *n == name).unwrap()].clone();
    let number = |name: &str| tags.numbers[NUMBER_TAGS.iter().position(|(n, _, _)| *n == name).unwrap()];
    assert_eq!(text("dicom_modality").as_deref(), Some("CR"));
    assert_eq!(text("dicom_manufacturer").as_deref(), Some("AGFA"));
    assert_eq!(text("dicom_model").as_deref(), Some("CR 85-X"));
    assert_eq!(text("dicom_station").as_deref(), Some("ST[31mA1"), "control and bidi characters are dropped");
    assert_eq!(text("dicom_institution").map(|s| s.chars().count()), Some(MAX_TEXT_CHARS));
    assert_eq!(text("dicom_view").as_deref(), Some("PA"));
    assert_eq!(text("dicom_detector_type"), None, "nothing but controls and blanks is null");
    assert_eq!(text("dicom_grid"), None, "absent");
    assert_eq!(number("dicom_kvp"), Some(125.0));
    assert_eq!(number("dicom_exposure_mas"), Some(2.5), "unreadable Exposure falls back to ExposureInuAs / 1000");
    assert_eq!(number("dicom_tube_current_ma"), None, "negative");
    assert_eq!(number("dicom_exposure_time_ms"), None, "zero, then NaN");
    assert_eq!(img.pixel_spacing_mm, Some(0.15));

    let png = decode(&encode_png(4, 4, ::png::ColorType::Grayscale, ::png::BitDepth::Eight, &[7; 16]), &opts());
    assert!(png.unwrap().dicom.is_none());
}

#[test]
fn dicom_errors_name_the_problem() {
    // No pixel data at all (e.g. a structured report).
    let err = decode(&build(&Spec::default()), &opts()).unwrap_err();
    assert_eq!(err.kind(), "no_pixel_data");

    // Pixel data shorter than Rows x Columns x 2 bytes.
    let err = decode(&build(&Spec { pixel_data: Some(vec![0; 100]), ..Spec::default() }), &opts()).unwrap_err();
    assert_eq!(err.kind(), "corrupt");
    assert!(err.to_string().contains("truncated"), "{err}");

    // Rows x Columns over the pixel limit, refused before any pixel is decoded.
    let err =
        decode(&build(&Spec { rows: 60000, cols: 60000, pixel_data: Some(vec![0; 64]), ..Spec::default() }), &opts())
            .unwrap_err();
    assert_eq!(err.kind(), "too_large");

    // JPEG 2000 has no Rust decoder here: the message names syntax and extra.
    let j2k = Spec { pixel_data: Some(vec![0; 16 * 12 * 2]), ..Spec::default() };
    let bytes = dicom_build::file_bytes(dicom_build::object(&j2k), "1.2.840.10008.1.2.4.90");
    let err = decode(&bytes, &opts()).unwrap_err();
    assert_eq!(err.kind(), "unsupported_transfer_syntax");
    let msg = err.to_string();
    assert!(
        msg.contains("JPEG 2000") && msg.contains("1.2.840.10008.1.2.4.90") && msg.contains("spectral-fast[dicom]"),
        "{msg}"
    );

    // Multi-frame objects are refused rather than silently reduced to frame 0.
    let multi = Spec { frames: Some("2"), pixel_data: Some(vec![0; 16 * 12 * 4]), ..Spec::default() };
    assert_eq!(decode(&build(&multi), &opts()).unwrap_err().kind(), "unsupported");

    // A DICOM whose body is cut short.
    let full = build(&Spec { pixel_data: Some(vec![1; 16 * 12 * 2]), ..Spec::default() });
    for cut in [140, 200, full.len() - 50] {
        let err = decode(&full[..cut], &opts()).unwrap_err();
        assert_eq!(err.format(), Some(Format::Dicom), "cut at {cut}: {err}");
    }
}

// ---------------------------------------------------------------- real files

fn real_dir() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cxr-real/images");
    dir.is_dir().then_some(dir)
}

#[test]
fn real_dicom_pair_is_the_same_image_inverted() {
    let Some(dir) = real_dir() else {
        eprintln!("skipped: ../shared/data/cxr-real not found");
        return;
    };
    let read = |name: &str| decode(&std::fs::read(dir.join(name)).unwrap(), &opts()).unwrap();
    let mono2 = read("siim__1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm");
    let mono1 = read("siim__Fake_MONOHR1.dcm");
    assert_eq!((mono2.height, mono2.width, mono2.bit_depth), (1024, 1024, 8));
    let (PixelBuffer::U8(a), PixelBuffer::U8(b)) = (&mono2.pixels, &mono1.pixels) else { panic!() };
    assert!(a.iter().zip(b).all(|(&x, &y)| u16::from(x) + u16::from(y) == 255));
}

#[test]
fn real_pngs_all_decode_directly_as_through_the_png_crate_and_three_are_rgba() {
    let Some(dir) = real_dir() else {
        eprintln!("skipped: ../shared/data/cxr-real not found");
        return;
    };
    let (mut gray, mut rgba) = (0, 0);
    for path in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
        if path.extension().and_then(|e| e.to_str()) != Some("png") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let img = decode(&bytes, &opts()).unwrap();
        // NIH's 8-bit gray and Hannover's RGBA PNGs are all in the direct path's scope.
        let direct = png_direct::decode(&bytes, &opts()).unwrap_or_else(|| panic!("{path:?}: not decoded directly"));
        assert_eq!(direct.pixels, png::decode_with_crate(&bytes, &opts()).unwrap().pixels, "{path:?}");
        assert_eq!(img.view().check(), Ok(()), "{path:?}");
        assert!(img.width >= 512 && img.height >= 512, "{path:?}");
        match img.channels {
            1 => gray += 1,
            4 => rgba += 1,
            c => panic!("{path:?}: {c} channels"),
        }
    }
    assert_eq!((gray, rgba), (195, 3));
}
