#!/usr/bin/env python3
"""All speed targets of the default path in one run: the floor, archives of every kind, ``report``, start-up.

    python benches/run_all.py            # full run (a few minutes on 2 cores), writes
                                         #   benches/results/all.json and all.md
    python benches/run_all.py --quick    # smoke run on tiny inputs into a temp dir

What it measures, every ratio from one process on the same files, pipelines
interleaved (round robin, rotated each repeat; ``_timing.run_interleaved``),
medians over the repeats, 2 threads for everything that threads:

* **floor** (1024^2 8-bit PNG): the core's decoders alone (``_core._decode_only``:
  files read and decoded, pixels dropped) and a bare float64 ``rfft2`` alone
  (pyFFTW, one plan per thread, input already in place, images spread over 2
  Python threads). Their per-image times add up to the decode + FFT floor;
  the default ``profile_archive`` (what ``spectral-fast profile`` runs,
  artefact features on) is reported as a share of that floor.
* **archives**: 1024^2, 96^2 and 256^2 8-bit PNG, 2500 x 2048 RGB PNG, 16-bit
  DICOM (native and JPEG lossless, 1024^2): ``profile_archive`` with and
  without the artefact features against the plain-Python peer of
  ``bench_archive.py`` (Pillow or pydicom decode + ``scipy.fft.rfft2`` + a
  precomputed bincount plan, files over a 2-thread pool), whose features are
  checked against spectral_fast's (1e-6 relative) in the run. pydicom here
  cannot decode JPEG lossless (it needs pylibjpeg-libjpeg or gdcm), so that
  row has no peer, only the floor.
* **report**: ``spectral-fast report`` in a fresh process on 10,000 and
  112,000 profiles made by jittering real profiles (the cxr-real images
  profiled in this run; :func:`synth_profiles`), with predictions whose
  errors concentrate in one spectral region: seconds, CPU and peak RSS.
* **start-up**: ``spectral-fast --help`` and ``spectral-fast profile`` of one
  96^2 PNG, each in fresh processes (best of 5): wall and CPU seconds, next to
  a bare ``python -c pass``.

The peers' BLAS is held to one thread (``OPENBLAS_NUM_THREADS=1``, set
before numpy loads): they already run one image per thread, and OpenBLAS
threads spinning inside a 2-thread pool only slow them down on a loaded
machine. Load average, the cores other processes kept busy and the cores
each pipeline got are recorded: the machine is shared, read ratios. A debug
build of the extension is refused.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see the docstring

import json
import math
import resource
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing as T
import bench_archive as BA

REPO = T.REPO_ROOT
DEFAULT_OUT = REPO / "benches" / "results"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cxr-real" / "images"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "spectral_fast_bench_all"
THREADS = 2

FULL = {
    "png_large": (1024, 96),  # (side, files)
    "thumbs": ((96, 1500), (256, 600)),
    "rgb": ((2048, 2500), 16),  # ((height, width), files)
    "dicom": (1024, 12),
    "report_rows": (10_000, 112_000),
    "report_args": [],  # the defaults
    "startup_runs": 5,
    "repeats": 3,
    "fft_effort": "FFTW_MEASURE",
}
QUICK = {
    "png_large": (128, 8),
    "thumbs": ((96, 24), (256, 8)),
    "rgb": ((96, 120), 4),
    "dicom": (64, 4),
    "report_rows": (300, 600),
    "report_args": ["--n-perm", "49", "--n-boot", "20", "--refits", "2", "--k", "3"],
    "startup_runs": 1,
    "repeats": 1,
    "fft_effort": "FFTW_ESTIMATE",
}
TARGETS = {"floor_share": 0.8, "thumbs_vs_scipy": 3.0, "startup_s": 0.3, "report_112k_s": 30.0}


# --------------------------------------------------------------------------- inputs


def write_rgb(folder: Path, n: int, shape: tuple[int, int], data_dir: Path) -> list[Path]:
    """``n`` RGB PNGs of ``shape`` (height, width): real CXRs resized, channels tinted, noise added."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"rgb_{i:04d}.png" for i in range(n)]
    sources = sorted(data_dir.glob("nih__*.png"))[:8] if data_dir.is_dir() else []
    for i, p in enumerate(paths):
        if p.exists():
            continue
        rng = np.random.default_rng(i)
        if sources:
            with Image.open(sources[i % len(sources)]) as im:
                gray = np.asarray(im.convert("L").resize(shape[::-1], Image.Resampling.BICUBIC), dtype=np.float64)
        else:
            gray = 128 + 40 * rng.standard_normal(shape)
        rgb = np.stack([gray * g + rng.normal(0, 2, shape) for g in (1.0, 0.97, 0.93)], axis=-1)
        tmp = p.with_name(p.name + ".tmp")
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB").save(tmp, format="PNG")
        os.replace(tmp, p)
    return paths


