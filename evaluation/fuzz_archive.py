"""Fuzz the archive path: mutated PNG / JPEG / TIFF / DICOM files through ``process_batch``.

Seeds are made here with numpy, Pillow and pydicom (several bit depths,
compressions and photometric interpretations) plus real radiographs from
``../shared/data/cxr-real/images`` when present (PNGs and DICOMs as they
are, and a real PNG re-encoded as JPEG and TIFF). Each mutant is one or more
of: bit flips, bytes set to boundary values, 16/32-bit fields overwritten
with boundary integers (mostly in the first KiB, where lengths and sizes
live), truncation, a chunk deleted, duplicated or inserted, a splice of two
seeds.

Mutants are written in batches to a temporary folder; each batch runs
through :func:`spectral_fast.ingest.batch.process_batch` (``id`` + ``path``,
as the CLI builds it, DICOM fallback on, threads and pixel limit from the
default memory budget) in a child process, watched for
its exit signal, a timeout and its resident memory. A failing batch (the
child died of a signal, hung, let an exception escape, returned the wrong
number of rows, or went over ``--mem-flag``) is bisected until the single
input that fails alone is found; its bytes are kept in ``--keep``. An input
whose row says ``decoder_panic`` (a panic the core caught: the batch is fine,
the decoder is not) is kept there too. Mutants depend only on ``--seed``.

    python evaluation/fuzz_archive.py --n 2000 --seed 0
    python evaluation/fuzz_archive.py --quick

Prints one table per format and the findings, each attributed to one input.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "cxr-real" / "images"
FORMATS = ("png", "jpeg", "tiff", "dicom")
SUFFIX = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "dicom": ".dcm"}
INTERESTING_8 = [0x00, 0x01, 0x7F, 0x80, 0xFF]
INTERESTING_16 = [0, 1, 0x7FFF, 0x8000, 0xFFFF, 65500, 0x0100, 0xFFFE]
INTERESTING_32 = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF0, 65500 * 65500, 1 << 20, 0xFFFE]


# ---------------------------------------------------------------- seeds


def _phantom(h: int, w: int, maximum: int, dtype, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.3 * np.sin(x / 5.0) * np.cos(y / 7.0) + 0.1 * rng.standard_normal((h, w))
    return (np.clip(base, 0, 1) * maximum).astype(dtype)


def _pil(arr: np.ndarray, fmt: str, **kw) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def _dicom(arr: np.ndarray, *, photometric="MONOCHROME2", bits_stored=None, syntax=None) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ComputedRadiographyImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ComputedRadiographyImageStorage
    # A UID derived from the pixels and options, not a random one: the same
    # --seed must give the same mutants, byte for byte, to reproduce a finding.
    entropy = [arr.tobytes().hex()[:64], str(arr.shape), photometric, str(bits_stored), str(syntax)]
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=entropy)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.Rows, ds.Columns = arr.shape[:2]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 * arr.dtype.itemsize
    ds.BitsStored = bits_stored or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if arr.dtype.kind == "i" else 0
    ds.PixelSpacing = [0.143, 0.143]
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.PixelData = np.ascontiguousarray(arr).tobytes()
    if syntax is not None:
        plugin = {"1.2.840.10008.1.2.5": "pydicom", "1.2.840.10008.1.2.4.90": "pylibjpeg"}.get(syntax, "")
        ds.compress(syntax, encoding_plugin=plugin, generate_instance_uid=False)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def make_seeds(use_real: bool = True) -> dict[str, list[tuple[str, bytes]]]:
    """Seed files per format: ``[(name, bytes)]``."""
    g8 = _phantom(64, 48, 255, np.uint8, 1)
    g16 = _phantom(40, 56, 4095, np.uint16, 2)
    rgb = np.stack([_phantom(32, 40, 255, np.uint8, s) for s in (3, 4, 5)], axis=-1)
    seeds: dict[str, list[tuple[str, bytes]]] = {f: [] for f in FORMATS}
    seeds["png"] += [("g8", _pil(g8, "PNG")), ("g16", _pil(g16, "PNG")), ("rgb", _pil(rgb, "PNG"))]
    seeds["jpeg"] += [
        ("g8", _pil(g8, "JPEG", quality=90)),
        ("rgb", _pil(rgb, "JPEG", quality=75)),
        ("progressive", _pil(g8, "JPEG", quality=85, progressive=True)),
    ]
    seeds["tiff"] += [
        ("raw", _pil(g8, "TIFF")),
        ("lzw", _pil(g8, "TIFF", compression="tiff_lzw")),
        ("deflate", _pil(rgb, "TIFF", compression="tiff_adobe_deflate")),
        ("g16", _pil(g16, "TIFF")),
    ]
    seeds["dicom"] += [
        ("native8", _dicom(g8)),
        ("native12", _dicom(g16, bits_stored=12)),
        ("mono1", _dicom(g16, bits_stored=12, photometric="MONOCHROME1")),
    ]
    for name, syntax in (("rle", "1.2.840.10008.1.2.5"), ("j2k", "1.2.840.10008.1.2.4.90")):
        try:
            seeds["dicom"].append((name, _dicom(g16, bits_stored=12, syntax=syntax)))
        except Exception as exc:  # encoder plugin missing
            print(f"(no {name} DICOM seed: {exc})", file=sys.stderr)
    if use_real and REAL.is_dir():
        from PIL import Image

        pngs = sorted(REAL.glob("*.png"), key=lambda p: p.stat().st_size)[:2]
        for p in pngs:
            seeds["png"].append((p.stem, p.read_bytes()))
        if pngs:
            img = np.asarray(Image.open(pngs[0]).convert("L").resize((256, 256)))
            seeds["jpeg"].append(("real", _pil(img, "JPEG", quality=90)))
            seeds["tiff"].append(("real", _pil(img, "TIFF", compression="tiff_lzw")))
        for p in sorted(REAL.glob("*.dcm"))[:2]:
            seeds["dicom"].append((p.stem[:24], p.read_bytes()))
    return seeds


# ---------------------------------------------------------------- mutation


def _pos(rng: random.Random, n: int) -> int:
    """A position, biased to the header (first KiB) where lengths and sizes live."""
    if n <= 1:
        return 0
    return rng.randrange(min(n, 1024)) if rng.random() < 0.7 else rng.randrange(n)


def fix_png_crcs(buf: bytearray) -> None:
    """Recompute each PNG chunk's CRC, so a mutant gets past the CRC check into the decoder proper."""
    import zlib

    i = 8
    while i + 12 <= len(buf):
        length = int.from_bytes(buf[i : i + 4], "big")
        end = i + 8 + length
        if end + 4 > len(buf):
            return
        buf[end : end + 4] = zlib.crc32(bytes(buf[i + 4 : end])).to_bytes(4, "big")
        i = end + 4


