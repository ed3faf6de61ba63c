//! Runtime dispatch of the hot loops to AVX2.
//!
//! The wheel is built for baseline x86-64 (SSE2), so the compiler vectorises
//! our own loops (pixel conversion, band sums, block differences) two
//! f64 or eight u16 lanes wide. [`avx2_dispatch!`] compiles a loop a second
//! time with AVX2 enabled and picks that copy when the CPU has it (a cached
//! feature check per call). Only the instruction set changes, never the
//! order of operations (Rust does not fuse multiplies and adds on its own),
//! so both copies give the same bits. On an AVX2 machine the parity tests see
//! only the AVX2 copy; a Rust test per floating-point loop compares it with
//! the baseline copy (the block differences are integer sums, exact in any
//! instruction set).

/// Define `fn $name(args) -> ret` that runs `$body(args)` compiled with AVX2
/// when the CPU supports it and as is otherwise. `$body` must be
/// `#[inline(always)]`, as must the helpers of its loops, or they keep their
/// baseline code.
macro_rules! avx2_dispatch {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $body:path;) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

pub(crate) use avx2_dispatch;
