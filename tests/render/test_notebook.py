"""examples/tutorial.ipynb runs top to bottom and its results render as the report's cards.

Executed with nbclient in a temporary folder on a small demo (``SF_TUTORIAL_N``);
skips when nbclient, nbformat or ipykernel are not installed (the ``test``
extra has them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "tutorial.ipynb"


def _html_outputs(cell) -> list[str]:
    return [o["data"]["text/html"] for o in cell.get("outputs", []) if "text/html" in o.get("data", {})]


def test_tutorial_runs_and_shows_the_cards(tmp_path, monkeypatch):
    import spectral_fast

    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    monkeypatch.setenv("SF_TUTORIAL_N", "240")
    package_root = str(Path(spectral_fast.__file__).resolve().parents[1])  # the kernel imports this copy
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    nbclient.NotebookClient(
        nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    code = [c for c in nb.cells if c.cell_type == "code"]
    report_html = _html_outputs(code[1])  # the cell ending in `report`
    assert report_html, "the Report did not render as HTML"
    assert 'class="sf"' in report_html[0] and 'class="verdict' in report_html[0]
    shown = _html_outputs(code[2])[0]  # sf.show with the image folder
    n_cards = shown.count('class="card"')
    assert n_cards == report_html[0].count('class="card"')
    if n_cards:
        assert "data:image/png;base64" in shown.split('class="card"', 1)[1]  # exemplar thumbnails inlined
    monitor_html = _html_outputs(code[-1])
    assert monitor_html and "Monitoring a new batch" in monitor_html[0]
