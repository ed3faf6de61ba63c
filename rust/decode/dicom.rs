//! DICOM via dicom-rs: uncompressed, deflated, RLE and JPEG baseline /
//! extended / lossless in pure Rust; other syntaxes are named in the error so
//! the Python layer can fall back to pydicom.
//!
//! dicom-pixeldata only undoes the transfer syntax here; the sample maths is
//! ours, because the profile needs modality values and nothing display-side:
//! BitsStored / HighBit mask the stored bits, RescaleSlope / RescaleIntercept
//! are applied, MONOCHROME1 is inverted within the stored range so that bright
//! always means more attenuation, and VOI windows are deliberately ignored.

use dicom_core::DicomValue;
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use dicom_pixeldata::{
    DecodedPixelData, PhotometricInterpretation, PixelDecoder, PixelRepresentation, PlanarConfiguration,
};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::{check_size, DecodeError, DecodeOptions, DecodedImage, Format, PixelBuffer};

pub(super) fn decode(bytes: &[u8], options: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    let body = if bytes.get(128..132) == Some(b"DICM") { &bytes[128..] } else { bytes };
    // Our iterative pre-scan first: dicom-rs recurses into nested sequences
    // (a stack overflow is not a catchable panic) and allocates declared
    // lengths before reading them. Past this point neither can go wrong.
    let meta = super::dicom_scan::prescan(body)?;
    if let Some(uid) = meta.transfer_syntax.as_deref() {
        if is_deflated(uid) {
            // The data set is compressed: dicom-rs is built without its
            // `deflate` feature, lists the syntax as decodable all the same
            // and would read the compressed bytes as elements. Enabling it
            // would need an inflate cap here first (nothing bounds the output).
            return Err(DecodeError::UnsupportedTransferSyntax {
                uid: uid.to_string(),
                name: if uid.ends_with(".99") {
                    "Deflated Explicit VR Little Endian"
                } else {
                    "JPIP Referenced Deflate"
                }
                .to_string(),
                plugin: "pydicom",
            });
        }
    }
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .from_reader(body)
        .map_err(|e| DecodeError::corrupt(Format::Dicom, error_chain(&e)))?;

    if obj.get(tags::PIXEL_DATA).is_none() {
        return Err(DecodeError::NoPixelData);
    }
    check_transfer_syntax(obj.meta().transfer_syntax())?;

    // Header values first: the pixel limit must hold before any codec allocates.
    let rows = int_attr(&obj, tags::ROWS, "Rows")?;
    let cols = int_attr(&obj, tags::COLUMNS, "Columns")?;
    check_size(Format::Dicom, cols, rows, options)?;
    let frames = match obj.get(tags::NUMBER_OF_FRAMES) {
        Some(e) => e.to_int::<i64>().unwrap_or(1),
        None => 1,
    };
    if frames > 1 {
        return Err(DecodeError::unsupported(
            Format::Dicom,
            format!("multi-frame object ({frames} frames); one radiograph per file is expected"),
        ));
    }

    check_sample_layout(&obj)?;
    check_native_length(&obj, rows * cols)?;
    check_encapsulated_frame(&obj, rows, cols, options)?;

    let px = obj.decode_pixel_data_frame(0).map_err(|e| DecodeError::corrupt(Format::Dicom, error_chain(&e)))?;
    let spacing = pixel_spacing(&obj);
    let mut image = convert(px)?;
    image.pixel_spacing_mm = spacing;
    image.dicom = Some(Box::new(super::dicom_tags::read(&obj)));
    Ok(image)
}

/// BitsAllocated and SamplesPerPixel size the codec's output buffer (the RLE
/// decoder allocates Rows x Columns x SamplesPerPixel x BitsAllocated / 8
/// before reading a byte): refuse values that no decodable image has, before
/// the codec runs. `convert` would refuse them afterwards anyway.
fn check_sample_layout(obj: &DefaultDicomObject) -> Result<(), DecodeError> {
    let bits = obj.get(tags::BITS_ALLOCATED).map(|e| e.to_int::<u64>().ok());
    if let Some(bits) = bits {
        if !matches!(bits, Some(8 | 16 | 32)) {
            let shown = bits.map_or("unreadable".to_string(), |b| b.to_string());
            return Err(DecodeError::unsupported(
                Format::Dicom,
                format!("BitsAllocated {shown} (8, 16 or 32 are decoded)"),
            ));
        }
    }
    let spp = obj.get(tags::SAMPLES_PER_PIXEL).map(|e| e.to_int::<u64>().ok());
    if let Some(spp) = spp {
        if !matches!(spp, Some(1 | 3)) {
            let shown = spp.map_or("unreadable".to_string(), |s| s.to_string());
            return Err(DecodeError::unsupported(
                Format::Dicom,
                format!("SamplesPerPixel {shown} (1 or 3 are decoded)"),
            ));
        }
    }
    Ok(())
}

