//! Wider vectors for the hot loops without giving up portable builds.
//!
//! Wheels target baseline x86-64 (SSE2), so the compiler vectorises our own
//! loops two f64 lanes wide. [`dispatch!`] runs an `#[inline(always)]` body
//! inside a function compiled with AVX2 when the CPU has it (measured on the
//! band accumulation at 1024^2: see `bands.rs`). Results are bit-identical
//! either way: the loops spell out their lanes and Rust never reassociates or
//! fuses floating-point operations, so only the vector width changes.

/// Evaluate `$call` (an expression calling an `#[inline(always)]` function or
/// method) in an AVX2-compiled context when available, else as is.
macro_rules! dispatch {
    ($call:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            unsafe fn wide<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                unsafe { wide(|| $call) }
            } else {
                $call
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $call
        }
    }};
}
pub(crate) use dispatch;