def mutate(rng: random.Random, data: bytes, other: bytes, fmt: str = "") -> tuple[bytes, str]:
    buf = bytearray(data)
    ops = []
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        op = rng.choice(("flip", "byte", "int16", "int32", "truncate", "delete", "dup", "insert", "splice"))
        n = len(buf)
        if n < 8:
            break
        if op == "flip":
            for _ in range(rng.randint(1, 8)):
                i = _pos(rng, n)
                buf[i] ^= 1 << rng.randrange(8)
        elif op == "byte":
            buf[_pos(rng, n)] = rng.choice(INTERESTING_8)
        elif op in ("int16", "int32"):
            width = 2 if op == "int16" else 4
            i = min(_pos(rng, n), n - width)
            value = rng.choice(INTERESTING_16 if width == 2 else INTERESTING_32)
            buf[i : i + width] = value.to_bytes(width, rng.choice(("little", "big")))
        elif op == "truncate":
            del buf[rng.randrange(1, n) :]
        elif op == "delete":
            i = rng.randrange(n)
            del buf[i : i + rng.randint(1, 256)]
        elif op == "dup":
            i = rng.randrange(n)
            chunk = buf[i : i + rng.randint(1, 256)]
            j = rng.randrange(n)
            buf[j:j] = chunk
        elif op == "insert":
            j = _pos(rng, n)
            buf[j:j] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif op == "splice" and other:
            cut = rng.randrange(n)
            buf = buf[:cut] + bytearray(other[rng.randrange(len(other)) :])
        ops.append(op)
    if fmt == "png" and rng.random() < 0.8:
        fix_png_crcs(buf)
        ops.append("crc")
    return bytes(buf), "+".join(ops) or "none"


