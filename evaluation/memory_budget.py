"""Peak resident memory of ``spectral-fast profile --max-memory`` on images near the pixel limit.

Writes a folder of large synthetic radiograph-like images (8 and 16-bit PNG,
16-bit TIFF, JPEG, 16-bit DICOM; cached in ``--work``), then profiles it with
``python -m spectral_fast profile`` under ``/usr/bin/time -v`` for each budget
and reports the chosen threads and pixel limit, the row counts and the peak
RSS next to the budget. A second part profiles one image per format alone
with one thread, to measure the bytes per pixel that the budget assumes.

    python evaluation/memory_budget.py --work /tmp/sf_memory
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _image(h: int, w: int, maximum: int, dtype, seed: int) -> np.ndarray:
    """A smooth chest-like field plus noise, row by row to keep the generator's memory small."""
    rng = np.random.default_rng(seed)
    out = np.empty((h, w), dtype)
    x = np.linspace(-1, 1, w)
    for top in range(0, h, 512):
        y = np.linspace(-1, 1, h)[top : top + 512, None]
        field = 0.5 + 0.3 * np.cos(2.5 * x[None, :]) * np.cos(2.0 * y) + 0.05 * rng.standard_normal((len(y), w))
        out[top : top + 512] = (np.clip(field, 0, 1) * maximum).astype(dtype)
    return out


def _dicom(arr: np.ndarray) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ComputedRadiographyImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ComputedRadiographyImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["memory_budget", str(arr.shape)])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.ascontiguousarray(arr).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def make_images(folder: Path, side: int) -> list[Path]:
    """One image per format, ``side`` x ``side`` pixels; kept if already there."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "png8": folder / "g8.png",
        "png16": folder / "g16.png",
        "tiff16": folder / "g16.tif",
        "jpeg": folder / "g8.jpg",
        "dicom16": folder / "g16.dcm",
    }
    if all(p.exists() for p in paths.values()):
        return list(paths.values())
    g8 = _image(side, side, 255, np.uint8, 1)
    Image.fromarray(g8).save(paths["png8"])
    Image.fromarray(g8).save(paths["jpeg"], quality=90)
    del g8
    g16 = _image(side, side, 4095, np.uint16, 2)
    Image.fromarray(g16).save(paths["png16"])
    Image.fromarray(g16).save(paths["tiff16"])
    paths["dicom16"].write_bytes(_dicom(g16))
    return list(paths.values())


def run(inputs: list[Path], out: Path, extra: list[str]) -> dict:
    """``spectral-fast profile`` under ``/usr/bin/time -v``: its stdout, exit code and peak RSS."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "spectral_fast", "profile", *map(str, inputs)]
    cmd += ["-o", str(out), "--overwrite", "--batch-size", "8", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return {
        "code": proc.returncode,
        "stdout": proc.stdout.strip(),
        "stderr": "\n".join(line for line in proc.stderr.splitlines() if "spectral-fast" in line),
        "peak_mib": int(rss.group(1)) >> 10 if rss else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/sf_memory"))
    ap.add_argument(
        "--budgets",
        default="600M:4000,800M:4000,1G:5000,1.5G:4700,2G:5600,default:8400",
        help="BUDGET:SIDE pairs: --max-memory value ('default': none) and the image side to profile under it",
    )
    ap.add_argument("--side", type=int, default=5600, help="image side in pixels (default 5600: 31.4 Mpx)")
    args = ap.parse_args(argv)
    images = make_images(args.work / f"images_{args.side}", args.side)
    npix = args.side * args.side
    print(f"{len(images)} images of {args.side} x {args.side} = {npix:,} pixels: {', '.join(p.name for p in images)}\n")

    print("Per format, one image alone, --threads 1 (peak RSS minus a run on a 64 x 64 image):\n")
    tiny = args.work / "tiny.png"
    if not tiny.exists():
        from PIL import Image

        Image.fromarray(_image(64, 64, 255, np.uint8, 3)).save(tiny)
    base = run([tiny], args.work / "tiny.parquet", ["--threads", "1", "--max-pixels", str(npix)])["peak_mib"]
    print("| image | file MiB | peak RSS MiB | bytes per pixel over the base |")
    print("|---|---:|---:|---:|")
    for p in images:
        r = run([p], args.work / "one.parquet", ["--threads", "1", "--max-pixels", str(npix)])
        per_px = ((r["peak_mib"] - base) << 20) / npix
        print(f"| {p.name} | {p.stat().st_size / (1 << 20):.0f} | {r['peak_mib']} | {per_px:.1f} |")
    print(f"\nBase (64 x 64 image): {base} MiB.\n")

    print("A folder of the five formats near each budget's pixel limit, --threads 2:\n")
    print("| --max-memory | images | chosen | ok | errors | peak RSS MiB | under budget |")
    print("|---|---|---|---:|---:|---:|---|")
    for case in args.budgets.split(","):
        budget, side = case.split(":") if ":" in case else (case, str(args.side))
        folder = make_images(args.work / f"images_{side}", int(side))[0].parent
        flags = ["--threads", "2"] + ([] if budget == "default" else ["--max-memory", budget])
        r = run([folder], args.work / "all.parquet", flags)
        chosen = re.search(r"memory budget [^:]*: (.*)", r["stdout"])
        counts = re.search(r"(\d+) profiled, (\d+) errors", r["stdout"])
        limit = _size(budget)
        if not chosen:
            print(f"| {budget} | {side}² | refused: {r['stderr'][:200]} | 0 | 0 | {r['peak_mib']} | yes |")
            continue
        none = re.search(r"no image could be profiled \((\d+) errors", r["stderr"])
        ok, err = counts.groups() if counts else ("0", none.group(1) if none else "?")
        under = "yes" if r["peak_mib"] is not None and r["peak_mib"] << 20 <= limit else "**no**"
        print(f"| {budget} | {side}² | {chosen.group(1)} | {ok} | {err} | {r['peak_mib']} | {under} |")
    return 0


def _size(text: str) -> int:
    sys.path.insert(0, str(ROOT / "python"))
    from spectral_fast.ingest.budget import default_budget, parse_size

    return default_budget() if text == "default" else parse_size(text)


if __name__ == "__main__":
    raise SystemExit(main())
