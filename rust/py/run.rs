//! The one path every heavy call takes: parse the call's options, release the
//! GIL, run on the package's pool, catch panics, map errors to the package's
//! exceptions (`spectral_fast.errors`), honour Ctrl-C between chunks.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString, PyType};
use rayon::ThreadPool;

use crate::options::{out_of_range, resolve_threads};
use crate::{profile_batch, profile_serial, thread_pool, Error, ImageError, ImageView, Profile, ProfileOptions};

/// An instance of `spectral_fast.errors.<class>` with `message`.
fn package_error(py: Python<'_>, class: &str, message: String) -> PyErr {
    let cls = py
        .import("spectral_fast.errors")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match cls {
        Ok(cls) => PyErr::from_type(cls, message),
        Err(import_failed) => import_failed,
    }
}

pub(crate) fn invalid_input(py: Python<'_>, message: impl Into<String>) -> PyErr {
    package_error(py, "InvalidInputError", message.into())
}

pub(crate) fn invalid_type(py: Python<'_>, message: impl Into<String>) -> PyErr {
    package_error(py, "InvalidTypeError", message.into())
}

pub(crate) fn core_error(py: Python<'_>, err: Error) -> PyErr {
    match err {
        Error::InvalidArgument { message, .. } => invalid_input(py, message),
    }
}

/// An integer argument: ints and objects with `__index__` (numpy integers);
/// not bools, not floats. Ints beyond i64 are reported with their own repr.
pub(crate) fn int_arg(py: Python<'_>, obj: &Bound<'_, PyAny>, param: &'static str) -> PyResult<i64> {
    if obj.is_instance_of::<PyBool>() {
        return Err(invalid_type(py, format!("{param} must be an integer, got bool")));
    }
    match obj.extract::<i64>() {
        Ok(v) => Ok(v),
        Err(e) if e.is_instance_of::<PyOverflowError>(py) => {
            Err(core_error(py, out_of_range(param, &obj.repr()?.to_string())))
        }
        Err(_) => Err(invalid_type(py, format!("{param} must be an integer, got {}", type_name(obj)))),
    }
}

pub(crate) fn opt_int_arg(py: Python<'_>, obj: &Bound<'_, PyAny>, param: &'static str) -> PyResult<Option<i64>> {
    if obj.is_none() {
        Ok(None)
    } else {
        int_arg(py, obj, param).map(Some)
    }
}

pub(crate) fn str_arg(py: Python<'_>, obj: &Bound<'_, PyAny>, param: &'static str) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(s) => Ok(s.to_str()?.to_owned()),
        Err(_) => Err(invalid_type(py, format!("{param} must be a string, got {}", type_name(obj)))),
    }
}

pub(crate) fn bool_arg(py: Python<'_>, obj: &Bound<'_, PyAny>, param: &'static str) -> PyResult<bool> {
    match obj.cast::<PyBool>() {
        Ok(b) => Ok(b.is_true()),
        Err(_) => Err(invalid_type(py, format!("{param} must be True or False, got {}", type_name(obj)))),
    }
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

/// Validated options and thread count of one profile call.
pub(crate) struct Call {
    pub opts: ProfileOptions,
    pub threads: usize,
}

impl Call {
    /// Read a `spectral_fast.ProfileOptions` by attribute (size, bands,
    /// spacing, window, artefacts, threads) and validate each value with the
    /// same messages as the loose keyword arguments had. Any object with those
    /// six attributes is read; anything else is an `InvalidTypeError`.
    pub fn from_options(py: Python<'_>, options: &Bound<'_, PyAny>) -> PyResult<Self> {
        let attr = |name: &str| {
            options.getattr(name).map_err(|_| {
                invalid_type(
                    py,
                    format!(
                        "options must be a spectral_fast.ProfileOptions, got {} (it has no attribute '{name}')",
                        type_name(options)
                    ),
                )
            })
        };
        let (size, bands, spacing) = (attr("size")?, attr("bands")?, attr("spacing")?);
        let (window, artefacts, threads) = (attr("window")?, attr("artefacts")?, attr("threads")?);
        let size = opt_int_arg(py, &size, "size")?;
        let bands = int_arg(py, &bands, "bands")?;
        let spacing = str_arg(py, &spacing, "spacing")?;
        let window = str_arg(py, &window, "window")?;
        let threads = opt_int_arg(py, &threads, "threads")?;
        let mut opts = ProfileOptions::new(size, bands, &spacing, &window).map_err(|e| core_error(py, e))?;
        let threads = resolve_threads(threads).map_err(|e| core_error(py, e))?;
        opts.artefacts = bool_arg(py, &artefacts, "artefacts")?;
        Ok(Call { opts, threads })
    }
}

/// Run `f` without the GIL, on the pool for `threads` (`None` when serial),
/// turning a panic into `spectral_fast.errors.InternalError`: a bare
/// `PanicException` derives from `BaseException` and escapes `except Exception`.
pub(crate) fn run_detached<T: Send>(
    py: Python<'_>,
    threads: usize,
    f: impl FnOnce(Option<&ThreadPool>) -> T + Send,
) -> PyResult<T> {
    let pool = if threads > 1 { Some(thread_pool(threads).map_err(|e| core_error(py, e))?) } else { None };
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(|| f(pool.as_deref()))));
    outcome.map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        package_error(py, "InternalError", format!("internal error in spectral_fast (please report it): {what}"))
    })
}

/// Profile `views` in chunks, checking for Ctrl-C between them, in input order.
pub(crate) fn profile_views(
    py: Python<'_>,
    views: &[ImageView<'_>],
    call: &Call,
) -> PyResult<Vec<Result<Profile, ImageError>>> {
    // ~32 images per thread per chunk: short enough that Ctrl-C answers
    // within a fraction of a second at 1024^2, long enough that the idle tail
    // of each chunk costs little.
    let chunk = 32 * call.threads;
    let mut out = Vec::with_capacity(views.len());
    for part in views.chunks(chunk) {
        let opts = &call.opts;
        out.extend(run_detached(py, call.threads, |pool| match pool {
            Some(pool) => profile_batch(part, opts, pool),
            None => profile_serial(part, opts),
        })?);
        py.check_signals()?;
    }
    Ok(out)
}
