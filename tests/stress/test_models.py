"""load_model: ONNX files (tiny models built with the onnx helper API), sidecars, entry points, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spectral_fast.errors import InvalidInputError
from spectral_fast.stress.filtering import resize_images
from spectral_fast.stress.models import load_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from helpers.onnx_models import cnn_model, mean_model, save_cnn, scalar_model  # noqa: E402


def _images(n=5, h=40, w=36, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=(n, h, w)).astype(np.float32)


def _save(model, path):
    onnx.save(model, str(path))
    return path


def test_a_small_cnn_gives_one_probability_per_image_whatever_the_batch_size(tmp_path):
    path = save_cnn(tmp_path / "cnn.onnx", size=(32, 32), layers=((8, 2), (16, 2)))
    x = _images(7)
    model = load_model(path, scale="unit", threads=1)
    scores = model(x)
    assert scores.shape == (7,) and np.all((scores > 0) & (scores < 1))
    np.testing.assert_allclose(load_model(path, scale="unit", batch_size=2)(x), scores, rtol=1e-6)
    assert model.session.get_session_options().intra_op_num_threads == 1
    assert model(x[:0]).shape == (0,)


def test_resize_scaling_and_per_channel_standardisation_reach_the_model(tmp_path):
    path = _save(mean_model(channels=3, size=(16, 16)), tmp_path / "mean.onnx")
    x = _images()
    means = resize_images(x, (16, 16)).astype(np.float64).mean(axis=(1, 2)) / 255
    for c, (m, s) in enumerate([(0.1, 0.5), (0.2, 0.25), (0.3, 2.0)]):
        model = load_model(path, scale="unit", mean=[0.1, 0.2, 0.3], std=[0.5, 0.25, 2.0], positive=c)
        np.testing.assert_allclose(model(x), (means - m) / s, rtol=1e-5)


def test_layout_and_channels_are_read_from_the_input_shape(tmp_path):
    x = _images()
    nhwc = load_model(_save(mean_model(channels=3, layout="NHWC", size=(40, 36)), tmp_path / "a.onnx"), positive=2)
    assert (nhwc.layout, nhwc.channels) == ("NHWC", 3)
    np.testing.assert_allclose(nhwc(x), x.astype(np.float64).mean(axis=(1, 2)), rtol=1e-5)
    gray = load_model(_save(mean_model(channels=None), tmp_path / "b.onnx"), scale="minmax")
    lo, hi = x.min(axis=(1, 2)), x.max(axis=(1, 2))
    expected = ((x - lo[:, None, None]) / (hi - lo)[:, None, None]).mean(axis=(1, 2))
    np.testing.assert_allclose(gray(x), expected, rtol=1e-5)
    pooled = load_model(
        _save(mean_model(channels=1, flat=False), tmp_path / "c.onnx"), value_range=(0, 1), scale="unit"
    )
    np.testing.assert_allclose(pooled(x), x.mean(axis=(1, 2)), rtol=1e-5)


def test_activations_and_the_positive_class(tmp_path):
    path = _save(cnn_model(size=(16, 16), classes=3, head="raw"), tmp_path / "logits.onnx")
    x = _images(4)
    logits = np.stack([load_model(path, positive=k)(x) for k in range(3)], axis=1)
    soft = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(load_model(path, positive=1, activation="softmax")(x), soft[:, 1], rtol=1e-5)
    np.testing.assert_allclose(
        load_model(path, positive=0, activation="sigmoid")(x), 1 / (1 + np.exp(-logits[:, 0])), rtol=1e-5
    )
    with pytest.raises(InvalidInputError, match="declare positive"):
        load_model(path)(x)
    with pytest.raises(InvalidInputError, match="class 5"):
        load_model(path, positive=5)(x)
    two = load_model(_save(cnn_model(size=(16, 16), classes=2, head="softmax"), tmp_path / "two.onnx"), scale="unit")
    p = two(x)
    assert np.all(p > 0) and np.all(p < 1)


def test_the_sidecar_beside_the_model_is_read_and_arguments_override_it(tmp_path):
    path = _save(mean_model(channels=1, size=(20, 20)), tmp_path / "model.onnx")
    (tmp_path / "model.json").write_text(json.dumps({"scale": "unit", "value_range": [0, 100], "mean": 1.0}))
    x = _images()
    base = resize_images(x, (20, 20)).astype(np.float64).mean(axis=(1, 2))
    np.testing.assert_allclose(load_model(path)(x), base / 100 - 1.0, rtol=1e-5)
    np.testing.assert_allclose(load_model(path, mean=0.0)(x), base / 100, rtol=1e-5)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"scale": "raw", "std": 2}))
    np.testing.assert_allclose(load_model(path, sidecar=other)(x), base / 2, rtol=1e-5)


def test_json_descriptions_name_an_onnx_file_an_entry_point_or_a_factory(tmp_path):
    _save(mean_model(channels=1), tmp_path / "m.onnx")
    (tmp_path / "d1.json").write_text(json.dumps({"onnx": "m.onnx", "scale": "unit"}))
    x = _images()
    np.testing.assert_allclose(load_model(tmp_path / "d1.json")(x), x.mean(axis=(1, 2)) / 255, rtol=1e-5)
    (tmp_path / "d2.json").write_text(
        json.dumps({"entry_point": "helpers.score_functions:mean_score", "input_size": 8})
    )
    np.testing.assert_allclose(
        load_model(tmp_path / "d2.json")(x), resize_images(x, (8, 8)).mean(axis=(1, 2)), rtol=1e-6
    )
    (tmp_path / "base.txt").write_text("10")
    factory = {
        "factory": "helpers.score_functions:offset_model",
        "files": {"path": "base.txt"},
        "arguments": {"offset": 1},
    }
    (tmp_path / "d3.json").write_text(json.dumps(factory))
    np.testing.assert_allclose(load_model(tmp_path / "d3.json")(x), x.mean(axis=(1, 2)) + 11, rtol=1e-6)
    (tmp_path / "d4.json").write_text(
        json.dumps({"factory": "helpers.score_functions:offset_model", "arguments": {"x": 1}})
    )
    with pytest.raises(InvalidInputError, match="does not take these arguments"):
        load_model(tmp_path / "d4.json")


def test_an_entry_point_gets_the_images_unchanged_by_default_and_its_output_is_checked():
    x = _images()
    np.testing.assert_allclose(load_model("helpers.score_functions:mean_score")(x), x.mean(axis=(1, 2)), rtol=1e-6)
    with pytest.raises(InvalidInputError, match=r"returned shape \[5, 2\]"):
        load_model("helpers.score_functions:two_scores")(x)


@pytest.mark.parametrize(
    ("setup", "kwargs", "match"),
    [
        (None, {}, "no such file"),
        ("garbage", {}, "cannot load ONNX file"),
        ("sidecar:{not json", {}, "not valid JSON"),
        ("sidecar:[1, 2]", {}, "expected a JSON object"),
        ('sidecar:{"colour": 1}', {}, "unknown key 'colour'"),
        ('sidecar:{"scale": "percent"}', {}, "scale: expected one of"),
        ('sidecar:{"onnx": "x.onnx"}', {}, "belong in a model description"),
        ("ok", {"channels": 2}, "channels: expected 1 or 3"),
        ("ok", {"input_size": (16, 16)}, "differs from the input"),
        ("ok", {"value_range": (5, 5)}, "value_range"),
        ("ok", {"std": [1, 2]}, "one value or one per channel"),
        ("ok", {"output": "logits"}, "no output named 'logits'"),
    ],
)
def test_bad_models_and_sidecars_are_clear_errors(tmp_path, setup, kwargs, match):
    path = tmp_path / "model.onnx"
    if setup == "garbage":
        path.write_bytes(b"not an onnx file")
    elif setup is not None:
        _save(mean_model(channels=1, size=(8, 8)), path)
        if setup.startswith("sidecar:"):
            (tmp_path / "model.json").write_text(setup.removeprefix("sidecar:"))
    with pytest.raises(InvalidInputError, match=match):
        load_model(path, **kwargs)


def test_wrong_output_shapes_and_specs_are_clear_errors(tmp_path):
    path = _save(scalar_model(), tmp_path / "scalar.onnx")
    with pytest.raises(InvalidInputError, match="output 'score' has shape"):
        load_model(path)(_images(3, 8, 8))
    with pytest.raises(InvalidInputError, match="expected a .onnx file"):
        load_model(tmp_path / "model.pt")
    (tmp_path / "both.json").write_text(json.dumps({"onnx": "a.onnx", "entry_point": "a:b"}))
    with pytest.raises(InvalidInputError, match="exactly one of"):
        load_model(tmp_path / "both.json")
    with pytest.raises(InvalidInputError, match="no such file"):
        load_model(tmp_path / "missing.json")
    with pytest.raises(InvalidInputError, match="cannot import module"):
        load_model("no_such_module_xyz:score")
