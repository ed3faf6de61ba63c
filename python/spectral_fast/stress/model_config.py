"""What a model expects, declared by arguments or a small JSON sidecar: :class:`ModelConfig`.

A sidecar is a JSON object beside the model (``model.json`` for ``model.onnx``:
same stem) or given explicitly. Keys (all optional):

``input_size``  [height, width] (or one int): each image is resized to it first
``channels``    1 or 3 (a gray image is repeated into 3 channels)
``layout``      "NCHW" or "NHWC" (ONNX models; inferred from the input's static shape)
``scale``       "raw" (values as given), "unit" ((x - lo) / (hi - lo) with ``value_range``)
                or "minmax" (each image to [0, 1] by its own minimum and maximum)
``value_range`` [lo, hi], default [0, 255]: the pixel range of the images' dtype
``mean``, ``std`` a number or one per channel: (scaled - mean) / std, after ``scale``
``output``      name of the ONNX output to read (default: the first)
``positive``    index of the positive class in the output's last axis
                (default: 0 for one column, 1 for two, required otherwise)
``activation``  "raw", "sigmoid" or "softmax", applied before ``positive`` is picked
``batch_size``  images per inference call, default 32

A model *description* (a ``.json`` given as the model itself) adds one of
``onnx`` (path of the ONNX file, relative to the JSON), ``entry_point``
(``module:function`` scoring (N, H, W) float32 batches) or ``factory``
(``module:function`` called once with ``arguments`` and ``files``, the latter
paths relative to the JSON, returning the scoring function).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from spectral_fast.errors import InvalidInputError

SCALES = ("raw", "unit", "minmax")
LAYOUTS = ("NCHW", "NHWC")
ACTIVATIONS = ("raw", "sigmoid", "softmax")
#: Keys that name the model in a description, not how to feed it.
MODEL_KEYS = ("onnx", "entry_point", "factory", "arguments", "files")


@dataclass(frozen=True)
class ModelConfig:
    """How images become a model's input and its output a score; ``None`` means "not declared"."""

    input_size: tuple[int, int] | None = None
    channels: int | None = None
    layout: str | None = None
    scale: str = "raw"
    value_range: tuple[float, float] = (0.0, 255.0)
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    output: str | None = None
    positive: int | None = None
    activation: str = "raw"
    batch_size: int = 32

    def __post_init__(self) -> None:
        _check(self)


def _numbers(value: Any, key: str) -> tuple[float, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    if not items or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in items):
        raise InvalidInputError(f"{key}: expected a finite number or a list of them, got {value!r}")
    return tuple(float(v) for v in items)


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{key}: expected a positive integer, got {value!r}")
    return value


def _check(c: ModelConfig) -> None:
    """Validate every field; messages name the key."""
    if c.input_size is not None and (len(c.input_size) != 2 or min(c.input_size) < 2):
        raise InvalidInputError(f"input_size: expected [height, width] of at least 2 px, got {c.input_size!r}")
    if c.channels not in (None, 1, 3):
        raise InvalidInputError(f"channels: expected 1 or 3, got {c.channels!r}")
    if c.layout not in (None, *LAYOUTS):
        raise InvalidInputError(f"layout: expected one of {', '.join(LAYOUTS)}, got {c.layout!r}")
    if c.scale not in SCALES:
        raise InvalidInputError(f"scale: expected one of {', '.join(SCALES)}, got {c.scale!r}")
    lo, hi = c.value_range
    if not hi > lo:
        raise InvalidInputError(f"value_range: expected [lo, hi] with hi > lo, got {list(c.value_range)}")
    if any(s <= 0 for s in c.std):
        raise InvalidInputError(f"std: expected positive values, got {list(c.std)}")
    for key, values in (("mean", c.mean), ("std", c.std)):
        if len(values) not in ((1, c.channels) if c.channels else (1, 3)):
            raise InvalidInputError(f"{key}: expected one value or one per channel, got {list(values)}")
    if c.positive is not None and (isinstance(c.positive, bool) or not isinstance(c.positive, int) or c.positive < 0):
        raise InvalidInputError(f"positive: expected a class index >= 0, got {c.positive!r}")
    if c.activation not in ACTIVATIONS:
        raise InvalidInputError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {c.activation!r}")
    _positive_int(c.batch_size, "batch_size")


def normalise(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Declared values (from a sidecar or arguments) converted to :class:`ModelConfig` field types.

    Unknown keys and wrongly typed values are errors prefixed with ``where``.
    """
    known = {f.name for f in fields(ModelConfig)}
    out: dict[str, Any] = {}
    try:
        for key, value in values.items():
            if value is None:
                continue
            if key not in known:
                raise InvalidInputError(f"unknown key {key!r} (known: {', '.join(sorted(known))})")
            if key == "input_size":
                sides = value if isinstance(value, list | tuple) else [value, value]
                value = tuple(_positive_int(s, key) for s in sides)
            elif key in ("value_range", "mean", "std"):
                value = _numbers(value, key)
                if key == "value_range" and len(value) != 2:
                    raise InvalidInputError(f"value_range: expected [lo, hi], got {list(value)}")
            elif key in ("channels", "batch_size"):
                value = _positive_int(value, key)
            elif key in ("layout", "scale", "activation", "output"):
                if not isinstance(value, str):
                    raise InvalidInputError(f"{key}: expected a string, got {value!r}")
                value = value.upper() if key == "layout" else value
            out[key] = value
        ModelConfig(**out)  # validate the combination
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc}") from None
    return out


def read_json(path: str | Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; a missing file, bad JSON or a non-object is an error naming ``what``."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"{what}: no such file {str(p)!r}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{what} {str(p)!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{what} {str(p)!r}: expected a JSON object, got {type(data).__name__}")
    return data


def resolve(declared: dict[str, Any], sidecar: dict[str, Any], sidecar_name: str) -> ModelConfig:
    """Arguments over sidecar over defaults: the :class:`ModelConfig` of one model."""
    from_sidecar = normalise({k: v for k, v in sidecar.items() if k not in MODEL_KEYS}, f"sidecar {sidecar_name}")
    from_args = normalise(declared, "model arguments")
    try:
        return replace(ModelConfig(), **{**from_sidecar, **from_args})
    except InvalidInputError as exc:
        raise InvalidInputError(f"model arguments with sidecar {sidecar_name}: {exc}") from None
