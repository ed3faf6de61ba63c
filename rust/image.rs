//! Borrowed views of pixel data, the one input type of the profile maths.
//!
//! Pixels arrive from numpy arrays, Arrow buffers or the decoders; a view
//! borrows them without a copy. Conversion to f64 (and RGB(A) to luma) happens
//! once, inside the worker that profiles the image.

/// Pixel samples in one of the supported dtypes, row-major, `channels` per pixel.
#[derive(Clone, Copy, Debug)]
pub enum Pixels<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    I16(&'a [i16]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl<'a> Pixels<'a> {
    /// Number of samples (pixels x channels).
    pub fn len(&self) -> usize {
        match self {
            Pixels::U8(s) => s.len(),
            Pixels::U16(s) => s.len(),
            Pixels::I16(s) => s.len(),
            Pixels::F32(s) => s.len(),
            Pixels::F64(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples in `range` (panics if out of bounds, like slice indexing).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Pixels<'a> {
        match *self {
            Pixels::U8(s) => Pixels::U8(&s[range]),
            Pixels::U16(s) => Pixels::U16(&s[range]),
            Pixels::I16(s) => Pixels::I16(&s[range]),
            Pixels::F32(s) => Pixels::F32(&s[range]),
            Pixels::F64(s) => Pixels::F64(&s[range]),
        }
    }

    /// Sample `i` as f64.
    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Pixels::U8(s) => s[i] as f64,
            Pixels::U16(s) => s[i] as f64,
            Pixels::I16(s) => s[i] as f64,
            Pixels::F32(s) => s[i] as f64,
            Pixels::F64(s) => s[i],
        }
    }
}

/// One image: `height` x `width` pixels of `channels` samples (1 gray, 3 RGB, 4 RGBA).
#[derive(Clone, Copy, Debug)]
pub struct ImageView<'a> {
    pub pixels: Pixels<'a>,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

/// Channel counts the core reads: 1 (gray), 3 (RGB), 4 (RGBA).
pub const CHANNELS: [usize; 3] = [1, 3, 4];

/// The channel count of `samples` values for a `height x width` image, if it
/// is one the core reads (an empty image counts as gray); overflow-safe.
pub fn channels_of(samples: usize, height: usize, width: usize) -> Option<usize> {
    match height.checked_mul(width)? {
        0 => (samples == 0).then_some(1),
        area => (samples % area == 0 && CHANNELS.contains(&(samples / area))).then(|| samples / area),
    }
}

impl<'a> ImageView<'a> {
    /// A view of `height` x `width` pixels of `channels` samples each.
    pub fn new(pixels: Pixels<'a>, height: usize, width: usize, channels: usize) -> Self {
        ImageView { pixels, height, width, channels }
    }

    /// Check that the channel count is supported and the buffer matches the shape,
    /// so that later indexing cannot go out of bounds.
    pub fn check(&self) -> Result<(), crate::ImageError> {
        if !CHANNELS.contains(&self.channels) {
            return Err(crate::ImageError::BadChannels { channels: self.channels });
        }
        let expected = self.height.checked_mul(self.width).and_then(|n| n.checked_mul(self.channels));
        if expected != Some(self.pixels.len()) {
            return Err(crate::ImageError::BadBuffer {
                height: self.height,
                width: self.width,
                channels: self.channels,
                expected: expected.unwrap_or(usize::MAX),
                got: self.pixels.len(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_follow_from_the_sample_count() {
        assert_eq!(channels_of(12, 2, 2), Some(3));
        assert_eq!(channels_of(4, 2, 2), Some(1));
        assert_eq!(channels_of(8, 2, 2), None);
        assert_eq!(channels_of(0, 0, 5), Some(1));
        assert_eq!(channels_of(3, 0, 5), None);
        assert_eq!(channels_of(1, usize::MAX, 3), None);
    }
}
