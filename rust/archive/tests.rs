//! process_batch on batches built here: every input layout, error rows, order,
//! thread-count independence, and files read by the worker.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, LargeBinaryArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_schema::{DataType, Field, Schema};

use super::*;
use crate::batch::thread_pool;
use crate::decode::DecodeOptions;
use crate::decode::DecodedImage;
use crate::image::{ImageView, Pixels};
use crate::profile::profile_one;
use rayon::ThreadPool;

fn png_gray(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let px: Vec<u8> = (0..w * h)
        .map(|i| (i.wrapping_mul(2654435761u32.wrapping_add(seed)) >> 24) as u8 / 2 + (i % w) as u8 / 3)
        .collect();
    let mut out = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut out, w, h);
        enc.set_color(::png::ColorType::Grayscale);
        enc.set_depth(::png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(&px).unwrap();
    }
    out
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols.into_iter().map(|(_, a)| a).collect()).unwrap()
}

fn files() -> Vec<(&'static str, Option<Vec<u8>>)> {
    vec![
        ("a.png", Some(png_gray(40, 32, 1))),
        ("empty.png", Some(Vec::new())),
        ("b.png", Some(png_gray(24, 36, 2))),
        ("notes.txt", Some(b"not an image".to_vec())),
        (
            "flat.png",
            Some({
                let mut out = Vec::new();
                {
                    let mut enc = ::png::Encoder::new(&mut out, 16, 16);
                    enc.set_color(::png::ColorType::Grayscale);
                    enc.write_header().unwrap().write_image_data(&[9u8; 256]).unwrap();
                }
                out
            }),
        ),
        ("null", None),
    ]
}

fn bytes_batch() -> RecordBatch {
    let f = files();
    let ids: ArrayRef = Arc::new(StringArray::from(f.iter().map(|(n, _)| *n).collect::<Vec<_>>()));
    let bytes: ArrayRef = Arc::new(BinaryArray::from(f.iter().map(|(_, b)| b.as_deref()).collect::<Vec<_>>()));
    batch(vec![("id", ids), ("bytes", bytes)])
}

fn strings(out: &RecordBatch, name: &str) -> Vec<Option<String>> {
    out.column_by_name(name).unwrap().as_string::<i32>().iter().map(|s| s.map(String::from)).collect()
}

#[test]
fn rows_come_back_in_order_with_errors_in_place() {
    let pool = thread_pool(2).unwrap();
    let opts = ArchiveOptions::default();
    let out = process_batch(&bytes_batch(), &opts, Some(&pool)).unwrap();
    assert_eq!(out.schema(), schema(32, true));
    let ids: Vec<String> = strings(&out, "id").into_iter().map(Option::unwrap).collect();
    assert_eq!(ids, ["a.png", "empty.png", "b.png", "notes.txt", "flat.png", "null"]);
    let status: Vec<String> = strings(&out, "status").into_iter().map(Option::unwrap).collect();
    assert_eq!(status, ["ok", "error", "ok", "error", "error", "error"]);
    let kinds = strings(&out, "error_kind");
    assert_eq!(kinds[0], None);
    assert_eq!(kinds[1].as_deref(), Some("empty"));
    assert_eq!(kinds[3].as_deref(), Some("not_an_image"));
    assert_eq!(kinds[4].as_deref(), Some("profile"));
    assert_eq!(kinds[5].as_deref(), Some("missing"));
    let errors = strings(&out, "error");
    assert_eq!(errors[4].as_deref(), Some("image has no variation (all pixels equal)"));

    // The flat image was decoded: its metadata is there, its profile is null.
    let format = strings(&out, "format");
    assert_eq!(format[4].as_deref(), Some("png"));
    assert_eq!(format[3], None);
    let height = out.column_by_name("height").unwrap().as_primitive::<Int64Type>();
    assert!(height.is_valid(4) && height.value(4) == 16);
    let band0 = out.column_by_name("band_00").unwrap().as_primitive::<Float64Type>();
    assert!(band0.is_valid(0) && band0.is_null(4) && band0.is_null(1));
    let bits = out.column_by_name("bit_depth").unwrap().as_primitive::<Int32Type>();
    assert_eq!(bits.value(0), 8);
    let nbytes = out.column_by_name("bytes").unwrap().as_primitive::<Int64Type>();
    assert_eq!(nbytes.value(1), 0);
    assert_eq!(nbytes.value(0) as usize, files()[0].1.as_ref().unwrap().len());
}

