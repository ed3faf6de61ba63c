"""Model and reference files that were tampered with and signed again: refused by name, never a traceback.

The checksums only prove a file is what its writer wrote; a hand-edited pair
with recomputed SHA-256 fields (as ``write_checksummed`` makes them) must
still be checked field by field on load (issue 18).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil

import numpy as np
import pytest

from helpers.profile_tables import make_profiles
from spectral_fast._shared.serialize import _digest, json_depth
from spectral_fast.analysis.clustering import SpectralClusters
from spectral_fast.errors import InvalidInputError
from spectral_fast.reliability.monitoring import monitor
from spectral_fast.reliability.reference_set import build_reference
from spectral_fast.reliability.risk import predict


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A report-like folder with a Gaussian mixture (weights, covariances) and its reference."""
    out = tmp_path_factory.mktemp("model")
    table, _, error = make_profiles(600, 0, 0.25)
    model = SpectralClusters(5, method="gmm", random_state=0).fit(table)
    model.save(out / "model.json")
    build_reference(
        table, model, {"y": error}, profile_options={"spacing": "log", "window": "hann", "size": None}
    ).save(out)
    return out


@pytest.fixture(scope="module")
def batch():
    return make_profiles(100, 8, 0.25)[0]


def copy_of(model_dir, out):
    shutil.copytree(model_dir, out)
    return out


