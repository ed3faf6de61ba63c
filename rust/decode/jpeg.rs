//! JPEG via zune-jpeg, decoded straight to luma.
//!
//! zune-jpeg outputs RGB by default even for gray JPEGs (3x the memory), so
//! the output colour space is set to Luma: for a gray JPEG that is the image;
//! for YCbCr it is the Y plane, which is the BT.601 luma the method specifies.
//! Strict mode makes truncated or corrupt streams errors instead of images
//! padded with grey, which would otherwise be profiled as if they were real;
//! a scan closed early by an EOI marker slips through strict mode, so
//! `jpeg_scan::check_complete` walks the entropy-coded data first.

use zune_jpeg::errors::DecodeErrors;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::{check_size, DecodeError, DecodeOptions, DecodedImage, Format, PixelBuffer};

pub(super) fn decode(bytes: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    // JPEG dimensions are u16, so the crate's own 16384 cap is lifted to the
    // format's maximum and our pixel limit is the only size guard.
    let zune_options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::Luma)
        .set_strict_mode(true)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), zune_options);
    decoder.decode_headers().map_err(map_error)?;
    let info = decoder.info().ok_or_else(|| DecodeError::corrupt(Format::Jpeg, "no frame header"))?;
    let (width, height) = (usize::from(info.width), usize::from(info.height));
    check_size(Format::Jpeg, width as u64, height as u64, options)?;
    // Strict mode does not cover a scan that meets EOI early: zune-jpeg pads
    // it with grey and returns Ok. Our symbol walk does (no pixels allocated).
    super::jpeg_scan::check_complete(bytes).map_err(|e| DecodeError::corrupt(Format::Jpeg, e))?;

    let len = decoder
        .output_buffer_size()
        .ok_or_else(|| DecodeError::corrupt(Format::Jpeg, "image size overflows memory"))?;
    if len != width * height {
        return Err(DecodeError::unsupported(
            Format::Jpeg,
            format!("decoder would return {len} samples for a {width}x{height} luma image"),
        ));
    }
    let mut buf = vec![0u8; len];
    decoder.decode_into(&mut buf).map_err(map_error)?;
    Ok(DecodedImage {
        pixels: PixelBuffer::U8(buf),
        height,
        width,
        channels: 1,
        format: Format::Jpeg,
        bit_depth: 8,
        pixel_spacing_mm: None,
        dicom: None,
    })
}

fn map_error(err: DecodeErrors) -> DecodeError {
    match err {
        // 12-bit, lossless and hierarchical JPEGs are valid files the crate does
        // not decode: say "unsupported", not "corrupt", so users trust the file.
        DecodeErrors::Unsupported(_) => DecodeError::unsupported(Format::Jpeg, err),
        _ => DecodeError::corrupt(Format::Jpeg, err),
    }
}
