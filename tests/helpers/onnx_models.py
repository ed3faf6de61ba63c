"""Small ONNX CNNs built in code with the ``onnx`` helper API (no deep-learning framework).

Used by the stress tests and benches/bench_stress.py: ``Conv 3x3 (+ReLU)`` layers,
a global average pool and a linear head, with seeded random weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Opset and IR version every onnxruntime >= 1.16 runs.
OPSET, IR_VERSION = 17, 8


def cnn_model(
    *,
    size: tuple[int, int] | None = (32, 32),
    in_channels: int = 1,
    layers: Sequence[tuple[int, int]] = ((4, 2),),
    classes: int = 1,
    head: str = "sigmoid",
    layout: str = "NCHW",
    batch: int | None = None,
    seed: int = 0,
):
    """An ``onnx.ModelProto``: input "image" (N, C, H, W) or (N, H, W, C), output "score" (N, classes).

    ``layers`` are (out channels, stride) of 3 x 3 convolutions with ReLU;
    ``head`` is "sigmoid", "softmax" or "raw" on the linear head; ``size``
    None leaves height and width dynamic, ``batch`` None the batch dimension.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    h, w = size if size is not None else ("H", "W")
    n = batch if batch is not None else "N"
    shape = [n, in_channels, h, w] if layout == "NCHW" else [n, h, w, in_channels]
    nodes, inits = [], []
    x = "image"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [x], ["nchw"], perm=[0, 3, 1, 2]))
        x = "nchw"
    c = in_channels
    for i, (out_c, stride) in enumerate(layers):
        wt = rng.normal(0, np.sqrt(2 / (9 * c)), size=(out_c, c, 3, 3)).astype(np.float32)
        inits += [numpy_helper.from_array(wt, f"w{i}"), numpy_helper.from_array(np.zeros(out_c, np.float32), f"b{i}")]
        nodes.append(
            helper.make_node(
                "Conv",
                [x, f"w{i}", f"b{i}"],
                [f"c{i}"],
                kernel_shape=[3, 3],
                pads=[1, 1, 1, 1],
                strides=[stride, stride],
            )
        )
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        x, c = f"r{i}", out_c
    fc = rng.normal(0, 1 / np.sqrt(c), size=(c, classes)).astype(np.float32)
    inits += [numpy_helper.from_array(fc, "fc"), numpy_helper.from_array(np.full(classes, -0.5, np.float32), "fcb")]
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fc", "fcb"], ["logits" if head != "raw" else "score"]),
    ]
    if head == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", ["logits"], ["score"]))
    elif head == "softmax":
        nodes.append(helper.make_node("Softmax", ["logits"], ["score"], axis=1))
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [n, classes])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def save_cnn(path: str | Path, **kwargs) -> Path:
    """:func:`cnn_model` written to ``path``; returns the path."""
    import onnx

    onnx.save(cnn_model(**kwargs), str(path))
    return Path(path)


def mean_model(
    *, channels: int | None = 1, layout: str = "NCHW", size: tuple[int, int] | None = None, flat: bool = True
):
    """An ONNX model whose output is each channel's mean: (N, C) (or (N,) without a channel axis).

    Makes the input pipeline observable: resize, scaling, per-channel
    standardisation and layout all show in the output. ``flat`` False keeps
    the pooled (N, C, 1, 1) shape; ``channels`` None takes (N, H, W).
    """
    import onnx
    from onnx import TensorProto, helper

    h, w = size if size is not None else ("H", "W")
    if channels is None:
        shape, out_shape = ["N", h, w], ["N"]
        nodes = [helper.make_node("ReduceMean", ["image"], ["score"], axes=[1, 2], keepdims=0)]
    else:
        shape = ["N", channels, h, w] if layout == "NCHW" else ["N", h, w, channels]
        nodes, x = [], "image"
        if layout == "NHWC":
            nodes.append(helper.make_node("Transpose", [x], ["nchw"], perm=[0, 3, 1, 2]))
            x = "nchw"
        nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool" if flat else "score"]))
        if flat:
            nodes.append(helper.make_node("Flatten", ["pool"], ["score"], axis=1))
        out_shape = ["N", channels] if flat else ["N", channels, 1, 1]
    graph = helper.make_graph(
        nodes,
        "mean",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, out_shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def scalar_model():
    """An ONNX model whose output is one number for the whole batch: a wrong output shape."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["score"], keepdims=0)],
        "scalar",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model
