"""The model under test, as one callable: (N, H, W) float32 images in, (N,) scores out.

Users bring a model as a Python entry point ``module:function`` (a function that
takes an (N, H, W) float32 batch and returns one score per image, higher meaning
the positive class) or as an ONNX file run with onnxruntime. Both end up as a
``ScoreModel``; everything in ``stress`` depends on that protocol only.
:func:`load_model` builds one from a spec and the declared input and output
(arguments or a JSON sidecar, :mod:`spectral_fast.stress.model_config`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from spectral_fast.errors import InvalidInputError
from spectral_fast.stress.model_config import MODEL_KEYS, ModelConfig, read_json, resolve
from spectral_fast.stress.model_input import model_input
from spectral_fast.stress.onnx_model import OnnxModel


class ScoreModel(Protocol):
    """A model under test: ``scores = model(images)``, images (N, H, W) float32, scores (N,) float."""

    def __call__(self, images: np.ndarray) -> np.ndarray: ...


def load_entry_point(spec: str) -> Callable[[np.ndarray], np.ndarray]:
    """The function named by ``module:function`` (e.g. ``mypkg.models:score``), imported."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidInputError(f"model: expected 'module:function', got {spec!r}")
    try:
        target = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(f"model: cannot import module {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        if not hasattr(target, part):
            raise InvalidInputError(f"model: {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise InvalidInputError(f"model: {spec!r} is not callable")
    return target


class EntryPointModel:
    """A scoring function with the declared resize and scaling applied before it, its output checked.

    Without ``input_size`` and with ``scale="raw"`` (the defaults) the images
    reach the function unchanged, as float32.
    """

    def __init__(
        self, function: Callable[[np.ndarray], np.ndarray], config: ModelConfig, name: str, threads: int | None = None
    ):
        self.function, self.config, self.name, self.threads = function, config, name, threads

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images)
        if x.ndim != 3:
            raise InvalidInputError(f"images: expected (N, H, W), got shape {x.shape}")
        scores = []
        for start in range(0, len(x), self.config.batch_size):
            batch = model_input(
                x[start : start + self.config.batch_size],
                self.config,
                channels=None,
                layout="NCHW",
                threads=self.threads,
            )
            out = np.asarray(self.function(batch), dtype=np.float64)
            if out.shape not in ((len(batch),), (len(batch), 1)):
                raise InvalidInputError(
                    f"model: {self.name} returned shape {list(out.shape)} for {len(batch)} images; expected ({len(batch)},)"
                )
            scores.append(out.reshape(-1))
        return np.concatenate(scores) if scores else np.zeros(0)


def _description(path: Path, declared: dict[str, Any], threads: int | None) -> ScoreModel:
    """The model a JSON description names (``onnx``, ``entry_point`` or ``factory``), configured by it."""
    data = read_json(path, "model description")
    kinds = [k for k in ("onnx", "entry_point", "factory") if k in data]
    if len(kinds) != 1:
        raise InvalidInputError(
            f"model description {str(path)!r}: expected exactly one of 'onnx', 'entry_point', 'factory'"
        )
    config = resolve(declared, data, repr(str(path)))
    target = data[kinds[0]]
    if not isinstance(target, str):
        raise InvalidInputError(f"model description {str(path)!r}: {kinds[0]} must be a string")
    if kinds[0] == "onnx":
        return OnnxModel(path.parent / target, config, threads=threads)
    function = load_entry_point(target)
    if kinds[0] == "factory":
        arguments, files = data.get("arguments", {}), data.get("files", {})
        if (
            not isinstance(arguments, dict)
            or not isinstance(files, dict)
            or not all(isinstance(v, str) for v in files.values())
        ):
            raise InvalidInputError(
                f"model description {str(path)!r}: 'arguments' must be an object, 'files' an object of paths"
            )
        factory: Any = function
        try:
            function = factory(**arguments, **{k: path.parent / v for k, v in files.items()})
        except TypeError as exc:
            raise InvalidInputError(f"model: factory {target!r} does not take these arguments: {exc}") from None
        if not callable(function):
            raise InvalidInputError(f"model: factory {target!r} did not return a callable")
    return EntryPointModel(function, config, target, threads)


def load_model(
    spec: str | Path,
    *,
    input_size: int | tuple[int, int] | None = None,
    channels: int | None = None,
    layout: str | None = None,
    scale: str | None = None,
    value_range: tuple[float, float] | None = None,
    mean: float | Sequence[float] | None = None,
    std: float | Sequence[float] | None = None,
    output: str | None = None,
    positive: int | None = None,
    activation: str | None = None,
    batch_size: int | None = None,
    sidecar: str | Path | None = None,
    threads: int | None = None,
) -> ScoreModel:
    """The model under test as a :class:`ScoreModel`.

    Parameters
    ----------
    spec : str or path
        ``model.onnx`` (run with onnxruntime; its sidecar ``model.json`` is
        read when present), a JSON model description (``onnx``,
        ``entry_point`` or ``factory`` key), or ``module:function``.
    input_size, channels, layout, scale, value_range, mean, std, output, positive, activation, batch_size
        What the model expects (see :mod:`spectral_fast.stress.model_config`);
        each given argument overrides the sidecar, each missing one falls back
        to it, then to the default (or, for ONNX, to the input's static shape).
    sidecar : path, optional
        JSON sidecar to read instead of the one beside an ONNX file.
    threads : int, optional
        onnxruntime's ``intra_op_num_threads`` and the resize's threads
        (default: onnxruntime's and the core's own defaults).
    """
    declared = {
        "input_size": input_size, "channels": channels, "layout": layout, "scale": scale,
        "value_range": value_range, "mean": mean, "std": std, "output": output, "positive": positive,
        "activation": activation, "batch_size": batch_size,
    }  # fmt: skip
    extra = {} if sidecar is None else read_json(sidecar, "sidecar")
    text = str(spec)
    if text.lower().endswith(".json"):
        if sidecar is not None:
            raise InvalidInputError("sidecar: a JSON model description is its own sidecar; give one or the other")
        return _description(Path(text), declared, threads)
    if text.lower().endswith(".onnx"):
        path = Path(text)
        beside = path.with_suffix(".json")
        if sidecar is None and beside.is_file():
            extra, sidecar = read_json(beside, "sidecar"), beside
        if any(k in extra for k in MODEL_KEYS):
            raise InvalidInputError(f"sidecar {str(sidecar)!r}: {', '.join(MODEL_KEYS)} belong in a model description")
        return OnnxModel(path, resolve(declared, extra, repr(str(sidecar))), threads=threads)
    if any(k in extra for k in MODEL_KEYS):
        raise InvalidInputError(f"sidecar {str(sidecar)!r}: {', '.join(MODEL_KEYS)} belong in a model description")
    if ":" not in text and Path(text).suffix:
        raise InvalidInputError(f"model: expected a .onnx file, a .json description or 'module:function', got {text!r}")
    return EntryPointModel(load_entry_point(text), resolve(declared, extra, repr(str(sidecar))), text, threads)