#[test]
fn profile_matches_decode_then_profile_one() {
    let pool = thread_pool(2).unwrap();
    let opts = ArchiveOptions::default();
    let out = process_batch(&bytes_batch(), &opts, Some(&pool)).unwrap();
    let img: DecodedImage = crate::decode::decode(&png_gray(40, 32, 1), &opts.decode).unwrap();
    let expected = profile_one(&img.view(), &opts.profile).unwrap();
    for (b, v) in expected.bands.iter().enumerate() {
        let col = out.column_by_name(&band_name(b, 32)).unwrap().as_primitive::<Float64Type>();
        assert_eq!(col.value(0), *v, "band {b}");
    }
    let slope = out.column_by_name("slope").unwrap().as_primitive::<Float64Type>();
    assert_eq!(slope.value(0), expected.slope);
    let mean = out.column_by_name("mean").unwrap().as_primitive::<Float64Type>();
    assert_eq!(mean.value(0), expected.mean);
}

#[test]
fn without_artefacts_the_artefact_columns_are_left_out_and_the_rest_is_identical() {
    let pool = thread_pool(2).unwrap();
    let with = process_batch(&bytes_batch(), &ArchiveOptions::default(), Some(&pool)).unwrap();
    let opts = ArchiveOptions {
        profile: ProfileOptions { artefacts: false, ..ProfileOptions::default() },
        ..Default::default()
    };
    let without = process_batch(&bytes_batch(), &opts, Some(&pool)).unwrap();
    assert_eq!(without.schema(), schema(32, false));
    let names: Vec<String> = without.schema().fields().iter().map(|f| f.name().clone()).collect();
    for a in crate::artefacts::ARTEFACT_NAMES {
        assert!(with.column_by_name(a).is_some() && !names.iter().any(|n| n == a), "{a}");
    }
    assert_eq!(names.len() + crate::artefacts::ARTEFACT_NAMES.len(), with.num_columns());
    // Every shared column is equal, error rows included (bitwise for the floats: no NaN in ok rows' bands).
    for name in &names {
        assert_eq!(without.column_by_name(name).unwrap(), with.column_by_name(name).unwrap(), "{name}");
    }
}

#[test]
fn any_thread_count_and_any_arrow_layout_give_the_same_batch() {
    let opts =
        ArchiveOptions { profile: ProfileOptions { bands: 8, ..ProfileOptions::default() }, ..Default::default() };
    let base = process_batch(&bytes_batch(), &opts, None).unwrap();
    assert_eq!(base.schema(), schema(8, true));
    for threads in [2, 3] {
        assert_eq!(process_batch(&bytes_batch(), &opts, Some(&thread_pool(threads).unwrap())).unwrap(), base);
    }
    let f = files();
    let names: Vec<&str> = f.iter().map(|(n, _)| *n).collect();
    let blobs: Vec<Option<&[u8]>> = f.iter().map(|(_, b)| b.as_deref()).collect();
    let layouts: Vec<(ArrayRef, ArrayRef)> = vec![
        (Arc::new(StringViewArray::from(names.clone())), Arc::new(BinaryViewArray::from(blobs.clone()))),
        (Arc::new(arrow_array::LargeStringArray::from(names.clone())), Arc::new(LargeBinaryArray::from(blobs.clone()))),
    ];
    for (ids, bytes) in layouts {
        let b = batch(vec![("id", ids), ("bytes", bytes)]);
        assert_eq!(process_batch(&b, &opts, Some(&thread_pool(2).unwrap())).unwrap(), base);
    }
}

