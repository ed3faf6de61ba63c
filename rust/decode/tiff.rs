//! TIFF via the `tiff` crate (uncompressed, LZW, Deflate, PackBits): cheap to
//! add, and some older radiograph collections ship 12/16-bit gray TIFFs.
//!
//! Only the first image of a multi-page file is read (later pages are
//! usually thumbnails). WhiteIsZero is inverted by the crate.

use std::io::Cursor;

use ::tiff::decoder::{Decoder, DecodingResult, Limits};
use ::tiff::tags::Tag;
use ::tiff::{ColorType, TiffError};

use super::{check_size, DecodeError, DecodeOptions, DecodedImage, Format, PixelBuffer};

pub(super) fn decode(bytes: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    // The crate reads the first directory with its default limits; check
    // that its entries fit in the file first. Then, until the image's own
    // size is known, nothing it reads may be larger than the file.
    super::tiff_scan::check_first_ifd(bytes)?;
    let mut decoder = Decoder::new(Cursor::new(bytes)).map_err(map_error)?.with_limits(limits(bytes.len(), 0));
    let (width, height) = decoder.dimensions().map_err(map_error)?;
    check_size(Format::Tiff, width.into(), height.into(), options)?;

    let color = decoder.colortype().map_err(map_error)?;
    let (channels, bits) = match color {
        ColorType::Gray(b) => (1, b),
        ColorType::GrayA(b) => (2, b),
        ColorType::RGB(b) => (3, b),
        ColorType::RGBA(b) => (4, b),
        other => {
            return Err(DecodeError::unsupported(Format::Tiff, format!("colour type {other:?}")));
        }
    };
    if bits < 8 {
        return Err(DecodeError::unsupported(Format::Tiff, format!("{bits}-bit samples")));
    }
    let planar = decoder.find_tag_unsigned::<u16>(Tag::PlanarConfiguration).map_err(map_error)?.unwrap_or(1);
    if planar == 2 && channels > 1 {
        // read_image returns only the first plane of planar images.
        return Err(DecodeError::unsupported(Format::Tiff, "planar (separate-plane) colour images"));
    }

    // The decoded buffer is exactly width x height x channels samples: allow
    // that (the crate's own default, 256 MiB, is both too small for large
    // 16-bit images and far above what a small hostile file needs).
    let sample_bytes = usize::from(bits).div_ceil(8);
    let image_bytes = (width as usize).saturating_mul(height as usize).saturating_mul(channels * sample_bytes);
    decoder = decoder.with_limits(limits(bytes.len(), image_bytes));
    let result = decoder.read_image().map_err(map_error)?;
    let pixels = match result {
        DecodingResult::U8(v) => PixelBuffer::U8(v),
        DecodingResult::U16(v) => PixelBuffer::U16(v),
        DecodingResult::I16(v) => PixelBuffer::I16(v),
        DecodingResult::F32(v) => PixelBuffer::F32(v),
        DecodingResult::F64(v) => PixelBuffer::F64(v),
        DecodingResult::I8(v) => PixelBuffer::I16(v.into_iter().map(i16::from).collect()),
        DecodingResult::F16(v) => PixelBuffer::F32(v.into_iter().map(f32::from).collect()),
        DecodingResult::U32(v) => PixelBuffer::F64(v.into_iter().map(f64::from).collect()),
        DecodingResult::I32(v) => PixelBuffer::F64(v.into_iter().map(f64::from).collect()),
        DecodingResult::U64(v) => PixelBuffer::F64(v.into_iter().map(|x| x as f64).collect()),
        DecodingResult::I64(v) => PixelBuffer::F64(v.into_iter().map(|x| x as f64).collect()),
    };
    let npix = width as usize * height as usize;
    if pixels.len() != npix * channels {
        return Err(DecodeError::corrupt(
            Format::Tiff,
            format!("decoded {} samples for {width}x{height}x{channels}", pixels.len()),
        ));
    }
    let (pixels, channels) = if channels == 2 { (gray_of_gray_alpha(pixels), 1) } else { (pixels, channels) };
    Ok(DecodedImage {
        pixels,
        height: height as usize,
        width: width as usize,
        channels,
        format: Format::Tiff,
        bit_depth: bits,
        pixel_spacing_mm: None,
        dicom: None,
    })
}

/// The crate's allocation limits for a file of `file_bytes` decoding to
/// `image_bytes`: compressed chunks are bounded by the file; the decoded
/// buffer by the image. The crate also bounds a tag's list of values (about
/// 32 bytes each, at most one per file byte) by `decoding_buffer_size`, hence
/// the floor of 32 bytes per file byte.
fn limits(file_bytes: usize, image_bytes: usize) -> Limits {
    let mut limits = Limits::default();
    limits.decoding_buffer_size = image_bytes.max(file_bytes.saturating_mul(32));
    limits.ifd_value_size = file_bytes.min(limits.ifd_value_size);
    limits.intermediate_buffer_size = file_bytes;
    limits
}

/// Drop the alpha of interleaved gray+alpha samples.
fn gray_of_gray_alpha(pixels: PixelBuffer) -> PixelBuffer {
    fn even<T: Copy>(v: Vec<T>) -> Vec<T> {
        v.into_iter().step_by(2).collect()
    }
    match pixels {
        PixelBuffer::U8(v) => PixelBuffer::U8(even(v)),
        PixelBuffer::U16(v) => PixelBuffer::U16(even(v)),
        PixelBuffer::I16(v) => PixelBuffer::I16(even(v)),
        PixelBuffer::F32(v) => PixelBuffer::F32(even(v)),
        PixelBuffer::F64(v) => PixelBuffer::F64(even(v)),
    }
}

fn map_error(err: TiffError) -> DecodeError {
    match err {
        TiffError::UnsupportedError(e) => DecodeError::unsupported(Format::Tiff, e),
        TiffError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::corrupt(Format::Tiff, "file is truncated (unexpected end of data)")
        }
        TiffError::LimitsExceeded => DecodeError::corrupt(
            Format::Tiff,
            "a value, strip or tile is larger than the file, or the data larger than the image",
        ),
        other => DecodeError::corrupt(Format::Tiff, other),
    }
}