def write_dicoms(folder: Path, n: int, side: int, data_dir: Path, *, lossless: bool) -> list[Path]:
    """``n`` 16-bit (12 bits stored) DICOMs of real CXRs, native or JPEG lossless (tests/helpers builders)."""
    from PIL import Image

    sys.path.insert(0, str(REPO / "tests"))
    from helpers.archive_samples import dicom, jpeg_lossless

    folder.mkdir(parents=True, exist_ok=True)
    kind = "jpegll" if lossless else "native"
    paths = [folder / f"{kind}_{i:04d}.dcm" for i in range(n)]
    sources = sorted(data_dir.glob("nih__*.png"))[:8] if data_dir.is_dir() else []
    for i, p in enumerate(paths):
        if p.exists():
            continue
        rng = np.random.default_rng(1000 + i)
        if sources:
            with Image.open(sources[i % len(sources)]) as im:
                gray = np.asarray(im.convert("L").resize((side, side), Image.Resampling.BICUBIC), dtype=np.float64)
        else:
            gray = 128 + 40 * rng.standard_normal((side, side))
        pixels = np.clip(gray * 16 + rng.normal(0, 8, gray.shape), 0, 4095).astype(np.uint16)
        if lossless:
            data = dicom(pixels, bits_stored=12, syntax="1.2.840.10008.1.2.4.70", frames=[jpeg_lossless(pixels, 16)])
        else:
            data = dicom(pixels, bits_stored=12)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, p)
    return paths


# --------------------------------------------------------------------------- archive cases


class Peer:
    """The plain-Python peer: decode (Pillow or pydicom) + scipy rfft2 + bincount plan, 2-thread pool."""

    def __init__(self, reference: Any, pool: ThreadPoolExecutor) -> None:
        self.ref, self.pool, self.plans, self.lock = reference, pool, {}, threading.Lock()

    def plan(self, shape: tuple[int, int]) -> Any:
        from bench_core import BandPlan

        with self.lock:
            if shape not in self.plans:
                self.plans[shape] = BandPlan(self.ref, *shape)
            return self.plans[shape]

    def pixels(self, path: Path) -> np.ndarray:
        if path.suffix == ".dcm":
            import pydicom

            return pydicom.dcmread(path).pixel_array
        from PIL import Image

        with Image.open(path) as im:
            arr = np.asarray(im)
        return self.ref.to_float_gray(arr) if arr.ndim == 3 else arr

    def run(self, files: list[Path]) -> np.ndarray:
        import scipy.fft

        out = np.empty((len(files), 39))

        def one(i: int) -> None:
            img = self.pixels(files[i])
            plan = self.plan(img.shape)
            x, mean, std = plan.load(img)
            plan.features(scipy.fft.rfft2(x, workers=1, overwrite_x=True), mean, std, out[i])

        list(self.pool.map(one, range(len(files))))
        return out

    def can_decode(self, path: Path) -> str | None:
        try:
            self.pixels(path)
        except Exception as exc:  # the peer's own limits, reported in the table
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        return None