# ---------------------------------------------------------------- running one batch in a child

WORKER = r"""
import json, os, resource, sys
import pyarrow as pa
from spectral_fast.ingest.batch import DEFAULT_MAX_PIXELS, process_batch
from spectral_fast.ingest.budget import default_budget, plan_memory
folder, out = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(folder))
batch = pa.record_batch({"id": pa.array(names, pa.string()),
                         "path": pa.array([os.path.join(folder, n) for n in names], pa.string())})
# As `spectral-fast profile --threads 2` with the default memory budget.
plan = plan_memory(default_budget(), threads=int(os.environ.get("FUZZ_THREADS", "2")), max_pixels=None,
                   default_max_pixels=DEFAULT_MAX_PIXELS)
res = process_batch(batch, threads=plan.threads, max_pixels=plan.max_pixels)
rows = [{"id": i, "status": s, "kind": k} for i, s, k in zip(
    res.column("id").to_pylist(), res.column("status").to_pylist(), res.column("error_kind").to_pylist())]
with open(out, "w") as fh:
    json.dump({"rows": rows, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}, fh)
"""


@dataclass
class Outcome:
    kind: str  # ok, crash, hang, exception, memory, rows
    detail: str = ""
    peak_rss: int = 0
    rows: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.kind != "ok"


def run_batch(
    files: list[Path], work: Path, *, timeout: float, rss_limit: int, mem_flag: int, worker: str = WORKER
) -> Outcome:
    """``process_batch`` over ``files`` in a fresh child; its fate and peak resident memory."""
    import psutil

    folder = Path(tempfile.mkdtemp(dir=work, prefix="b"))
    for f in files:
        try:
            os.link(f, folder / f.name)  # same file system: no copy
        except OSError:
            shutil.copyfile(f, folder / f.name)
    out = folder.with_suffix(".json")
    # The child imports the installed package, as the parent does (an editable install in development).
    # Its stderr goes to a file: a pipe read only at the end could fill up and stall the child.
    with tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", worker, str(folder), str(out)], stdout=subprocess.DEVNULL, stderr=stderr
        )
        proc = psutil.Process(child.pid)
        peak, start, killed = 0, time.monotonic(), ""
        while child.poll() is None:
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.Error:
                pass
            if peak > rss_limit:
                killed = f"RSS over {rss_limit >> 20} MiB"
            elif time.monotonic() - start > timeout:
                killed = f"no result after {timeout:.0f} s"
            if killed:
                child.kill()
                break
            time.sleep(0.01)
        child.wait()
        stderr.seek(0)
        err = stderr.read().decode(errors="replace")
    shutil.rmtree(folder, ignore_errors=True)
    if killed:
        return Outcome("memory" if "RSS" in killed else "hang", killed, peak)
    if child.returncode < 0:
        return Outcome("crash", f"signal {-child.returncode}", peak)
    if child.returncode != 0 or not out.exists():
        last = [line for line in err.strip().splitlines() if line.strip()][-1:] or ["(no message)"]
        return Outcome("exception", f"exit {child.returncode}: {last[0][:200]}", peak)
    doc = json.loads(out.read_text())
    out.unlink()
    peak = max(peak, doc["maxrss_kib"] * 1024)
    if sorted(r["id"] for r in doc["rows"]) != sorted(f.name for f in files):
        return Outcome("rows", f"{len(doc['rows'])} rows for {len(files)} inputs", peak, doc["rows"])
    if peak > mem_flag:
        return Outcome("memory", f"peak RSS {peak >> 20} MiB", peak, doc["rows"])
    return Outcome("ok", "", peak, doc["rows"])