fn is_deflated(uid: &str) -> bool {
    matches!(uid, "1.2.840.10008.1.2.1.99" | "1.2.840.10008.1.2.4.95")
}

/// An encapsulated frame must be the image the header describes: a JPEG whose
/// SOF says 65500 x 65500 inside a 64 x 64 object would make the codec
/// allocate gigabytes. Its header is read here, before any codec runs, and a
/// JPEG's scans are checked for completeness (jpeg-decoder pads a scan that
/// ends early with grey and calls it an image).
fn check_encapsulated_frame(
    obj: &DefaultDicomObject,
    rows: u64,
    cols: u64,
    options: &DecodeOptions,
) -> Result<(), DecodeError> {
    let Some(fragments) = obj.get(tags::PIXEL_DATA).and_then(|e| e.value().fragments()) else {
        return Ok(());
    };
    let Some(first) = fragments.iter().find(|f| !f.is_empty()) else {
        return Err(DecodeError::corrupt(Format::Dicom, "encapsulated pixel data without fragments"));
    };
    let is_jpeg = first.starts_with(&[0xFF, 0xD8]);
    let is_j2k = first.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) || first.starts_with(b"\0\0\0\x0cjP  \r\n\x87\n");
    if obj.meta().transfer_syntax() == "1.2.840.10008.1.2.5" {
        return check_rle_frame(first, fragments.len(), rows * cols, obj);
    }
    if !is_jpeg && !is_j2k {
        return Ok(()); // others: their decoders size output from Rows x Columns
    }
    // One frame per file (checked above): its bytes are all the fragments.
    let frame: Vec<u8> = if fragments.len() == 1 { Vec::new() } else { fragments.concat() };
    let frame: &[u8] = if fragments.len() == 1 { first } else { &frame };
    let header = super::jpeg_scan::frame_header(frame)
        .map_err(|e| DecodeError::corrupt(Format::Dicom, format!("embedded frame: {e}")))?;
    let (w, h) = (u64::from(header.width), u64::from(header.height));
    if (w, h) != (cols, rows) {
        check_size(Format::Dicom, w, h, options)?;
        return Err(DecodeError::corrupt(
            Format::Dicom,
            format!("embedded frame is {w}x{h} ({}) but Columns x Rows say {cols}x{rows}", header.what),
        ));
    }
    if is_jpeg {
        super::jpeg_scan::check_complete(frame)
            .map_err(|e| DecodeError::corrupt(Format::Dicom, format!("embedded JPEG: {e}")))?;
    }
    Ok(())
}

/// dicom-rs's RLE decoder trusts the segment header: a segment count of
/// 0xFFFFFFFF allocates 16 GiB, and segments shorter than Rows x Columns or
/// offsets past the fragment panic. Check the header and the decoded length
/// of every segment (a PackBits walk, no output) before it runs.
fn check_rle_frame(
    fragment: &[u8],
    fragments: usize,
    pixels: u64,
    obj: &DefaultDicomObject,
) -> Result<(), DecodeError> {
    let bad = |m: String| DecodeError::corrupt(Format::Dicom, format!("RLE frame: {m}"));
    if fragments != 1 {
        return Err(bad(format!("{fragments} fragments for one frame")));
    }
    if fragment.len() < 64 {
        return Err(bad(format!("{} bytes, shorter than its 64-byte header", fragment.len())));
    }
    let word =
        |i: usize| u32::from_le_bytes([fragment[4 * i], fragment[4 * i + 1], fragment[4 * i + 2], fragment[4 * i + 3]]);
    let spp = obj.get(tags::SAMPLES_PER_PIXEL).and_then(|e| e.to_int::<u64>().ok()).unwrap_or(1);
    let bits = obj.get(tags::BITS_ALLOCATED).and_then(|e| e.to_int::<u64>().ok()).unwrap_or(8);
    let expected = spp * (bits / 8);
    let segments = word(0) as u64;
    if segments != expected || segments > 15 {
        return Err(bad(format!("{segments} segments where SamplesPerPixel x BitsAllocated / 8 need {expected}")));
    }
    let mut offsets: Vec<usize> = (1..=segments as usize).map(|i| word(i) as usize).collect();
    offsets.push(fragment.len());
    for (i, pair) in offsets.windows(2).enumerate() {
        let (start, end) = (pair[0], pair[1]);
        // An offset past the fragment (a later one may still be in order).
        if start < 64 || start > end || end > fragment.len() {
            return Err(bad(format!("segment {i} at bytes {start}..{end} of {}", fragment.len())));
        }
        let decoded = packbits_len(&fragment[start..end], pixels);
        if decoded < pixels {
            return Err(bad(format!("segment {i} decodes to {decoded} bytes where Rows x Columns need {pixels}")));
        }
    }
    Ok(())
}

