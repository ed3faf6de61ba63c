"""Images to a model's input tensor: resize, intensity scaling, channels and layout.

Gray (N, H, W) images are resized to the declared input size with the core's
resampler (area averaging when shrinking, bilinear when enlarging; see
:func:`~spectral_fast.stress.filtering.resize_images`), scaled as the
:class:`~spectral_fast.stress.model_config.ModelConfig` says, then repeated
into 1 or 3 channels in NCHW or NHWC order (or left (N, H, W) for a model
whose input has no channel axis).
"""

from __future__ import annotations

import numpy as np

from spectral_fast.stress.filtering import resize_images
from spectral_fast.stress.model_config import ModelConfig


def scale_images(x: np.ndarray, config: ModelConfig) -> np.ndarray:
    """``x`` (N, H, W) float32 scaled by ``config.scale`` (before ``mean`` and ``std``)."""
    if config.scale == "unit":
        lo, hi = config.value_range
        return (x - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    if config.scale == "minmax":
        lo = x.min(axis=(1, 2), keepdims=True)
        span = x.max(axis=(1, 2), keepdims=True) - lo
        return (x - lo) / np.where(span > 0, span, np.float32(1.0))
    return x


def model_input(
    images: np.ndarray, config: ModelConfig, *, channels: int | None, layout: str, threads: int | None = None
) -> np.ndarray:
    """The float32 input tensor of ``images`` (N, H, W).

    ``channels`` None gives (N, H, W); 1 or 3 gives a channel axis placed by
    ``layout`` ("NCHW" or "NHWC"), each channel standardised by its own
    ``mean`` and ``std`` (one value applies to all).
    """
    x = np.asarray(images, dtype=np.float32)
    if config.input_size is not None and x.shape[1:] != config.input_size:
        x = resize_images(x, config.input_size, threads=threads)
    x = scale_images(x, config)
    n_ch = channels or 1
    mean = np.broadcast_to(np.asarray(config.mean, dtype=np.float32), (n_ch,))
    std = np.broadcast_to(np.asarray(config.std, dtype=np.float32), (n_ch,))
    if channels is None:
        return np.ascontiguousarray((x - mean[0]) / std[0], dtype=np.float32)
    stacked = (x[:, None] - mean[None, :, None, None]) / std[None, :, None, None]
    if layout == "NHWC":
        stacked = stacked.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(stacked, dtype=np.float32)
