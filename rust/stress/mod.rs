//! The stress tests' image operations (`spectral_fast.stress`): a radial
//! Fourier-magnitude filter and a 2-D resampler, both over stacks of images.
//!
//! [`radial_filter`] is the maths of `python/spectral_fast/stress/filter_oracle.py`
//! (its numpy oracle); [`resize_stack`] resamples each image to a model's input
//! size with the profile's own [`crate::resize::Resampler`] along each axis.
//! See docs/method.md#stress-tests.

mod filter;
mod resample;

pub use filter::{radial_filter, Gains, Sample};
pub use resample::resize_stack;
