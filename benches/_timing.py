"""Shared machinery for the benchmarks in ``benches/``.

Every benchmark script (core, archive, planted-slice, ...) uses the same
pieces so their results look alike and can be compared:

* :func:`run_interleaved` times a set of :class:`Case` objects with warm-up
  and repeats, interleaving the cases (round robin, rotated every repeat) so
  that drift on a shared, noisy machine spreads over all of them instead of
  biasing whichever ran last. Statistics are medians.
* :func:`require_release_build` refuses to time a debug build of the Rust
  extension.
* :func:`machine_info` records what the numbers depend on: CPU model, cores,
  affinity, load, thread settings (OPENBLAS_*, OMP_*, RAYON_*), BLAS pools,
  library versions and the git commit.
* :func:`write_json` / :func:`write_text` write results atomically, and
  :func:`md_table` renders markdown tables.
* :func:`archive_cli`, :func:`doc_header` and :func:`publish`: the command
  line, result header and output step the archive-style benchmarks
  (``bench_archive``, ``bench_ray``) share.

Only the standard library and numpy are needed here; optional libraries
(threadpoolctl, polars, scipy, pyfftw, psutil) are recorded when present.
"""

from __future__ import annotations

import datetime as _dt
import gc
import importlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Bumped whenever the layout of the JSON files written by the benchmarks changes.
SCHEMA_VERSION = 1

#: Environment variables that change how numerical libraries behave or thread.
THREAD_ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "POLARS_MAX_THREADS",
    "PYFFTW_NUM_THREADS",
    "SPECTRAL_FAST_THREADS",
)

REPO_ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- build profile


class BuildProfileError(RuntimeError):
    """The Rust extension is missing, is a debug build, or cannot say which it is."""


REBUILD_HINT = (
    "Build the extension in release mode first:\n"
    "    maturin develop --release          (or: pip install .)\n"
    "Timings of a debug build are meaningless (10-50x slower)."
)


def core_build_info(core: Any) -> dict[str, Any]:
    """What the compiled core says about its build.

    Expects ``core.build_info() -> dict`` with at least ``"profile"``
    (``"release"`` or ``"debug"``); also accepts ``core.build_profile() -> str``.
    Raises :class:`BuildProfileError` if neither exists.
    """
    if hasattr(core, "build_info"):
        info = dict(core.build_info())
        if "profile" not in info:
            raise BuildProfileError(f"{core.__name__}.build_info() has no 'profile' key: {info!r}")
        return info
    if hasattr(core, "build_profile"):
        return {"profile": str(core.build_profile())}
    raise BuildProfileError(
        f"{getattr(core, '__name__', core)!r} does not expose its build profile, so this benchmark "
        "cannot tell a release build from a debug one and refuses to run.\n"
        "The extension must provide `build_info() -> dict` with keys 'profile' ('release' | "
        "'debug', e.g. from cfg!(debug_assertions)), 'version' and 'threads_default'."
    )


def require_release_build(core: Any, *, allow_debug: bool = False) -> dict[str, Any]:
    """Return the core's build info; raise :class:`BuildProfileError` unless it is a release build.

    ``allow_debug`` lets smoke tests run the machinery on a debug build; the
    caller must then mark its results as not a benchmark.
    """
    info = core_build_info(core)
    profile = str(info["profile"]).lower()
    if profile != "release" and not allow_debug:
        raise BuildProfileError(f"refusing to benchmark: the Rust extension is a {profile!r} build.\n{REBUILD_HINT}")
    return info


# --------------------------------------------------------------------------- timing


@dataclass
class Case:
    """One thing to time: ``fn()`` processes ``units`` items (images, files, rows)."""

    name: str
    fn: Callable[[], Any]
    units: int = 1
    labels: dict[str, Any] = field(default_factory=dict)
    #: Set ``True`` when ``fn`` returns its own elapsed seconds (to time only part of
    #: what it does, e.g. a bare FFT without loading its input); otherwise wall time.
    self_timed: bool = False