def fft_floor(shape: tuple[int, int], n: int, pool: ThreadPoolExecutor, effort: str):
    """A callable timing ``n`` bare float64 rfft2 of ``shape`` spread over the pool's threads (pyFFTW, one plan each)."""
    import pyfftw.builders

    local = threading.local()

    def chunk(k: int) -> None:
        fft = getattr(local, "fft", None)
        if fft is None or fft.input_array.shape != shape:
            buf = pyfftw.empty_aligned(shape, dtype="float64")
            fft = local.fft = pyfftw.builders.rfft2(buf, threads=1, planner_effort=effort)
            fft.input_array[...] = np.random.default_rng(0).random(shape)
        for _ in range(k):
            fft()  # pyFFTW releases the GIL while FFTW runs

    parts = [n // THREADS + (1 if i < n % THREADS else 0) for i in range(THREADS)]
    return lambda: list(pool.map(chunk, parts))


def archive_cases(
    label: str, files: list[Path], work: Path, peer: Peer, *, floor: tuple[tuple[int, int], str] | None
) -> tuple[list[T.Case], dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spectral_fast import _core
    from spectral_fast.ingest.local import profile_archive

    n = len(files)
    listing = BA.list_file(work / f"{label}.txt", files)
    out = work / f"{label}.parquet"

    def sf(artefacts: bool):
        def run() -> np.ndarray:
            profile_archive(listing, out, threads=THREADS, overwrite=True, progress=False, artefacts=artefacts)
            return BA.features_of_table(pq.read_table(out))

        return run

    ids = pa.array([str(f) for f in files], pa.string())
    batch = pa.RecordBatch.from_arrays([ids, ids], names=["id", "path"])

    def decode() -> None:
        _ok, bad = _core._decode_only(batch, threads=THREADS, max_pixels=100_000_000)
        assert bad == 0, f"{bad} files failed to decode"

    case = lambda name, fn, **lab: T.Case(f"{label}/{name}", fn, n, {"pipeline": name, **lab})  # noqa: E731
    cases = [
        case("sf_default", sf(True), what="profile_archive(), artefact features on: spectral-fast profile"),
        case("sf_no_artefacts", sf(False), what="profile_archive(artefacts=False): what the peer computes"),
        case("decode_rust", decode, what="the core's decoders alone (floor)"),
    ]
    problem = peer.can_decode(files[0])
    if problem is None:
        cases.append(case("scipy_pool", lambda: peer.run(files), what="Pillow/pydicom + scipy.fft + bincount"))
    if floor is not None:
        cases.append(case("fft_floor", fft_floor(floor[0], n, peer.pool, floor[1]), what="bare pyFFTW rfft2 (floor)"))
    return cases, {"files": n, "peer_problem": problem}


def summarise(ms: list[T.Measurement], info: dict[str, Any]) -> dict[str, Any]:
    by = {m.case.labels["pipeline"]: m for m in ms}
    sf, lean = by["sf_default"], by["sf_no_artefacts"]
    res: dict[str, Any] = {
        **info,
        "measurements": [m.to_dict() for m in ms],
        "artefact_cost": sf.median / lean.median - 1,
    }
    if "scipy_pool" in by:
        peer = by["scipy_pool"].median
        res["vs_scipy_pool"] = {"default": peer / sf.median, "no_artefacts": peer / lean.median}
        got, want = by["scipy_pool"].warmup_result, lean.warmup_result
        diff = np.abs(got - want)
        ok = (diff <= 1e-6 * np.abs(want) + 1e-10) | (np.isnan(got) & np.isnan(want))
        res["agreement"] = {"passed": bool(ok.all()), "max_abs_diff": float(np.nanmax(diff)) if diff.size else 0.0}
    same = np.array_equal(sf.warmup_result.view(np.uint64), lean.warmup_result.view(np.uint64))
    res["artefacts_change_nothing_else"] = bool(same)
    floor = by["decode_rust"].median + (by["fft_floor"].median if "fft_floor" in by else 0.0)
    res["floor"] = {
        "parts": ["decode_rust"] + (["fft_floor"] if "fft_floor" in by else []),
        "ms_per_image": 1e3 * floor / sf.case.units,
        "share_default": floor / sf.median,
        "share_no_artefacts": floor / lean.median,
    }
    return res


def cpu_view(res: dict[str, Any]) -> dict[str, Any]:
    """The same ratios by process CPU time per image instead of wall time.

    On a machine whose load exceeds its cores, wall time mostly says how
    much of a core each pipeline was given; CPU time says how much work it
    did (spin-waiting included, which counts against spectral_fast's pool).
    Derived from the stored measurements, so old result files re-render.
    """
    cpu = {
        m["pipeline"]: 1e3 * m["cores_used"] * sum(m["times_s"]) / len(m["times_s"]) / m["units"]
        for m in res["measurements"]
    }
    floor = sum(cpu[p] for p in res["floor"]["parts"])
    out = {"ms_per_image": cpu, "floor_share_default": floor / cpu["sf_default"]}
    if "scipy_pool" in cpu:
        out["vs_scipy_pool"] = {
            "default": cpu["scipy_pool"] / cpu["sf_default"],
            "no_artefacts": cpu["scipy_pool"] / cpu["sf_no_artefacts"],
        }
    return out


# --------------------------------------------------------------------------- report


def synth_profiles(base: Any, n: int, seed: int = 0) -> tuple[Any, Any]:
    """``n`` profiles jittered from the ``ok`` rows of ``base`` (a pyarrow table), and predictions for them.

    Each row copies a random real profile and adds Gaussian noise of 5 % of
    each feature column's spread, so the rows stay on the manifold of real
    spectra. Labels are Bernoulli(0.3); the classifier's score errs with
    probability 0.35 where ``band_20`` is in its top fifth, else 0.08.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    base = base.filter(pc.equal(base.column("status"), "ok"))
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, base.num_rows, n)
    table = base.take(pa.array(pick))
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_floating(col.type) and name not in ("pixel_spacing_mm",):
            x = col.to_numpy(zero_copy_only=False)
            spread = np.nanstd(x) or 1.0
            cols[name] = pa.array(x + rng.normal(0, 0.05 * spread, n))
        else:
            cols[name] = col
    cols["id"] = pa.array([f"synth/{i:07d}.png" for i in range(n)])
    profiles = pa.table(cols)
    y = (rng.random(n) < 0.3).astype(np.int64)
    band = profiles.column("band_20").to_numpy()
    err = rng.random(n) < np.where(band > np.quantile(band, 0.8), 0.35, 0.08)
    truth = np.where(err, 1 - y, y)
    score = np.clip(np.where(truth == 1, 0.75, 0.25) + rng.normal(0, 0.12, n), 0, 1)
    preds = pa.table({"id": cols["id"], "y": pa.array(y), "p": pa.array(score)})
    return profiles, preds


#: Runs the CLI and prints its own peak RSS (VmHWM) and CPU seconds (getrusage of a
#: fork+exec'd child carries the parent's peak, so the child reports itself).
CLI_CHILD = r"""
import resource, sys
from spectral_fast.cli import main
code = main(sys.argv[1:])
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
r = resource.getrusage(resource.RUSAGE_SELF)
print("SF_CHILD", code, hwm, r.ru_utime + r.ru_stime, file=sys.stderr)
"""


def run_cli(args: list[str]) -> dict[str, Any]:
    env = dict(os.environ)  # the installed package, as this process imports it
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CLI_CHILD, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("SF_CHILD")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"spectral-fast {' '.join(args[:1])} failed:\n{proc.stdout}\n{proc.stderr}")
    _, code, hwm, cpu = line.split()
    return {
        "exit": int(code),
        "seconds": round(wall, 2),
        "cpu_s": round(float(cpu), 2),
        "peak_rss_mib": round(int(hwm) / 1024, 1),
    }


def report_runs(base: Any, rows: tuple[int, ...], extra: list[str], work: Path, log) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    out = []
    for n in rows:
        profiles, preds = synth_profiles(base, n)
        pq.write_table(profiles, work / f"profiles_{n}.parquet")
        pq.write_table(preds, work / f"preds_{n}.parquet")
        log(f"report on {n} profiles")
        args = ["report", str(work / f"profiles_{n}.parquet"), "--predictions", str(work / f"preds_{n}.parquet")]
        args += ["--label-col", "y", "--score-col", "p", "-o", str(work / f"report_{n}"), "--overwrite", "--quiet"]
        args += extra
        out.append({"rows": n, "load_1min": round(os.getloadavg()[0], 2), **run_cli(args)})
    return out


# --------------------------------------------------------------------------- start-up


#: ``spectral-fast ARGS`` that prints, on stderr, the wall clock (``time.time``) and the
#: process CPU seconds at the moment the core is first handed a non-empty batch: when
#: the first image starts. The hook wraps ``_core.process_batch``; nothing else changes.
FIRST_IMAGE_CHILD = r"""
import sys, time
from spectral_fast import _core
real = _core.process_batch
def first(batch, **kw):
    if batch.num_rows and _core.process_batch is first:
        print("SF_FIRST", time.time(), time.process_time(), file=sys.stderr)
        _core.process_batch = real
    return real(batch, **kw)
_core.process_batch = first
from spectral_fast.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def startup(one_image: Path, work: Path, runs: int) -> list[dict[str, Any]]:
    """Best of ``runs`` fresh processes: wall and CPU seconds of each command, and of
    ``spectral-fast profile`` until its first image starts (see :data:`FIRST_IMAGE_CHILD`)."""
    env = dict(os.environ)  # the installed package, as this process imports it
    profile = ["profile", str(one_image), "-o", str(work / "one.parquet"), "--overwrite", "--quiet"]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "spectral-fast --help": [sys.executable, "-m", "spectral_fast", "--help"],
        "spectral-fast profile (one 96^2 PNG), whole run": [sys.executable, "-m", "spectral_fast", *profile],
        "spectral-fast profile, until the first image starts": [sys.executable, "-c", FIRST_IMAGE_CHILD, *profile],
    }
    out = []
    for name, cmd in commands.items():
        best_cpu = best_wall = math.inf
        for _ in range(runs):
            r0, t0, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter(), time.time()
            proc = subprocess.run(
                cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
            )
            wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
            first = [ln.split() for ln in proc.stderr.splitlines() if ln.startswith("SF_FIRST")]
            if first:
                wall, cpu = float(first[0][1]) - start, float(first[0][2])
            best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
        out.append({"command": name, "wall_s": round(best_wall, 3), "cpu_s": round(best_cpu, 3)})
    return out


# --------------------------------------------------------------------------- markdown


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# All speed targets in one run",
        "",
        f"{T.run_line(doc)}, {doc['threads']} threads; "
        f"load average {doc['load'][0]} at the start, {doc['load'][1]} at the end; other processes kept "
        f"{doc['foreign_load_cores']} cores busy on average during the archive runs. Shared machine: read the "
        "ratios (same run, interleaved) and the cores-used column, not absolute times.",
        "",
        "## Archives: files to a profile table",
        "",
    ]
    rows = []
    for label, res in doc["archives"].items():
        cpu = cpu_view(res)["ms_per_image"]
        for meas in res["measurements"]:
            rows.append(
                [
                    label,
                    meas["pipeline"],
                    T.fmt_ms(meas["ms_per_unit"]),
                    f"{meas['units_per_s']:.1f}",
                    T.fmt_ms(cpu[meas["pipeline"]]),
                    f"{meas['cores_used']:.2f}",
                    f"{meas['iqr_rel']:.0%}",
                ]
            )
    heads = ["archive", "pipeline", "ms / image", "images / s", "CPU ms / image", "cores used", "IQR"]
    lines.append(T.md_table(heads, rows))
    lines += ["", "Per archive: ratios of medians in the same run, wall time (CPU time in brackets):", ""]
    rows = []
    for label, res in doc["archives"].items():
        vs, cv = res.get("vs_scipy_pool"), cpu_view(res)
        cvs = cv.get("vs_scipy_pool")
        agree = res.get("agreement")
        rows.append(
            [
                label,
                res["files"],
                f"{res['floor']['share_default']:.2f} [{cv['floor_share_default']:.2f}] "
                f"({' + '.join(res['floor']['parts'])})",
                f"{T.fmt_ratio(vs['default'])} [{T.fmt_ratio(cvs['default'])}]" if vs else "n/a",
                f"{T.fmt_ratio(vs['no_artefacts'])} [{T.fmt_ratio(cvs['no_artefacts'])}]" if vs else "n/a",
                f"{res['artefact_cost']:+.0%}",
                ("ok" if agree["passed"] else "FAILED") if agree else f"no peer: {res['peer_problem']}",
            ]
        )
    lines.append(
        T.md_table(
            [
                "archive",
                "files",
                "default at ... of the floor",
                "default vs scipy pool",
                "no-artefacts vs scipy pool",
                "artefact cost",
                "peer agrees",
            ],
            rows,
        )
    )
    lines += [
        "",
        "`sf_default` is `profile_archive(files, out.parquet)` (what `spectral-fast profile` runs); "
        "`sf_no_artefacts` leaves out the artefact features, which the peer does not compute. "
        "The floor is the decoders alone plus, where there is an `fft_floor` row, a bare float64 rfft2 "
        "(pyFFTW, one plan per thread, input in place).",
        "",
        "## report",
        "",
        T.md_table(
            ["profiles", "seconds", "CPU seconds", "peak RSS (MiB)", "load (1 min)"],
            [[r["rows"], r["seconds"], r["cpu_s"], r["peak_rss_mib"], r["load_1min"]] for r in doc["report"]],
        ),
        "",
        f"`spectral-fast report` in a fresh process on jittered real profiles ({doc['report_base_rows']} "
        "cxr-real profiles of this run, `run_all.synth_profiles`), one finding, default options. "
        f"{doc['report'][-1]['rows']:,} rows take {doc['report_scaling']:.1f}x the time of "
        f"{doc['report'][0]['rows']:,}.",
        "",
        "## Start-up",
        "",
        T.md_table(
            ["command", "wall s (best)", "CPU s (best)"],
            [[s["command"], s["wall_s"], s["cpu_s"]] for s in doc["startup"]],
        ),
        "",
        "## Targets",
        "",
        T.targets_table(doc["targets"]),
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def targets(doc: dict[str, Any], cfg: dict[str, Any]) -> list[dict[str, Any]]:
    arch = doc["archives"]
    large = arch[f"png{cfg['png_large'][0]}"]
    out = [
        {
            "target": f">= {TARGETS['floor_share']} of the decode + FFT floor, default profile, "
            f"{cfg['png_large'][0]}^2 8-bit PNG (wall [CPU])",
            "measured": f"{large['floor']['share_default']:.2f} [{cpu_view(large)['floor_share_default']:.2f}]",
            "met": large["floor"]["share_default"] >= TARGETS["floor_share"],
        }
    ]
    for side, _ in cfg["thumbs"]:
        res = arch[f"png{side}"]
        vs, cvs = res.get("vs_scipy_pool", {}), cpu_view(res).get("vs_scipy_pool", {})
        out.append(
            {
                "target": f">= {TARGETS['thumbs_vs_scipy']:.0f}x the scipy pool, {side}^2 PNG archive "
                "(default / no artefacts; wall [CPU])",
                "measured": f"{T.fmt_ratio(vs.get('default'))} / {T.fmt_ratio(vs.get('no_artefacts'))} "
                f"[{T.fmt_ratio(cvs.get('default'))} / {T.fmt_ratio(cvs.get('no_artefacts'))}]",
                "met": vs.get("default", 0) >= TARGETS["thumbs_vs_scipy"],
            }
        )
    for s in doc["startup"]:
        if s["command"] not in ("spectral-fast --help", "spectral-fast profile, until the first image starts"):
            continue
        out.append(
            {
                "target": f"< {TARGETS['startup_s']} s start-up: {s['command']} (CPU; wall)",
                "measured": f"{s['cpu_s']:.3f} s; {s['wall_s']:.3f} s",
                "met": s["cpu_s"] < TARGETS["startup_s"],
            }
        )
    big = doc["report"][-1]
    out.append(
        {
            "target": f"report on {big['rows']:,} profiles < {TARGETS['report_112k_s']:.0f} s and < 1 GiB",
            "measured": f"{big['seconds']} s, {big['peak_rss_mib']} MiB",
            "met": big["seconds"] < TARGETS["report_112k_s"] and big["peak_rss_mib"] < 1024,
        }
    )
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny inputs, one repeat, results in a temp dir")
    ap.add_argument("--out-dir", type=Path, default=None)
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="where generated images are kept")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--allow-debug", action="store_true", help="run on a debug build (results are not a benchmark)")
    ap.add_argument("--render", type=Path, default=None, metavar="ALL.json", help="only re-render a result file")
    args = ap.parse_args(argv)
    if args.render is not None:
        doc = json.loads(args.render.read_text())
        doc["targets"] = targets(doc, doc["config"])
        T.publish(args.out_dir or args.render.parent, "all", doc, markdown(doc))
        return 0
    cfg = dict(QUICK if args.quick else FULL)
    if args.repeats:
        cfg["repeats"] = args.repeats
    out_dir = args.out_dir or (Path(tempfile.mkdtemp(prefix="bench_all_")) if args.quick else DEFAULT_OUT)
    cache = args.cache_dir / ("quick" if args.quick else "full")
    log = T.log

    from spectral_fast import _core
    from spectral_fast.profiling import oracle as reference

    build = T.require_release_build(_core, allow_debug=args.allow_debug or args.quick)
    load0 = [round(x, 2) for x in os.getloadavg()]
    work = Path(tempfile.mkdtemp(prefix="bench_all_work_"))

    log("inputs (generated once, kept in the cache folder)")
    side, n_large = cfg["png_large"]
    inputs: dict[str, tuple[list[Path], tuple[tuple[int, int], str] | None]] = {
        f"png{side}": (
            BA.make_archive(cache / f"png{side}", n_large, side, args.data, log),
            ((side, side), cfg["fft_effort"]),
        ),
    }
    for s, n in cfg["thumbs"]:
        inputs[f"png{s}"] = (BA.make_archive(cache / f"png{s}", n, s, args.data, log), None)
    (h, w), n_rgb = cfg["rgb"]
    inputs[f"rgb{w}x{h}"] = (write_rgb(cache / f"rgb{w}x{h}", n_rgb, (h, w), args.data), ((h, w), cfg["fft_effort"]))
    d_side, n_dcm = cfg["dicom"]
    for lossless in (False, True):
        files = write_dicoms(cache / f"dicom{d_side}", n_dcm, d_side, args.data, lossless=lossless)
        inputs[f"dicom16_{'jpegll' if lossless else 'native'}"] = (files, ((d_side, d_side), cfg["fft_effort"]))

    archives: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=THREADS) as pool, T.ForeignLoad() as foreign:
        peer = Peer(reference, pool)
        for label, (files, floor) in inputs.items():
            log(f"timing {label}: {len(files)} files")
            cases, info = archive_cases(label, files, work, peer, floor=floor)
            ms = T.run_interleaved(cases, repeats=cfg["repeats"])
            archives[label] = summarise(ms, info)

    log("report: profiles of the real images, jittered")
    import pyarrow.parquet as pq

    from spectral_fast.ingest.local import profile_archive

    real = sorted(args.data.glob("*.png")) if args.data.is_dir() else inputs[f"png{side}"][0]
    profile_archive(BA.list_file(work / "real.txt", real), work / "real.parquet", threads=THREADS, progress=False)
    base = pq.read_table(work / "real.parquet")
    report = report_runs(base, cfg["report_rows"], cfg["report_args"], work, log)

    log("start-up")
    ups = startup(inputs[f"png{cfg['thumbs'][0][0]}"][0][0], work, cfg["startup_runs"])

    doc: dict[str, Any] = {
        "schema_version": T.SCHEMA_VERSION,
        "benchmark": "all",
        "command": "python benches/run_all.py" + (" --quick" if args.quick else ""),
        "valid_benchmark": not args.quick and str(build.get("profile")) == "release",
        "build": build,
        "machine": T.machine_info(),
        "config": {k: v for k, v in cfg.items()},
        "threads": THREADS,
        "load": [load0, [round(x, 2) for x in os.getloadavg()]],
        "foreign_load_cores": foreign.cores,
        "archives": archives,
        "report_base_rows": base.num_rows,
        "report": report,
        "report_scaling": report[-1]["seconds"] / report[0]["seconds"] if report[0]["seconds"] else math.nan,
        "startup": ups,
    }
    doc["targets"] = targets(doc, cfg)
    T.publish(out_dir, "all", json.loads(json.dumps(doc, default=str)), markdown(doc))
    bad = [k for k, r in archives.items() if not r.get("agreement", {"passed": True})["passed"]]
    bad += [k for k, r in archives.items() if not r["artefacts_change_nothing_else"]]
    if bad:
        log(f"features disagree: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