def resign(json_path, edit_meta=None, edit_arrays=None):
    """Apply the edits and recompute ``arrays_sha256`` and ``sha256`` as ``write_checksummed`` does."""
    meta = json.loads(json_path.read_text())
    if edit_arrays is not None:
        npz = json_path.with_name(meta["arrays"])
        with np.load(npz) as f:
            arrays = {k: f[k] for k in f.files}
        edit_arrays(arrays)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        npz.write_bytes(buf.getvalue())
        meta["arrays_sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
    if edit_meta is not None:
        edit_meta(meta)
    meta.pop("sha256", None)
    meta["sha256"] = _digest(meta)
    json_path.write_text(json.dumps(meta))


def assert_refused(folder, batch, match, name):
    for run in (predict, monitor):
        with pytest.raises(InvalidInputError, match=match) as info:
            run(folder, batch)
        assert name in str(info.value)


def _set(key, value):
    def edit(d):
        d[key] = value

    return edit


def _scale(key, index, value):
    def edit(arrays):
        arrays[key] = arrays[key].astype(np.float64)
        arrays[key][index] = value

    return edit


MODEL_ARRAY_EDITS = {
    "nan_centres": (_scale("centers", (0, 0), np.nan), "NaN or infinite"),
    "inf_scale": (_scale("scale", 3, np.inf), "NaN or infinite"),
    "zero_scale": (_scale("scale", 3, 0.0), "values <= 0"),
    "negative_weight": (_scale("weights", 0, -0.2), "negative"),
    "weights_not_one": (_scale("weights", 0, 5.0), "sum to"),
    "wrong_centre_shape": (lambda a: a.update(centers=a["centers"][:, :7]), "dimensions|shape"),
    "wrong_k": (lambda a: a.update(centers=a["centers"][:3]), "shape"),
    "short_loc": (lambda a: a.update(loc=a["loc"][:-1]), "shape"),
    "string_array": (lambda a: a.update(loc=np.array(["x"] * len(a["loc"]))), "dtype"),
}


@pytest.mark.parametrize("case", sorted(MODEL_ARRAY_EDITS))
def test_tampered_model_arrays_are_refused(model_dir, batch, tmp_path, case):
    edit, match = MODEL_ARRAY_EDITS[case]
    folder = copy_of(model_dir, tmp_path / "m")
    resign(folder / "model.json", edit_arrays=edit)
    assert_refused(folder, batch, match, "model.json")


MODEL_META_EDITS = {
    "huge_k": (_set("n_clusters", 10**4000), "n_clusters"),
    "float_k": (_set("n_clusters", 5.0), "n_clusters"),
    "no_features": (_set("feature_names", []), "feature_names"),
    "feature_names_not_strings": (_set("feature_names", [[1]] * 32), "feature_names"),
    "unknown_param": (lambda m: m["params"].update(evil=1), "not a valid model file"),
    "arrays_path_escape": (_set("arrays", "../model.npz"), "'arrays'"),
}


@pytest.mark.parametrize("case", sorted(MODEL_META_EDITS))
def test_tampered_model_fields_are_refused(model_dir, batch, tmp_path, case):
    edit, match = MODEL_META_EDITS[case]
    folder = copy_of(model_dir, tmp_path / "m")
    resign(folder / "model.json", edit_meta=edit)
    assert_refused(folder, batch, match, "model.json")


def _finding(key, value):
    def edit(meta):
        meta["findings"]["y"][key] = value

    return edit


REFERENCE_EDITS = {
    "nan_threshold": (dict(edit_meta=_set("distance_threshold", float("nan"))), "distance_threshold"),
    "negative_threshold": (dict(edit_meta=_set("distance_threshold", -1.0)), "distance_threshold"),
    "huge_n": (dict(edit_meta=_set("n", 10**4000)), "out of range|outside"),
    "rate_above_one": (dict(edit_meta=_finding("rate", [2.0] * 5)), "rate"),
    "short_rates": (dict(edit_meta=_finding("rate", [0.1])), "rate"),
    "nan_rate": (dict(edit_meta=_finding("rate", [float("nan")] * 5)), "rate"),
    "blind_spot_out_of_range": (dict(edit_meta=_finding("blind_spots", [[99]])), "blind_spots"),
    "bad_confidence": (dict(edit_meta=_finding("confidence_model", {"coef": ["x"]})), "confidence_model"),
    "negative_mix": (dict(edit_arrays=_scale("mix", 0, -0.5)), "negative"),
    "mix_not_one": (dict(edit_arrays=_scale("mix", 0, 3.0)), "sum to"),
    "inf_mix": (dict(edit_arrays=_scale("mix", 0, np.inf)), "NaN or infinite"),
    "sample_wrong_width": (dict(edit_arrays=lambda a: a.update(sample=a["sample"][:, :5])), "shape"),
}


@pytest.mark.parametrize("case", sorted(REFERENCE_EDITS))
def test_tampered_reference_is_refused(model_dir, batch, tmp_path, case):
    edits, match = REFERENCE_EDITS[case]
    folder = copy_of(model_dir, tmp_path / "m")
    resign(folder / "reference.json", **edits)
    assert_refused(folder, batch, match, "reference.json")


@pytest.mark.parametrize("name", ["model.json", "reference.json"])
def test_deep_or_huge_json_is_refused_before_parsing(model_dir, batch, tmp_path, name):
    folder = copy_of(model_dir, tmp_path / "m")
    deep = '{"format": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert json_depth(deep) == 100_001
    (folder / name).write_text(deep)
    assert_refused(folder, batch, "nested", name)
    (folder / name).write_text('{"format": 1' + "0" * 10_000 + "}")  # beyond int_max_str_digits
    assert_refused(folder, batch, "not a spectral_fast", name)
    (folder / name).write_bytes(b'{"format": "\xff"}')
    assert_refused(folder, batch, "not UTF-8", name)


def test_json_depth_ignores_brackets_in_strings():
    assert json_depth('{"a": "[[[[\\"{{{{", "b": [1, [2]]}') == 3


def test_truncated_arrays_file_is_refused(model_dir, batch, tmp_path):
    folder = copy_of(model_dir, tmp_path / "m")
    npz = folder / "reference.npz"
    npz.write_bytes(npz.read_bytes()[:100])

    def fix(meta):
        meta["arrays_sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()

    resign(folder / "reference.json", edit_meta=fix)
    assert_refused(folder, batch, "unreadable reference arrays", "reference.npz")


def test_untouched_folder_still_loads(model_dir, batch):
    assert predict(model_dir, batch).images.height == batch.height