@dataclass
class Measurement:
    case: Case
    times: list[float]  # seconds per call, one per repeat
    warmup_result: Any = None  # what fn returned on its first warm-up call
    #: (process CPU seconds, wall seconds) of each timed call, all threads of this process
    cpu_wall: list[tuple[float, float]] = field(default_factory=list)

    @property
    def cores_used(self) -> float:
        """Process CPU time over wall time during the timed calls: ~1 for one busy
        thread, ~2 for two; well below the thread count means the machine did not
        give this process the cores (shared machine) or the work did not parallelise."""
        cpu, wall = sum(c for c, _ in self.cpu_wall), sum(w for _, w in self.cpu_wall)
        return cpu / wall if wall > 0 else math.nan

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def per_unit_ms(self) -> float:
        return 1e3 * self.median / self.case.units

    @property
    def units_per_s(self) -> float:
        return self.case.units / self.median if self.median > 0 else math.inf

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median (0.05 = +-5 %-ish noise)."""
        if len(self.times) < 4:
            return (max(self.times) - min(self.times)) / self.median if self.median > 0 else 0.0
        q = statistics.quantiles(self.times, n=4)
        return (q[2] - q[0]) / self.median if self.median > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.case.name,
            **self.case.labels,
            "units": self.case.units,
            "repeats": len(self.times),
            "times_s": [round(t, 6) for t in self.times],
            "median_s": round(self.median, 6),
            "min_s": round(min(self.times), 6),
            "ms_per_unit": round(self.per_unit_ms, 4),
            "units_per_s": round(self.units_per_s, 2),
            "iqr_rel": round(self.spread, 4),
            "cores_used": round(self.cores_used, 3),
        }


def _call(case: Case) -> tuple[float, Any, tuple[float, float]]:
    gc.collect()
    gc.disable()
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        out = case.fn()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
    finally:
        gc.enable()
    elapsed = float(out) if case.self_timed else wall
    return elapsed, out, (cpu, wall)


def run_interleaved(
    cases: Sequence[Case],
    *,
    repeats: int,
    warmup: int = 1,
    log: Callable[[str], None] | None = None,
) -> list[Measurement]:
    """Time ``cases`` interleaved; return one :class:`Measurement` per case, in order.

    Each case first runs ``warmup`` times (plans, caches, lazy imports; the
    first result is kept for correctness checks). Then, ``repeats`` times, every
    case runs once, in an order rotated by one each repeat, so each case sees
    every position and slow phases of the machine hit all cases alike.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise ValueError(f"case names must be unique: {names}")
    results = [Measurement(c, []) for c in cases]
    for m in results:
        for i in range(warmup):
            _, out, _ = _call(m.case)
            if i == 0:
                m.warmup_result = out
        if log:
            log(f"  warm-up {m.case.name}")
    n = len(cases)
    for r in range(repeats):
        for k in range(n):
            m = results[(k + r) % n]
            elapsed, _, cw = _call(m.case)
            m.times.append(elapsed)
            m.cpu_wall.append(cw)
        if log:
            log(f"  repeat {r + 1}/{repeats} done")
    return results


# --------------------------------------------------------------------------- environment


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _version(module: str) -> str | None:
    try:
        mod = importlib.import_module(module)
    except Exception:
        return None
    return str(getattr(mod, "__version__", "unknown"))


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def blas_pools() -> list[dict[str, Any]]:
    """Thread pools of native libraries loaded in this process (threadpoolctl), if available."""
    try:
        import threadpoolctl
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "num_threads", "version", "threading_layer", "architecture")
    return [{k: p.get(k) for k in keep} for p in threadpoolctl.threadpool_info()]