#[test]
fn files_are_read_by_the_worker_and_io_errors_are_rows() {
    let dir = std::env::temp_dir().join(format!("sf-archive-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.png");
    std::fs::write(&good, png_gray(32, 32, 3)).unwrap();
    let missing = dir.join("missing.png");
    let loop_link = dir.join("loop.png");
    let _ = std::fs::remove_file(&loop_link);
    std::os::unix::fs::symlink(&loop_link, &loop_link).unwrap();
    let paths = [good.to_str().unwrap(), missing.to_str().unwrap(), dir.to_str().unwrap(), loop_link.to_str().unwrap()];
    let ids: ArrayRef = Arc::new(StringArray::from(vec!["good", "missing", "dir", "loop"]));
    let path: ArrayRef = Arc::new(StringArray::from(paths.to_vec()));
    let read_error: ArrayRef = Arc::new(StringArray::from(vec![None, None, None, None::<&str>]));
    let b = batch(vec![("id", ids), ("path", path), ("read_error", read_error)]);
    let out = process_batch(&b, &ArchiveOptions::default(), Some(&thread_pool(2).unwrap())).unwrap();
    let status: Vec<String> = strings(&out, "status").into_iter().map(Option::unwrap).collect();
    assert_eq!(status, ["ok", "error", "error", "error"]);
    let kinds = strings(&out, "error_kind");
    assert!(kinds[1..].iter().all(|k| k.as_deref() == Some("unreadable")), "{kinds:?}");
    let errors = strings(&out, "error");
    assert!(errors[3].as_deref().unwrap().contains("symbolic links"), "{errors:?}");
    assert!(errors[2].as_deref().unwrap().contains("directory"), "{errors:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn producer_read_errors_pass_through_and_bad_batches_are_call_errors() {
    let ids: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
    let bytes: ArrayRef = Arc::new(BinaryArray::from(vec![Some(&b"whatever"[..])]));
    let read_error: ArrayRef = Arc::new(StringArray::from(vec![Some("permission denied")]));
    let b = batch(vec![("id", ids.clone()), ("bytes", bytes.clone()), ("read_error", read_error)]);
    let out = process_batch(&b, &ArchiveOptions::default(), None).unwrap();
    assert_eq!(strings(&out, "error")[0].as_deref(), Some("permission denied"));
    assert_eq!(strings(&out, "error_kind")[0].as_deref(), Some("unreadable"));

    let pool: Option<&ThreadPool> = None;
    let no_id = batch(vec![("bytes", bytes.clone())]);
    assert!(process_batch(&no_id, &ArchiveOptions::default(), pool).unwrap_err().to_string().contains("'id'"));
    let no_src = batch(vec![("id", ids.clone())]);
    assert!(process_batch(&no_src, &ArchiveOptions::default(), pool).unwrap_err().to_string().contains("'bytes'"));
    let null_id: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>]));
    let b = batch(vec![("id", null_id), ("bytes", bytes.clone())]);
    assert!(process_batch(&b, &ArchiveOptions::default(), pool).is_err());
    let int_bytes: ArrayRef = Arc::new(arrow_array::Int32Array::from(vec![1]));
    let b = batch(vec![("id", ids), ("bytes", int_bytes)]);
    let err = process_batch(&b, &ArchiveOptions::default(), pool).unwrap_err().to_string();
    assert!(err.contains("binary") && err.contains("Int32"), "{err}");
}

#[test]
fn empty_batch_gives_an_empty_batch_of_the_schema() {
    let ids: ArrayRef = Arc::new(StringArray::from(Vec::<&str>::new()));
    let bytes: ArrayRef = Arc::new(BinaryArray::from(Vec::<Option<&[u8]>>::new()));
    let out = process_batch(
        &batch(vec![("id", ids), ("bytes", bytes)]),
        &ArchiveOptions::default(),
        Some(&thread_pool(2).unwrap()),
    )
    .unwrap();
    assert_eq!((out.num_rows(), out.schema()), (0, schema(32, true)));
    assert_eq!(out.schema().field_with_name("id").unwrap().data_type(), &DataType::Utf8);
}

#[test]
fn rgba_rows_profile_like_their_luma() {
    // The core turns RGB(A) into luma; the decoder must hand it the channels.
    let (w, h) = (20u32, 18u32);
    let rgba: Vec<u8> = (0..w * h * 4).map(|i| ((i * 7919) % 251) as u8).collect();
    let mut png = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut png, w, h);
        enc.set_color(::png::ColorType::Rgba);
        enc.write_header().unwrap().write_image_data(&rgba).unwrap();
    }
    let ids: ArrayRef = Arc::new(StringArray::from(vec!["rgba"]));
    let bytes: ArrayRef = Arc::new(BinaryArray::from(vec![Some(png.as_slice())]));
    let out = process_batch(&batch(vec![("id", ids), ("bytes", bytes)]), &ArchiveOptions::default(), None).unwrap();
    let view = ImageView::new(Pixels::U8(&rgba), h as usize, w as usize, 4);
    let expected = profile_one(&view, &ProfileOptions::default()).unwrap();
    let mean = out.column_by_name("mean").unwrap().as_primitive::<Float64Type>();
    assert_eq!(mean.value(0), expected.mean);
}

#[test]
fn band_names_follow_spectral_fast_profile() {
    assert_eq!(band_name(3, 32), "band_03");
    assert_eq!(band_name(99, 100), "band_99");
    assert_eq!(band_name(7, 101), "band_007");
    assert_eq!(band_name(253, 254), "band_253");
}

#[test]
fn decode_only_counts_what_process_batch_decodes() {
    let b = bytes_batch();
    // a.png, b.png and flat.png decode; empty, text and null do not.
    assert_eq!(decode_only(&b, &DecodeOptions::default(), None).unwrap(), (3, 3));
    assert_eq!(decode_only(&b, &DecodeOptions::default(), Some(&thread_pool(2).unwrap())).unwrap(), (3, 3));
}
