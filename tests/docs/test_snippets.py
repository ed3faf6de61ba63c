"""Every ```python block of README.md and docs/**/*.md runs.

Each block is executed in a fresh namespace with the working directory set to
a temporary folder that holds small real inputs (see :func:`workdir`):

* ``cxr.png``, ``img_a.png``, ``img_b.png``: single 128-px grayscale images;
* ``images/``: 80 PNGs, half of them blurred, and ``predictions.csv`` with
  columns ``image`` (the file name), ``pneumonia`` (0/1) and ``p_pneumonia``
  (a score that is worse on the blurred half);
* ``new_images/`` and ``new_scores.csv``: a second, unlabeled batch like it;
* ``profiles.parquet``, ``new_profiles.parquet`` (their profiles) and
  ``out/`` (a report on ``images/``), so a block can start from any stage.

A block whose fence reads ```python no-run is shown, not run (it needs a Ray
cluster or data that cannot be made here); ```bash, ```sh, ```console and
```text blocks are never run. A block that raises fails the test and names the
file and line of the block.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks() -> list[pytest.param]:
    """(file, line, code) of every ```python block that is not marked ``no-run``."""
    params = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            words = m.group("info").split()
            if not words or words[0] != "python" or "no-run" in words[1:]:
                continue
            line = text.count("\n", 0, m.start()) + 1
            name = f"{path.relative_to(ROOT)}:{line}"
            params.append(pytest.param(path, line, m.group("body"), id=name))
    return params


def _image(rng: np.random.Generator, size: int, blurred: bool) -> np.ndarray:
    """A 16-bit image with a 1/f-like spectrum plus fine noise; ``blurred`` cuts its upper frequencies."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    r = np.hypot(fy, fx)
    spectrum = (rng.normal(size=r.shape) + 1j * rng.normal(size=r.shape)) / np.maximum(r, 1.0 / size) ** 1.2
    if blurred:
        spectrum *= np.exp(-((r / 0.08) ** 2))
    x = np.fft.irfft2(spectrum, s=(size, size))
    x = (x - x.min()) / (x.max() - x.min())
    return (1000 + 40000 * x).astype(np.uint16)


def _batch(folder: Path, csv: Path, rng: np.random.Generator, n: int, with_labels: bool) -> None:
    from PIL import Image

    folder.mkdir()
    rows = ["image,pneumonia,p_pneumonia" if with_labels else "image,p_pneumonia"]
    for i in range(n):
        blurred = i % 2 == 1
        name = f"{i:04d}.png"
        Image.fromarray(_image(rng, 128, blurred)).save(folder / name)
        label = int(rng.random() < 0.5)
        wrong = rng.random() < (0.5 if blurred else 0.1)
        score = float(np.clip((1 - label if wrong else label) * 0.6 + 0.2 + rng.normal(0, 0.05), 0.01, 0.99))
        rows.append(f"{name},{label},{score:.4f}" if with_labels else f"{name},{score:.4f}")
    csv.write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    d = tmp_path_factory.mktemp("snippets")
    rng = np.random.default_rng(0)
    for name in ("cxr.png", "img_a.png", "img_b.png"):
        Image.fromarray(_image(rng, 128, False)).save(d / name)
    _batch(d / "images", d / "predictions.csv", rng, 80, with_labels=True)
    _batch(d / "new_images", d / "new_scores.csv", rng, 40, with_labels=False)

    import spectral_fast as sf

    sf.profile_archive(d / "images", d / "profiles.parquet", progress=False)
    sf.profile_archive(d / "new_images", d / "new_profiles.parquet", progress=False)
    finding = sf.Finding("pneumonia", score_col="p_pneumonia")
    report = sf.analyze(d / "profiles.parquet", d / "predictions.csv", [finding], id_col="image", n_perm=99, n_boot=50)
    sf.write_report(report, d / "out")
    return d


def test_there_are_snippets() -> None:
    assert len(python_blocks()) >= 3


@pytest.mark.parametrize(("path", "line", "code"), python_blocks())
def test_snippet_runs(path: Path, line: int, code: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(workdir)
    compiled = compile(code, f"{path.relative_to(ROOT)}:{line}", "exec")
    namespace: dict = {"__name__": "__snippet__"}
    exec(compiled, namespace)  # a failing snippet raises here and fails the test
    assert os.getcwd() == str(workdir)
