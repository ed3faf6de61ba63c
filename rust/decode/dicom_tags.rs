//! The DICOM attributes that name an acquisition: who made the image, on
//! what, how it was processed, exposed and positioned.
//!
//! They become nullable columns of the profile table (`dicom_*`), evidence
//! for describing blind spots (`docs/method.md#acquisition-metadata`). Header
//! text is hostile input: a value that does not read as text or as a number,
//! or a number that is not finite and positive, is null; text loses control
//! and invisible formatting characters (C0, DEL, C1, zero-width and bidi
//! controls), is trimmed, and is cut to [`MAX_TEXT_CHARS`] characters. Reading
//! a tag never fails a file. `ingest/dicom_fallback.py` applies the same rules
//! for the files pydicom decodes.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;

/// Longest text value kept (LO, the longest of these VRs, allows 64).
pub const MAX_TEXT_CHARS: usize = 64;

/// Text columns and the tag each is read from.
pub const TEXT_TAGS: [(&str, Tag); 15] = [
    ("dicom_modality", tags::MODALITY),
    ("dicom_manufacturer", tags::MANUFACTURER),
    ("dicom_model", tags::MANUFACTURER_MODEL_NAME),
    ("dicom_station", tags::STATION_NAME),
    ("dicom_institution", tags::INSTITUTION_NAME),
    ("dicom_detector_type", tags::DETECTOR_TYPE),
    ("dicom_detector_id", tags::DETECTOR_ID),
    ("dicom_view", tags::VIEW_POSITION),
    ("dicom_body_part", tags::BODY_PART_EXAMINED),
    ("dicom_photometric", tags::PHOTOMETRIC_INTERPRETATION),
    ("dicom_intensity_relationship", tags::PIXEL_INTENSITY_RELATIONSHIP),
    ("dicom_filter_type", tags::FILTER_TYPE),
    ("dicom_grid", tags::GRID),
    ("dicom_processing", tags::ACQUISITION_DEVICE_PROCESSING_DESCRIPTION),
    ("dicom_processing_code", tags::ACQUISITION_DEVICE_PROCESSING_CODE),
];

/// A finer-unit tag read when the first is absent, and its factor to the
/// column's unit (ExposureInuAs / 1000 = mAs, ...).
pub type FinerTag = Option<(Tag, f64)>;

/// Number columns: the tag read first, then the [`FinerTag`].
pub const NUMBER_TAGS: [(&str, Tag, FinerTag); 4] = [
    ("dicom_kvp", tags::KVP, None),
    ("dicom_exposure_mas", tags::EXPOSURE, Some((tags::EXPOSURE_INU_AS, 1e-3))),
    ("dicom_tube_current_ma", tags::X_RAY_TUBE_CURRENT, Some((tags::X_RAY_TUBE_CURRENT_INU_A, 1e-3))),
    ("dicom_exposure_time_ms", tags::EXPOSURE_TIME, Some((tags::EXPOSURE_TIME_INU_S, 1e-3))),
];

/// The values of [`TEXT_TAGS`] and [`NUMBER_TAGS`], in their order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DicomTags {
    pub text: [Option<String>; TEXT_TAGS.len()],
    pub numbers: [Option<f64>; NUMBER_TAGS.len()],
}

/// Read the acquisition tags of a parsed object; absent or unreadable ones are `None`.
pub(super) fn read(obj: &DefaultDicomObject) -> DicomTags {
    let text = TEXT_TAGS.map(|(_, tag)| obj.get(tag).and_then(|e| e.to_str().ok()).and_then(|s| clean_text(&s)));
    let numbers = NUMBER_TAGS.map(|(_, tag, finer)| {
        number(obj, tag).or_else(|| finer.and_then(|(tag, factor)| number(obj, tag).map(|v| v * factor)))
    });
    DicomTags { text, numbers }
}

/// The first value of a numeric or numeric-string element, if finite and positive.
fn number(obj: &DefaultDicomObject, tag: Tag) -> Option<f64> {
    let value = obj.get(tag)?.to_multi_float64().ok()?.into_iter().next()?;
    (value.is_finite() && value > 0.0).then_some(value)
}

/// Header text made safe to store and show: no control or invisible
/// formatting characters, trimmed, at most [`MAX_TEXT_CHARS`] characters;
/// `None` when nothing is left.
pub fn clean_text(raw: &str) -> Option<String> {
    let kept: String = raw.chars().filter(|&c| !is_hidden(c)).collect();
    let text: String = kept.trim().chars().take(MAX_TEXT_CHARS).collect();
    let text = text.trim_end();
    (!text.is_empty()).then(|| text.to_string())
}

/// Control characters (C0, DEL, C1) and the zero-width and bidi formatting
/// characters that would hide or reorder text where it is shown.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}
