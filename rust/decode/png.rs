//! PNG via the `png` crate (>= 0.18, the fdeflate rewrite: 2.5x faster than 0.17),
//! after the direct path of [`super::png_direct`] for the common layouts.
//!
//! Gray stays gray at its own bit depth (8 or 16); palette, gray < 8 bit and
//! tRNS are expanded by the crate. RGB(A) keeps its channels so the core makes
//! luma exactly as the numpy reference does; a gray+alpha image drops alpha.

use std::io::Cursor;

use super::{check_size, DecodeError, DecodeOptions, DecodedImage, Format, PixelBuffer};

pub(super) fn decode(bytes: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    match super::png_direct::decode(bytes, options) {
        Some(image) => Ok(image),
        None => decode_with_crate(bytes, options),
    }
}

/// Any PNG, through the png crate.
pub(super) fn decode_with_crate(bytes: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    let mut decoder = ::png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(::png::Transformations::EXPAND);
    decoder.set_ignore_text_chunk(true);
    // Only IHDR is parsed here, so the size check precedes every large allocation.
    let header = decoder.read_header_info().map_err(map_error)?;
    let (width, height) = (header.width, header.height);
    let source_depth = header.bit_depth as u8;
    check_size(Format::Png, width.into(), height.into(), options)?;

    let mut reader = decoder.read_info().map_err(map_error)?;
    let (color, depth) = reader.output_color_type();
    let len =
        reader.output_buffer_size().ok_or_else(|| DecodeError::corrupt(Format::Png, "image size overflows memory"))?;
    let samples = color.samples();
    let pixels = match depth {
        ::png::BitDepth::Sixteen => {
            let mut buf = vec![0u16; len / 2];
            reader.next_frame(u16_bytes_mut(&mut buf)).map_err(map_error)?;
            Samples::BigEndian16(buf)
        }
        ::png::BitDepth::Eight => {
            let mut buf = vec![0u8; len];
            reader.next_frame(&mut buf).map_err(map_error)?;
            Samples::Eight(buf)
        }
        other => {
            // EXPAND widens every depth below 8; anything else is a crate contract change.
            return Err(DecodeError::unsupported(Format::Png, format!("output bit depth {other:?}")));
        }
    };
    Ok(png_image(pixels, height as usize, width as usize, samples, source_depth))
}

/// Decoded PNG samples, `samples` interleaved per pixel, as the file stores them.
pub(super) enum Samples {
    Eight(Vec<u8>),
    /// 16-bit samples with PNG's big-endian byte order.
    BigEndian16(Vec<u16>),
}

/// The image of decoded samples: 16-bit samples put in native byte order,
/// gray+alpha reduced to gray; `source_depth` is the file's bit depth.
pub(super) fn png_image(
    pixels: Samples,
    height: usize,
    width: usize,
    samples: usize,
    source_depth: u8,
) -> DecodedImage {
    let pixels = match pixels {
        Samples::Eight(buf) => PixelBuffer::U8(drop_gray_alpha(buf, samples)),
        Samples::BigEndian16(mut buf) => {
            buf.iter_mut().for_each(|v| *v = u16::from_be(*v));
            PixelBuffer::U16(drop_gray_alpha(buf, samples))
        }
    };
    DecodedImage {
        pixels,
        height,
        width,
        channels: if samples == 2 { 1 } else { samples },
        format: Format::Png,
        bit_depth: source_depth,
        pixel_spacing_mm: None,
        dicom: None,
    }
}

/// Keep only the gray sample of a gray+alpha buffer, in place (alpha carries no
/// radiograph signal, and the core takes 1, 3 or 4 channels).
fn drop_gray_alpha<T: Copy>(mut buf: Vec<T>, samples: usize) -> Vec<T> {
    if samples != 2 {
        return buf;
    }
    let n = buf.len() / 2;
    for i in 0..n {
        buf[i] = buf[2 * i];
    }
    buf.truncate(n);
    buf.shrink_to_fit();
    buf
}

/// The bytes of a u16 buffer, so the decoder writes straight into it (no copy).
pub(super) fn u16_bytes_mut(buf: &mut [u16]) -> &mut [u8] {
    // SAFETY: u8 has alignment 1 and every bit pattern is a valid u16, and the
    // byte slice covers exactly the memory of `buf`, which it borrows mutably.
    unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), buf.len() * 2) }
}

fn map_error(err: ::png::DecodingError) -> DecodeError {
    match err {
        ::png::DecodingError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::corrupt(Format::Png, "file is truncated (unexpected end of data)")
        }
        ::png::DecodingError::LimitsExceeded => {
            DecodeError::corrupt(Format::Png, "decoder memory limit exceeded (implausible header)")
        }
        other => DecodeError::corrupt(Format::Png, other),
    }
}