/// Bytes a PackBits segment decodes to, counted up to `cap`.
fn packbits_len(data: &[u8], cap: u64) -> u64 {
    let (mut pos, mut out) = (0usize, 0u64);
    while pos < data.len() && out < cap {
        let n = data[pos] as i8;
        pos += 1;
        if n >= 0 {
            let len = (n as usize + 1).min(data.len() - pos);
            out += len as u64;
            pos += len;
        } else if n != -128 {
            if pos >= data.len() {
                break;
            }
            out += (1 - i64::from(n)) as u64;
            pos += 1;
        }
    }
    out
}

/// Refuse syntaxes without a Rust decoder, naming them and the pydicom plugin.
fn check_transfer_syntax(uid: &str) -> Result<(), DecodeError> {
    let Some(ts) = TransferSyntaxRegistry.get(uid) else {
        return Err(DecodeError::unsupported(Format::Dicom, format!("unknown transfer syntax {uid}")));
    };
    if ts.can_decode_all() {
        return Ok(());
    }
    let plugin = match uid {
        // JPEG 2000 and High-Throughput JPEG 2000
        "1.2.840.10008.1.2.4.90"
        | "1.2.840.10008.1.2.4.91"
        | "1.2.840.10008.1.2.4.92"
        | "1.2.840.10008.1.2.4.93"
        | "1.2.840.10008.1.2.4.201"
        | "1.2.840.10008.1.2.4.202"
        | "1.2.840.10008.1.2.4.203" => "pydicom + pylibjpeg-openjpeg",
        // JPEG-LS lossless / near-lossless
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => "pydicom + pyjpegls",
        _ => "pydicom and its decoder plugins",
    };
    Err(DecodeError::UnsupportedTransferSyntax { uid: uid.to_string(), name: ts.name().to_string(), plugin })
}

fn int_attr(obj: &DefaultDicomObject, tag: dicom_core::Tag, name: &str) -> Result<u64, DecodeError> {
    obj.get(tag)
        .ok_or_else(|| DecodeError::corrupt(Format::Dicom, format!("missing {name}")))?
        .to_int::<u64>()
        .map_err(|e| DecodeError::corrupt(Format::Dicom, format!("bad {name}: {e}")))
}

/// Native (unencapsulated) pixel data must hold every sample the header
/// announces; dicom-rs would only say "frame out of range".
fn check_native_length(obj: &DefaultDicomObject, pixels: u64) -> Result<(), DecodeError> {
    let Some(DicomValue::Primitive(value)) = obj.get(tags::PIXEL_DATA).map(|e| e.value()) else {
        return Ok(());
    };
    let spp = obj.get(tags::SAMPLES_PER_PIXEL).and_then(|e| e.to_int::<u64>().ok()).unwrap_or(1);
    let bits = obj.get(tags::BITS_ALLOCATED).and_then(|e| e.to_int::<u64>().ok()).unwrap_or(8);
    let expected = pixels * spp * bits.div_ceil(8);
    let have = value.calculate_byte_len() as u64;
    if bits >= 8 && have < expected {
        return Err(DecodeError::corrupt(
            Format::Dicom,
            format!("pixel data is truncated: {have} bytes where Rows x Columns x SamplesPerPixel need {expected}"),
        ));
    }
    Ok(())
}

