"""Do the clusters group images by acquisition or by matrix size? Pixel-axis bands against size-invariant ones.

Two measurements (``docs/method.md#spectral-profile`` for the axis, the
figures in ``docs/evaluations.md#matrix-sizes``):

* Same scenes, three sizes: 120 NIH images of ``../shared/data/nih-extra``,
  60 kept at 1024 px, 30 area-downsampled to 512 px and 30 to 256 px (one
  source, one detector family: the sizes are the only acquisition
  difference, and downsampling is a real one near the Nyquist limit). ARI of
  the clusters (k = 8, seeds 0-4) against the matrix size: high means the
  clusters are drawn by size.
* The real archive: the 543 labelled images of ``cxr-real`` + ``nih-extra``
  (NIH 1024 px, two NIH copies at 512 px, Hannover 640 x 519-714), default
  clusters, seeds 0-4: homogeneity against site (1 = every cluster holds one
  site) and the size of the cluster the 512-px NIH image falls into.

Run from the repository root: ``python evaluation/matrix_sizes.py``; results
in ``evaluation/results/matrix_sizes.{json,md}``.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
AXES = ("pixel", "field")
SEEDS = range(5)


def three_sizes() -> tuple[pl.DataFrame, np.ndarray]:
    """Profiles of 120 NIH images at 1024 / 512 / 256 px (area averaging), and each image's size."""
    from PIL import Image

    import spectral_fast as sf

    meta = pl.read_csv(DATA / "nih-extra" / "metadata.csv", infer_schema_length=None).filter(pl.col("mode") == "L")
    files = np.random.default_rng(0).choice(meta["file"].to_list(), 120, replace=False)
    images, sizes = [], []
    for j, f in enumerate(files):
        with Image.open(DATA / "nih-extra" / f) as im:
            side = 1024 if j < 60 else (512 if j < 90 else 256)
            images.append(np.asarray(im if side == 1024 else im.resize((side, side), Image.BOX)))
        sizes.append(side)
    return sf.profile(images), np.array(sizes)


def archive() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The real evaluation's profile table and metadata (``evaluation/real_world.py``)."""
    sys.path.insert(0, str(ROOT / "evaluation"))
    import real_world

    meta = real_world.load_metadata()
    return real_world.load_profiles(meta, Path("/tmp/spectral_fast_real_world")), meta


def run() -> dict:
    from sklearn.metrics import adjusted_rand_score, homogeneity_score

    from spectral_fast.analysis.clustering import SpectralClusters

    out: dict = {"three_sizes": {}, "archive": {}}
    table, sizes = three_sizes()
    for axis in AXES:
        aris = [
            adjusted_rand_score(sizes, SpectralClusters(8, frequency_axis=axis, random_state=s).fit(table).labels_)
            for s in SEEDS
        ]
        out["three_sizes"][axis] = {"ari_size": [float(a) for a in aris]}
    prof, meta = archive()
    site = meta["site"].to_numpy()
    short = np.minimum(prof["height"].to_numpy(), prof["width"].to_numpy())
    nih = site == "nih-cxr14"
    for axis in AXES:
        rows = []
        for s in SEEDS:
            lab = SpectralClusters(frequency_axis=axis, random_state=s).fit(prof).labels_
            counts = np.bincount(lab)
            rows.append(
                {
                    "homogeneity_site": float(homogeneity_score(site, lab)),
                    "ari_site": float(adjusted_rand_score(site, lab)),
                    "homogeneity_spacing_nih": float(
                        homogeneity_score(meta["pixel_spacing"].to_numpy()[nih], lab[nih])
                    ),
                    "homogeneity_view_nih": float(homogeneity_score(meta["view"].to_numpy()[nih], lab[nih])),
                    "cluster_of_512px_nih": [int(counts[lab[j]]) for j in np.flatnonzero(nih & (short == 512))],
                    "smallest_cluster": int(counts.min()),
                }
            )
        out["archive"][axis] = rows
    return out


def summarise(res: dict) -> str:
    lines = [
        'Matrix sizes: pixel-axis bands (`frequency_axis="pixel"`) against cycles per field of view + fine '
        'cycles/px bands (`"field"`), seeds 0-4.',
        "",
        "| measurement | pixel axis | field axis |",
        "|---|---|---|",
    ]
    ts = res["three_sizes"]
    lines.append(
        "| same NIH scenes at 1024/512/256 px: ARI clusters vs size, mean (range) | "
        + " | ".join(
            f"{np.mean(ts[a]['ari_size']):.2f} ({min(ts[a]['ari_size']):.2f}-{max(ts[a]['ari_size']):.2f})"
            for a in AXES
        )
        + " |"
    )
    ar = res["archive"]
    for key, what in (
        ("homogeneity_site", "543 real images: homogeneity of clusters vs site"),
        ("ari_site", "543 real images: ARI clusters vs site (k 16 over-segments: low by construction)"),
        ("homogeneity_spacing_nih", "NIH: homogeneity vs detector spacing"),
        ("homogeneity_view_nih", "NIH: homogeneity vs view"),
    ):
        lines.append(f"| {what} | " + " | ".join(f"{np.mean([r[key] for r in ar[a]]):.2f}" for a in AXES) + " |")
    lines.append(
        "| size of the cluster holding the 512-px NIH image, per seed | "
        + " | ".join(", ".join(str(r["cluster_of_512px_nih"][0]) for r in ar[a]) for a in AXES)
        + " |"
    )
    lines.append(
        "| smallest cluster, per seed | "
        + " | ".join(", ".join(str(r["smallest_cluster"]) for r in ar[a]) for a in AXES)
        + " |"
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    warnings.simplefilter("ignore")
    res = run()
    out = ROOT / "evaluation" / "results"
    (out / "matrix_sizes.json").write_text(json.dumps(res, indent=1))
    md = summarise(res)
    (out / "matrix_sizes.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
