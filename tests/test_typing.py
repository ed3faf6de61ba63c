"""The typed public surface: a user's script in the README's style type-checks cleanly.

``import spectral_fast`` resolves its public names lazily (PEP 562); the
``TYPE_CHECKING`` block in ``__init__`` must show type checkers the real
signatures, not ``Any``. This runs mypy, as a user would, on a small script
that uses the names the README shows, against the package under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import spectral_fast

pytest.importorskip("mypy")

ROOT = Path(__file__).resolve().parents[1]

USER_SCRIPT = textwrap.dedent(
    """\
    from __future__ import annotations

    from pathlib import Path

    import numpy as np
    import polars as pl

    import spectral_fast as sf
    from spectral_fast.analysis import Finding, SpectralClusters, analyze
    from spectral_fast.reliability import monitor, predict

    img = np.zeros((64, 64), dtype=np.uint8)
    df: pl.DataFrame = sf.profile(img)
    df = sf.profile([img, img], threads=2)
    X: np.ndarray = sf.feature_matrix(df)
    edges: np.ndarray = sf.band_edges(1024, 1024)

    findings = [Finding("pneumonia", score_col="p_pneumonia")]
    rep = sf.analyze("profiles.parquet", "preds.csv", findings, id_col="path")
    rep = analyze("profiles.parquet", "preds.csv", [sf.Finding("pneumonia", score_col="p")])
    slices: pl.DataFrame = rep.slices
    written: dict[str, Path] = sf.write_report(rep, "out/", image_root="images/")

    res = sf.predict("out/", "new_profiles.parquet")
    res = predict("out/", "new_profiles.parquet", predictions="new_scores.csv")
    images: pl.DataFrame = res.images

    mon = sf.monitor("out/", "new_profiles.parquet")
    mon = monitor("out/", "new_profiles.parquet")
    verdict = mon.summary["verdict_line"]
    sf.write_monitor(mon, "monitor/")

    clusters = SpectralClusters().fit(X)

    reveal_type(sf.profile)
    reveal_type(sf.analyze)
    reveal_type(sf.predict)

    sf.band_edges("1024", 1024)  # MISUSE: the one error expected
    """
)


def _run_mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "user_script.py"
    script.write_text(source)
    # Type-check against the spectral_fast that the tests import (source tree or installed).
    package_parent = str(Path(spectral_fast.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))}
    env.pop("MYPYPATH", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--no-incremental",
            "--cache-dir",
            os.devnull,
            "--show-error-codes",
            str(script),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow  # mypy reads numpy's and polars' stubs: ~20 s
def test_readme_style_user_script_type_checks(tmp_path: Path) -> None:
    result = _run_mypy(tmp_path, USER_SCRIPT)
    out = result.stdout + result.stderr
    errors = [line for line in out.splitlines() if ": error:" in line]
    # Exactly one error, on the planted misuse: the check has teeth (the names are not Any).
    misuse_line = 1 + USER_SCRIPT.splitlines().index('sf.band_edges("1024", 1024)  # MISUSE: the one error expected')
    assert len(errors) == 1 and errors[0].startswith(f"user_script.py:{misuse_line}:"), f"mypy:\n{out}"
    assert "[arg-type]" in errors[0], errors[0]
    revealed = [line for line in out.splitlines() if "Revealed type is" in line]
    assert len(revealed) == 3, out
    for line in revealed:
        assert 'Revealed type is "Any"' not in line, f"a public name is untyped for users:\n{line}"
        assert line.split("Revealed type is", 1)[1].strip().startswith('"def '), line
    assert "polars.dataframe.frame.DataFrame" in revealed[0], revealed[0]
