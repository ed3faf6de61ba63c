"""Regenerate the report screenshots of the docs: docs/demo-report.png and docs/real-report.png.

Each is the top of a report page (1400 x 900, what a reader sees without
scrolling) in headless Chromium, with the network blocked. Run from the
repository root::

    python -m spectral_fast demo -o spectral-fast-demo
    python docs/screenshots.py demo spectral-fast-demo/report/report.html
    python docs/screenshots.py real /tmp/sf-real      # builds the real-image report there first

``real`` reads the NIH ChestX-ray14 and Hannover (MHH) PNGs of
``../shared/data/cxr-real`` (or ``$SPECTRAL_FAST_DATA``) and ``nih-extra`` next to it, trains a logistic
regression on 32 x 32 thumbnails of half of the NIH patients (label: pneumonia
against normal), as if the model had been developed at one site, scores the
other NIH patients' images and the Hannover images (COVID-19 counts as
abnormal), and writes their blind-spot report with the images' dataset, view
and mode as metadata.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
WINDOW = (1400, 900)


def screenshot(page: Path, out: Path) -> Path:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not found (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="sf-chromium-") as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--proxy-server=127.0.0.1:9", f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
             f"--screenshot={out}", page.resolve().as_uri()],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300,
        )  # fmt: skip
    return out


def real_report(out_dir: Path, data: Path) -> Path:
    """Profile the real PNGs, score them with a thumbnail logistic regression, write the report; its HTML path."""
    import numpy as np
    import polars as pl
    from PIL import Image
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import spectral_fast as sf

    sets = [name for name in ("cxr-real", "nih-extra") if (data / name / "metadata.csv").is_file()]
    meta = pl.concat(
        [
            pl.read_csv(data / name / "metadata.csv", infer_schema_length=None).select(
                id=pl.lit(name + "/") + pl.col("file"),
                patient_id="patient_id",
                dataset="dataset",
                view="view",
                mode="mode",
                task_label="task_label",
            )
            for name in sets
        ]
    ).filter(
        pl.col("dataset").is_in(["nih-cxr14", "mhh-hannover"])
        & pl.col("task_label").is_in(["normal", "pneumonia", "covid"])
    )
    meta = meta.with_columns(abnormal=(pl.col("task_label") != "normal").cast(pl.Int64))

    def pixels(f: str) -> np.ndarray:
        with Image.open(data / f) as im:
            return (
                np.asarray(im.convert("L").resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float64).ravel() / 255
            )

    x = np.stack([pixels(f) for f in meta["id"]])
    rng = np.random.default_rng(0)
    nih = meta.filter(pl.col("dataset") == "nih-cxr14")["patient_id"].unique().sort().to_numpy()
    train_patients = set(rng.choice(nih, int(0.5 * len(nih)), replace=False))  # developed on NIH only
    train = meta["patient_id"].is_in(list(train_patients)).to_numpy()
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000)).fit(
        x[train], meta["abnormal"].to_numpy()[train]
    )
    test = meta.filter(~pl.Series(train)).with_columns(p_abnormal=pl.Series(clf.predict_proba(x[~train])[:, 1]))

    out_dir.mkdir(parents=True, exist_ok=True)
    profiles = out_dir / "profiles.parquet"
    sf.profile_archive([str(data / f) for f in test["id"]], profiles, overwrite=True, progress=False)
    by_name = {Path(i).name: i for i in test["id"]}  # ids relative to the data folder, the thumbnails' root
    table = pl.read_parquet(profiles)
    table = table.with_columns(pl.col("id").map_elements(lambda p: by_name[Path(p).name], return_dtype=pl.Utf8))
    preds = test.select("id", "abnormal", "p_abnormal", "patient_id", "dataset", "view", "mode")
    report = sf.analyze(table, preds, [sf.Finding("abnormal", score_col="p_abnormal")], group_col="patient_id", seed=0)
    return sf.write_report(report, out_dir / "report", image_root=data)["html"]


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "demo" and Path(sys.argv[2]).is_file():
        print(screenshot(Path(sys.argv[2]), DOCS / "demo-report.png"))
    elif len(sys.argv) == 3 and sys.argv[1] == "real":
        data = Path(os.environ.get("SPECTRAL_FAST_DATA", DOCS.parent.parent / "shared" / "data" / "cxr-real")).parent
        print(screenshot(real_report(Path(sys.argv[2]), data), DOCS / "real-report.png"))
    else:
        sys.exit("usage: python docs/screenshots.py demo PATH/TO/report.html | real OUT_DIR")


if __name__ == "__main__":
    main()