/// PixelSpacing, else ImagerPixelSpacing (detector plane), in mm. Two values
/// (row, column) are averaged: they are equal for the square pixels of CR/DX.
fn pixel_spacing(obj: &DefaultDicomObject) -> Option<f64> {
    [tags::PIXEL_SPACING, tags::IMAGER_PIXEL_SPACING].iter().find_map(|&tag| {
        let values = obj.get(tag)?.to_multi_float64().ok()?;
        let values: Vec<f64> = values.into_iter().take(2).collect();
        let ok = !values.is_empty() && values.iter().all(|v| v.is_finite() && *v > 0.0);
        ok.then(|| values.iter().sum::<f64>() / values.len() as f64)
    })
}

/// How stored samples sit in their allocated bits.
#[derive(Clone, Copy, Debug)]
struct Layout {
    bytes: usize,
    bits_stored: u32,
    shift: u32,
    signed: bool,
}

impl Layout {
    fn new(px: &DecodedPixelData<'_>) -> Result<Self, DecodeError> {
        let allocated = u32::from(px.bits_allocated());
        let stored = u32::from(px.bits_stored());
        let high = u32::from(px.high_bit());
        if !matches!(allocated, 8 | 16 | 32) {
            return Err(DecodeError::unsupported(
                Format::Dicom,
                format!("BitsAllocated {allocated} (8, 16 or 32 are decoded)"),
            ));
        }
        // HighBit is advisory in practice; trust it only when it is consistent.
        let top = if high + 1 >= stored && high < allocated { high + 1 } else { stored };
        if stored == 0 || stored > allocated {
            return Err(DecodeError::corrupt(
                Format::Dicom,
                format!("BitsStored {stored} with BitsAllocated {allocated}"),
            ));
        }
        Ok(Layout {
            bytes: allocated as usize / 8,
            bits_stored: stored,
            shift: top - stored,
            signed: px.pixel_representation() == PixelRepresentation::Signed,
        })
    }

    /// The stored value of one sample: shifted, masked to BitsStored, sign-extended.
    #[inline]
    fn value(&self, raw: u32) -> i64 {
        let mask = if self.bits_stored == 32 { u32::MAX } else { (1u32 << self.bits_stored) - 1 };
        let v = (raw >> self.shift) & mask;
        if self.signed && self.bits_stored < 32 && v >> (self.bits_stored - 1) == 1 {
            i64::from(v) - (1i64 << self.bits_stored)
        } else if self.signed && self.bits_stored == 32 {
            i64::from(v as i32)
        } else {
            i64::from(v)
        }
    }

    /// Smallest and largest representable stored values.
    fn range(&self) -> (i64, i64) {
        if self.signed {
            (-(1i64 << (self.bits_stored - 1)), (1i64 << (self.bits_stored - 1)) - 1)
        } else {
            (0, (1i64 << self.bits_stored) - 1)
        }
    }