def bisect(files: list[Path], work: Path, **opts) -> list[tuple[Path | None, Outcome, list[Path]]]:
    """The single inputs that fail alone, each with its outcome; ``(None, outcome, files)`` if none does."""
    if len(files) == 1:
        return [(files[0], run_batch(files, work, **opts), files)]
    half = len(files) // 2
    found = []
    for part in (files[:half], files[half:]):
        outcome = run_batch(part, work, **opts)
        if outcome.failed:
            sub = bisect(part, work, **opts) if len(part) > 1 else [(part[0], outcome, part)]
            found += sub
    if not found:
        found.append((None, Outcome("interaction", "fails only together"), files))
    return found


# ---------------------------------------------------------------- driver


@dataclass
class Tally:
    inputs: int = 0
    batches: int = 0
    statuses: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    peak_rss: int = 0
    seconds: float = 0.0


def _finding(fmt: str, kind: str, detail: str, kept: list[str], origin: dict, peak_rss: int) -> dict:
    return {
        "format": fmt,
        "kind": kind,
        "detail": detail,
        "inputs": kept,
        "mutation": origin.get(kept[0], "?") if len(kept) == 1 else f"{len(kept)} inputs",
        "peak_rss_mib": peak_rss >> 20,
    }


def fuzz(n: int, seed: int, batch_size: int, keep: Path, formats=FORMATS, use_real=True, on_batch=None, **opts):
    rng = random.Random(seed)
    seeds = make_seeds(use_real)
    tallies = {f: Tally() for f in formats}
    findings: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="fuzz_archive_") as tmp:
        work = Path(tmp)
        for fmt in formats:
            pool, t = seeds[fmt], tallies[fmt]
            started = time.monotonic()
            for start in range(0, n, batch_size):
                files, origin = [], {}
                folder = work / f"{fmt}_{start:06d}"
                folder.mkdir()
                for i in range(start, min(n, start + batch_size)):
                    name, data = rng.choice(pool)
                    mutant, ops = mutate(rng, data, rng.choice(pool)[1], fmt)
                    path = folder / f"{fmt}_{i:06d}{SUFFIX[fmt]}"
                    path.write_bytes(mutant)
                    files.append(path)
                    origin[path.name] = f"{name}: {ops}"
                outcome = run_batch(files, work, **opts)
                t.batches += 1
                t.inputs += len(files)
                t.peak_rss = max(t.peak_rss, outcome.peak_rss)
                for r in outcome.rows:
                    t.statuses[r["status"]] += 1
                    if r["kind"]:
                        t.kinds[r["kind"]] += 1
                    if r["kind"] == "decoder_panic":
                        # Caught, so the batch succeeded, but a panic is still
                        # a decoder bug: keep the input that caused it.
                        t.failures["panic"] += 1
                        keep.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(folder / r["id"], keep / r["id"])
                        findings.append(_finding(fmt, "panic", "decoder_panic row", [r["id"]], origin, 0))
                if outcome.failed:
                    for culprit, result, group in bisect(files, work, **opts):
                        t.failures[result.kind] += 1
                        keep.mkdir(parents=True, exist_ok=True)
                        kept = []
                        for f in [culprit] if culprit else group:
                            shutil.copyfile(f, keep / f.name)
                            kept.append(f.name)
                        findings.append(_finding(fmt, result.kind, result.detail, kept, origin, result.peak_rss))
                shutil.rmtree(folder, ignore_errors=True)
                t.seconds = time.monotonic() - started
                if on_batch is not None:
                    on_batch(tallies, findings)
                if t.batches % 10 == 0:
                    print(f"{fmt}: {t.inputs}/{n} inputs, {t.seconds:.0f} s", file=sys.stderr, flush=True)
    return tallies, findings


def write_mutants(folder: Path, n: int, seed: int, formats=FORMATS, use_real=True) -> None:
    """``n`` mutants per format into ``folder``, mutated as :func:`fuzz` does (same ``seed``, other order)."""
    rng = random.Random(seed)
    seeds = make_seeds(use_real)
    folder.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        for i in range(n):
            _, data = rng.choice(seeds[fmt])
            mutant, _ = mutate(rng, data, rng.choice(seeds[fmt])[1], fmt)
            (folder / f"{fmt}_{i:06d}{SUFFIX[fmt]}").write_bytes(mutant)


