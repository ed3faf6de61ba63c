"""The stress section: one per report page however often it is written, figures for what was run."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.stress_models import hf_model, textured_images
from spectral_fast import InvalidInputError, run_stress, write_stress
from spectral_fast.render.stress_html import BEGIN, END, add_section, stress_section
from spectral_fast.stress.sensitivity import Change


def test_add_section_inserts_before_main_and_replaces_itself():
    page = "<html><body><main>report</main></body></html>"
    once = add_section(page, f"{BEGIN}first{END}")
    assert once.index("first") < once.index("</main>")
    twice = add_section(once, f"{BEGIN}second{END}")
    assert "first" not in twice and twice.count(BEGIN) == 1
    with pytest.raises(InvalidInputError):
        add_section("no page here", f"{BEGIN}x{END}")


def test_api_result_renders_and_writes(tmp_path):
    images, labels = textured_images(24, 2)
    changes = [Change("band", "band", 0.5, 0.1), Change("acquisition", "blur", 1.5)]
    result = run_stress(hf_model, images, labels, changes=changes, n_boot=20)
    assert result.sensitivity.height == 2 and result.spots == []
    html = stress_section(result)
    assert html.count("data:image/png") == 2
    paths = write_stress(result, tmp_path / "out")
    assert paths["html"].is_file() and paths["sensitivity"].is_file()
    assert np.isfinite(result.meta["base_accuracy"])