    /// Stored values of the first `n` samples (little-endian native data).
    fn values(&self, data: &[u8], n: usize) -> Vec<i64> {
        let data = &data[..n * self.bytes];
        match self.bytes {
            1 => data.iter().map(|&b| self.value(u32::from(b))).collect(),
            2 => data.chunks_exact(2).map(|c| self.value(u32::from(u16::from_le_bytes([c[0], c[1]])))).collect(),
            _ => data.chunks_exact(4).map(|c| self.value(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect(),
        }
    }
}

fn convert(px: DecodedPixelData<'_>) -> Result<DecodedImage, DecodeError> {
    let (height, width) = (px.rows() as usize, px.columns() as usize);
    let spp = usize::from(px.samples_per_pixel());
    let layout = Layout::new(&px)?;
    let n = height * width * spp;
    let have = px.data().len();
    if have < n * layout.bytes {
        return Err(DecodeError::corrupt(
            Format::Dicom,
            format!(
                "pixel data is truncated: {have} bytes for {width}x{height}x{spp} samples of {} bytes",
                layout.bytes
            ),
        ));
    }
    let pi = px.photometric_interpretation().clone();
    let rescale = px.rescale().ok().and_then(|r| r.first().copied());
    let (slope, intercept) = rescale.map_or((1.0, 0.0), |r| (r.slope, r.intercept));
    if !slope.is_finite() || !intercept.is_finite() || slope == 0.0 {
        return Err(DecodeError::corrupt(
            Format::Dicom,
            format!("RescaleSlope {slope} / RescaleIntercept {intercept}"),
        ));
    }
    let planar = px.planar_configuration() == PlanarConfiguration::PixelFirst;
    let (pixels, channels) = match (&pi, spp) {
        (PhotometricInterpretation::Monochrome1 | PhotometricInterpretation::Monochrome2, 1) => {
            let invert = pi == PhotometricInterpretation::Monochrome1;
            (gray(px, layout, n, invert, slope, intercept), 1)
        }
        (PhotometricInterpretation::Rgb, 3) => (rgb(&px, layout, height * width, planar)?, 3),
        // Y of full-range YCbCr is exactly the BT.601 luma of the RGB it encodes.
        (PhotometricInterpretation::YbrFull, 3) => {
            let all = layout.values(px.data(), n);
            let y: Vec<i64> =
                if planar { all[..height * width].to_vec() } else { all.chunks_exact(3).map(|c| c[0]).collect() };
            (integer_buffer(y, layout, false, 1.0, 0.0), 1)
        }
        _ => {
            return Err(DecodeError::unsupported(
                Format::Dicom,
                format!("PhotometricInterpretation {pi} with {spp} samples per pixel"),
            ))
        }
    };
    Ok(DecodedImage {
        pixels,
        height,
        width,
        channels,
        format: Format::Dicom,
        bit_depth: layout.bits_stored as u8,
        pixel_spacing_mm: None,
        dicom: None,
    })
}

fn gray(px: DecodedPixelData<'_>, layout: Layout, n: usize, invert: bool, slope: f64, intercept: f64) -> PixelBuffer {
    let identity = slope == 1.0 && intercept == 0.0;
    // Fast paths: the sample bytes are already the values, move or cast them.
    if identity && !invert && !layout.signed && layout.shift == 0 {
        if layout.bytes == 1 && layout.bits_stored == 8 {
            let mut data = px.into_data();
            data.truncate(n);
            return PixelBuffer::U8(data);
        }
        if layout.bytes == 2 && layout.bits_stored == 16 {
            let data = px.data();
            return PixelBuffer::U16(data[..2 * n].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect());
        }
    }
    let values = layout.values(px.data(), n);
    integer_buffer(values, layout, invert, slope, intercept)
}

/// Stored values to the narrowest exact buffer: integers stay integers when no
/// rescale applies; otherwise modality values in f64.
fn integer_buffer(mut values: Vec<i64>, layout: Layout, invert: bool, slope: f64, intercept: f64) -> PixelBuffer {
    let (lo, hi) = layout.range();
    if invert {
        // lo + hi - v mirrors the stored range; with a rescale applied after,
        // it equals mirroring the modality range, whatever the slope's sign.
        values.iter_mut().for_each(|v| *v = lo + hi - *v);
    }
    if slope == 1.0 && intercept == 0.0 {
        if !layout.signed && layout.bits_stored <= 8 {
            return PixelBuffer::U8(values.into_iter().map(|v| v as u8).collect());
        }
        if !layout.signed && layout.bits_stored <= 16 {
            return PixelBuffer::U16(values.into_iter().map(|v| v as u16).collect());
        }
        if layout.signed && layout.bits_stored <= 16 {
            return PixelBuffer::I16(values.into_iter().map(|v| v as i16).collect());
        }
    }
    PixelBuffer::F64(values.into_iter().map(|v| v as f64 * slope + intercept).collect())
}

fn rgb(px: &DecodedPixelData<'_>, layout: Layout, npix: usize, planar: bool) -> Result<PixelBuffer, DecodeError> {
    if layout.signed || layout.bits_stored > 16 {
        return Err(DecodeError::unsupported(
            Format::Dicom,
            format!("RGB with {} signed={} bits", layout.bits_stored, layout.signed),
        ));
    }
    let mut values = layout.values(px.data(), npix * 3);
    if planar {
        // RRR..GGG..BBB.. to RGBRGB..
        values = (0..npix * 3).map(|i| values[(i % 3) * npix + i / 3]).collect();
    }
    Ok(integer_buffer(values, layout, false, 1.0, 0.0))
}

/// The error and its sources, joined: dicom-rs puts the useful part in the sources.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}