def report(tallies: dict[str, Tally], findings: list[dict], keep: Path) -> str:
    lines = [
        "| format | inputs | batches | ok rows | error rows | error kinds | crashes | hangs | escaped | memory | wrong rows "
        "| caught panics | max batch RSS MiB | s |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for fmt, t in tallies.items():
        kinds = ", ".join(f"{k} {v}" for k, v in t.kinds.most_common())
        f = t.failures
        lines.append(
            f"| {fmt} | {t.inputs} | {t.batches} | {t.statuses['ok']} | {t.statuses['error']} | {kinds} | "
            f"{f['crash']} | {f['hang']} | {f['exception']} | {f['memory']} | {f['rows']} | {f['panic']} | "
            f"{t.peak_rss >> 20} | "
            f"{t.seconds:.0f} |"
        )
    lines.append("")
    if findings:
        lines.append(f"Findings (reproducers kept in {keep}):")
        lines.append("")
        lines.append("| format | kind | input | mutation of seed | detail | peak RSS MiB |")
        lines.append("|---|---|---|---|---|---:|")
        for x in findings:
            lines.append(
                f"| {x['format']} | {x['kind']} | {' '.join(x['inputs'])} | {x['mutation']} | {x['detail']} | "
                f"{x['peak_rss_mib']} |"
            )
    else:
        lines.append(
            "Findings: none (no crash, hang, escaped exception, wrong row count, memory peak or caught panic)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="mutants per format (default 1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per batch before it counts as a hang")
    ap.add_argument("--rss-limit-mib", type=int, default=3072, help="kill a child above this resident memory")
    ap.add_argument("--mem-flag-mib", type=int, default=1024, help="a batch peaking above this is a memory finding")
    ap.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "fuzz_archive_findings")
    ap.add_argument("--no-real", action="store_true", help="generated seeds only")
    ap.add_argument("--quick", action="store_true", help="50 mutants per format, one batch each")
    ap.add_argument("--json", type=Path, help="also write the tallies and findings as JSON (after every batch)")
    ap.add_argument(
        "--write-only",
        type=Path,
        metavar="DIR",
        help="write the --n mutants of every format into DIR (for a CLI run over a mix) and exit",
    )
    ap.add_argument("--from-json", type=Path, nargs="+", help="print the report of saved --json files and exit")
    args = ap.parse_args(argv)
    if args.from_json:
        tallies, findings = {}, []
        for path in args.from_json:
            doc = json.loads(path.read_text())
            for fmt, t in doc["tallies"].items():
                tallies[fmt] = Tally(**{**t, **{k: Counter(t[k]) for k in ("statuses", "kinds", "failures")}})
            findings += doc["findings"]
        print(report(tallies, findings, args.keep))
        return 1 if findings else 0
    n, batch = (50, 50) if args.quick else (args.n, args.batch_size)
    formats = tuple(f for f in args.formats.split(",") if f)
    if args.write_only:
        write_mutants(args.write_only, n, args.seed, formats, use_real=not args.no_real)
        return 0
    started = time.monotonic()

    def save(tallies: dict[str, Tally], findings: list[dict]) -> None:
        # After every batch, so a long run that is stopped still has its figures.
        if args.json:
            doc = {
                "tallies": {
                    f: {
                        **t.__dict__,
                        "statuses": dict(t.statuses),
                        "kinds": dict(t.kinds),
                        "failures": dict(t.failures),
                    }
                    for f, t in tallies.items()
                },
                "findings": findings,
            }
            args.json.write_text(json.dumps(doc, indent=2) + "\n")

    tallies, findings = fuzz(
        n,
        args.seed,
        batch,
        args.keep,
        formats=formats,
        use_real=not args.no_real,
        timeout=args.timeout,
        rss_limit=args.rss_limit_mib << 20,
        mem_flag=args.mem_flag_mib << 20,
        on_batch=save,
    )
    print(report(tallies, findings, args.keep))
    print(f"\n{sum(t.inputs for t in tallies.values())} inputs in {time.monotonic() - started:.0f} s")
    save(tallies, findings)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
