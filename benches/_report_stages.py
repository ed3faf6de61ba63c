"""CPU seconds of each stage of ``spectral-fast report``, for ``bench_report_scale.py --stages``.

:func:`install` wraps the functions that make up the report (module
attributes, looked up at call time) with timers of the process's CPU time
(:func:`time.process_time`, all threads). Timers nest: each stage is charged
its *own* time, without the stages it calls, so the stages add up to the
report's CPU time (what is left is :data:`REST`). :func:`result` gives them,
largest first, with ``imports``: the CPU time of importing the libraries the
report uses before it starts (they would otherwise land in the first stage
that imports them).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

#: Stages called inside this one are charged apart, as ``"<stage> (in refits)"``.
REFITS = "stability refits: scans and rest"
#: (module, attribute path, stage name). Methods as ``Class.method``.
STAGES = (
    ("spectral_fast.commands.report", "run", "reading, joining, errors, writing tables (rest)"),
    ("spectral_fast.analysis.clustering", "SpectralClusters.fit", "clustering fit"),
    ("spectral_fast.analysis.clustering", "SpectralClusters.transform", "distances to centres"),
    ("spectral_fast.analysis.clustering", "SpectralClusters.predict_proba", "mixture posteriors"),
    ("spectral_fast.analysis.pipeline", "_stability", REFITS),
    ("spectral_fast.analysis.describe", "describe_clusters", "cluster descriptions"),
    ("spectral_fast.analysis.blind_spots", "analyze_finding", "statistics, permutations, bootstrap"),
    ("spectral_fast.analysis.contrast", "compare", "blind spot against the rest"),
    ("spectral_fast.render.folders", "render_html", "page: rest"),
    ("spectral_fast.render.spots", "composition", "page: metadata composition"),
    ("spectral_fast.render.plots", "plot_ratio", "page: plots"),
    ("spectral_fast.render.plots", "plot_spectra", "page: plots"),
    ("spectral_fast.render.plots", "plot_map", "page: plots"),
    ("spectral_fast.render.plots", "plot_error_rates", "page: plots"),
    ("spectral_fast.render.folders", "write_reference", "reliability reference: rest"),
    ("spectral_fast.reliability.reference_set", "held_out_distance", "reliability reference: held-out distances"),
    ("spectral_fast.reliability.reference_set", "fit_confidence_model", "reliability reference: confidence model"),
)
#: Libraries imported (and timed) before the report runs.
IMPORTS = ("polars", "numpy", "sklearn.mixture", "sklearn.cluster", "scipy.stats", "matplotlib.pyplot",
           "spectral_fast.analysis.pipeline", "spectral_fast.render.folders")  # fmt: skip

_own: dict[str, float] = {}
_stack: list[tuple[str, list[float]]] = []  # per open timer: its stage, [start, CPU of nested timers]

_imports = [0.0]


def _timed(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stage = f"{name} (in refits)" if any(s == REFITS for s, _ in _stack) else name
        frame = [time.process_time(), 0.0]
        _stack.append((name, frame))
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.process_time() - frame[0]
            _stack.pop()
            _own[stage] = _own.get(stage, 0.0) + spent - frame[1]
            if _stack:
                _stack[-1][1][1] += spent

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    """Import the report's libraries (timed) and wrap every stage of :data:`STAGES` with a CPU timer."""
    t0 = time.process_time()
    import matplotlib

    matplotlib.use("Agg")
    for mod in IMPORTS:
        importlib.import_module(mod)
    _imports[0] = time.process_time() - t0
    for module, path, name in STAGES:
        try:  # another checkout (--before) may lack a stage: it is then not timed
            owner: Any = importlib.import_module(module)
            *outer, attr = path.split(".")
            for part in outer:
                owner = getattr(owner, part)
            fn = getattr(owner, attr)
        except (ImportError, AttributeError):
            continue
        setattr(owner, attr, _timed(fn, name))


def result() -> dict[str, float]:
    """CPU seconds per stage (own time), imports first, then largest first."""
    stages = sorted(_own.items(), key=lambda kv: -kv[1])
    return {"imports": round(_imports[0], 2), **{k: round(v, 2) for k, v in stages}}