def machine_info(modules: Iterable[str] = ("numpy", "scipy", "pyfftw", "polars", "PIL")) -> dict[str, Any]:
    """Everything a timing depends on that the code itself does not show."""
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    info: dict[str, Any] = {
        "timestamp_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "machine": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "affinity": affinity,
        "load_average_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "nice": os.nice(0) if hasattr(os, "nice") else None,
        "autogroup": _read("/proc/self/autogroup"),  # Linux: nice of the session's scheduling group
        "sched_autogroup_enabled": _read("/proc/sys/kernel/sched_autogroup_enabled"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "env": {k: os.environ.get(k) for k in THREAD_ENV_VARS},
        "versions": {m: _version(m) for m in modules},
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        import numpy as np

        cfg = np.show_config(mode="dicts")  # numpy >= 2
        simd = cfg.get("SIMD Extensions", {})
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["numpy_config"] = {
            "simd_found": simd.get("found"),
            "simd_baseline": simd.get("baseline"),
            "blas": blas.get("name"),
            "blas_config": blas.get("openblas configuration"),
        }
    except Exception:
        pass
    return info


class ForeignLoad:
    """How many cores *other* processes kept busy while a block ran (Linux only).

    ``with ForeignLoad() as fl: ...`` then ``fl.cores`` is the mean number of
    cores busy with work that was not this process's (another build, another
    benchmark): ~0 on a quiet machine, ~1 when one of two cores was taken.
    ``None`` where /proc/stat is unavailable.
    """

    def __init__(self) -> None:
        self.cores: float | None = None

    @staticmethod
    def _busy_s() -> float | None:
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        except (OSError, IndexError):
            return None
        ticks = [int(x) for x in fields]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        guest = sum(ticks[8:10]) if len(ticks) > 9 else 0  # already counted in user/nice
        # busy = user + nice + system + irq + softirq + steal (steal: the hypervisor ran someone else)
        return (sum(ticks) - idle - guest) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> ForeignLoad:
        self._t0, self._busy0, self._own0 = time.perf_counter(), self._busy_s(), _own_cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        busy1, wall = self._busy_s(), time.perf_counter() - self._t0
        if busy1 is None or self._busy0 is None or wall <= 0:
            return
        foreign = (busy1 - self._busy0) - (_own_cpu_s() - self._own0)
        self.cores = round(max(foreign, 0.0) / wall, 2)


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


# --------------------------------------------------------------------------- output


def write_json(path: Path, doc: Any) -> None:
    """Write ``doc`` as indented JSON, atomically (tmp file + rename)."""
    write_text(path, json.dumps(doc, indent=2, sort_keys=False, allow_nan=True) + "\n")


def write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def log(msg: str) -> None:
    """Progress on stderr, so stdout carries only the results table."""
    print(msg, file=sys.stderr, flush=True)


def archive_cli(
    argv: list[str] | None, doc: str, name: str, quick: dict, full: dict, dirs: tuple[Path, Path, Path]
) -> tuple[Any, dict, Path, Path]:
    """Parse the options every archive-style benchmark takes.

    ``doc`` is the script's docstring (its first paragraph is the help text);
    ``dirs`` the default archive cache, data and results folders. Returns
    ``(args, config, out_dir, cache_dir)``: ``--quick`` picks the tiny
    configuration and a temporary results folder, ``--repeats`` overrides the
    configuration's, and the generated archive is cached per configuration.
    """
    import argparse
    import tempfile

    cache, data, out = dirs
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny archive, one repeat, results in a temp dir")
    ap.add_argument("--out-dir", type=Path, default=None)
    ap.add_argument("--cache-dir", type=Path, default=cache, help="where the generated archive is kept")
    ap.add_argument("--data", type=Path, default=data)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--allow-debug", action="store_true", help="run on a debug build (results are not a benchmark)")
    args = ap.parse_args(argv)
    cfg = dict(quick if args.quick else full)
    if args.repeats:
        cfg["repeats"] = args.repeats
    out_dir = args.out_dir or (Path(tempfile.mkdtemp(prefix=f"bench_{name}_")) if args.quick else out)
    return args, cfg, out_dir, args.cache_dir / ("quick" if args.quick else "full")


def doc_header(name: str, args: Any, build: dict[str, Any]) -> dict[str, Any]:
    """The fields every result document starts with."""
    return {
        "schema_version": SCHEMA_VERSION,
        "benchmark": name,
        "command": f"python benches/bench_{name}.py" + (" --quick" if args.quick else ""),
        "valid_benchmark": not args.quick and str(build.get("profile")) == "release",
        "build": build,
    }


def run_line(doc: dict[str, Any]) -> str:
    """How a result was made, for a markdown header: "`command` on CPU (n logical CPUs), commit abc (dirty)"."""
    m = doc["machine"]
    dirty = " (dirty)" if m.get("git_dirty") else ""
    return (
        f"`{doc['command']}` on {m['cpu_model']} ({m['logical_cpus']} logical CPUs), commit "
        f"{str(m.get('git_commit'))[:10]}{dirty}"
    )


def publish(out_dir: Path, name: str, doc: dict[str, Any], markdown: str) -> None:
    """Write ``name.json`` and ``name.md`` into ``out_dir`` and print the markdown."""
    write_json(out_dir / f"{name}.json", doc)
    write_text(out_dir / f"{name}.md", markdown)
    log(f"wrote {out_dir / (name + '.json')} and {out_dir / (name + '.md')}")
    print(markdown)


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> str:
    """A GitHub markdown table; ``align`` is one char per column: l, r or c."""
    align = align or "l" + "r" * (len(headers) - 1)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [
        "| " + " | ".join(str(h) for h in headers) + " |",
        "| " + " | ".join(marks[a] for a in align) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def targets_table(targets: Iterable[dict[str, Any]]) -> str:
    """The Markdown table of a benchmark's targets: each ``target``, ``measured`` and whether it is ``met``."""
    return md_table(
        ["target", "measured", "met"], [[t["target"], t["measured"], "yes" if t["met"] else "no"] for t in targets]
    )


def fmt_ms(ms: float) -> str:
    """Milliseconds with ~3 significant digits."""
    if not math.isfinite(ms):
        return "n/a"
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    return f"{ms:.2f}"


def fmt_ratio(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.2f}x"
