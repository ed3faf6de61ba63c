"""An ONNX file as a :class:`~spectral_fast.stress.models.ScoreModel`, run with onnxruntime on CPU.

The session is built once (``intra_op_num_threads`` = ``threads``); what the
config leaves undeclared is read from the model's single input: its rank
(3: no channel axis; 4: NCHW when axis 1 is 1 or 3, NHWC when the last is)
and its static height and width. Images go through
:func:`~spectral_fast.stress.model_input.model_input` in batches of
``batch_size``; the chosen output becomes one score per image.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from spectral_fast.errors import InvalidInputError
from spectral_fast.stress.model_config import ModelConfig
from spectral_fast.stress.model_input import model_input

_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}


def _session(path: Path, threads: int | None) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise InvalidInputError("model: ONNX models need onnxruntime (pip install 'spectral-fast[stress]')") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 0 if threads is None else int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
        raise InvalidInputError(f"model: cannot load ONNX file {str(path)!r}: {exc}") from None


def _static(dim: Any) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def _input_layout(shape: list[Any], config: ModelConfig) -> tuple[int | None, str, tuple[int, int] | None]:
    """(channels, layout, static (height, width)) of an input of ``shape``; config values win."""
    if len(shape) == 3:
        if config.channels not in (None, 1):
            raise InvalidInputError(
                f"model: channels={config.channels} declared, but the input {shape} has no channel axis"
            )
        return None, config.layout or "NCHW", _hw(shape[1], shape[2])
    if len(shape) != 4:
        raise InvalidInputError(f"model: expected an input of rank 3 (N, H, W) or 4 (NCHW / NHWC), got shape {shape}")
    layout = config.layout
    if layout is None:
        layout = "NHWC" if _static(shape[3]) in (1, 3) and _static(shape[1]) not in (1, 3) else "NCHW"
    c_dim, h, w = (shape[1], shape[2], shape[3]) if layout == "NCHW" else (shape[3], shape[1], shape[2])
    channels = config.channels or _static(c_dim) or 1
    if _static(c_dim) not in (None, channels) or channels not in (1, 3):
        raise InvalidInputError(f"model: the input {shape} ({layout}) does not take {channels} channel(s)")
    return channels, layout, _hw(h, w)


def _hw(h: Any, w: Any) -> tuple[int, int] | None:
    return (h, w) if _static(h) and _static(w) else None


class OnnxModel:
    """``scores = OnnxModel(path, config)(images)``: (N, H, W) images in, (N,) float64 scores out."""

    def __init__(self, path: str | Path, config: ModelConfig, *, threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InvalidInputError(f"model: no such file {str(self.path)!r}")
        self.threads = threads
        self.session = _session(self.path, threads)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise InvalidInputError(f"model: expected one input, {self.path.name} has {[i.name for i in inputs]}")
        self.input = inputs[0]
        if self.input.type not in _DTYPES:
            raise InvalidInputError(f"model: input type {self.input.type} is not supported (float, double, float16)")
        shape = list(self.input.shape)
        self.channels, self.layout, static_hw = _input_layout(shape, config)
        if config.input_size is not None and static_hw is not None and config.input_size != static_hw:
            raise InvalidInputError(
                f"model: input_size {list(config.input_size)} differs from the input's {list(static_hw)}"
            )
        for key in ("mean", "std"):
            if len(getattr(config, key)) not in (1, self.channels or 1):
                raise InvalidInputError(f"{key}: expected one value or one per channel ({self.channels or 1})")
        self.config = replace(config, input_size=config.input_size or static_hw)
        fixed = _static(shape[0])
        self.batch_size = fixed or config.batch_size
        outputs = [o.name for o in self.session.get_outputs()]
        self.output = config.output or outputs[0]
        if self.output not in outputs:
            raise InvalidInputError(f"model: no output named {self.output!r}; outputs are {outputs}")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images)
        if x.ndim != 3:
            raise InvalidInputError(f"images: expected (N, H, W), got shape {x.shape}")
        fixed = _static(self.input.shape[0])
        scores = []
        for start in range(0, len(x), self.batch_size):
            batch = x[start : start + self.batch_size]
            if fixed is not None and len(batch) != fixed:
                raise InvalidInputError(f"model: its batch size is fixed at {fixed}; got {len(x)} images")
            tensor = model_input(batch, self.config, channels=self.channels, layout=self.layout, threads=self.threads)
            (out,) = self.session.run([self.output], {self.input.name: tensor.astype(_DTYPES[self.input.type])})
            scores.append(self.scores(np.asarray(out, dtype=np.float64), len(batch)))
        return np.concatenate(scores) if scores else np.zeros(0)

    def scores(self, out: np.ndarray, n: int) -> np.ndarray:
        """One score per image from a raw output of a batch of ``n``: activation, then the positive column."""
        if out.ndim == 0 or out.shape[0] != n or out.size % max(n, 1) != 0:
            raise InvalidInputError(
                f"model: output {self.output!r} has shape {list(out.shape)} for a batch of {n}; expected (N,) or (N, K)"
            )
        out = out.reshape(n, -1)
        k = out.shape[1]
        positive = self.config.positive
        if positive is None:
            if k > 2:
                raise InvalidInputError(
                    f"model: output {self.output!r} has {k} classes; declare positive (the class index)"
                )
            positive = k - 1
        if positive >= k:
            raise InvalidInputError(
                f"positive: class {positive} does not exist in output {self.output!r} of {k} columns"
            )
        if self.config.activation == "sigmoid":
            out = 1.0 / (1.0 + np.exp(-out))
        elif self.config.activation == "softmax":
            e = np.exp(out - out.max(axis=1, keepdims=True))
            out = e / e.sum(axis=1, keepdims=True)
        return out[:, positive]
