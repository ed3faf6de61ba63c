"""The package's import layers, checked on the source (no imports are run).

Data flows one way: ``_shared`` <- ``profiling`` <- ``ingest`` <- ``analysis`` <-
``reliability`` <- ``stress`` <- ``render`` <- {``commands``, ``cli``, ``demo``, ``__main__``}.
A module may import from its own subpackage and from any layer below it, never
from one above. The top layer (the entry points) may import anything.
``simulate`` (phantoms, acquisition changes) stands apart: it may use
``_shared``, ``profiling`` and ``errors``, and no layer below the entry points
may import it, except ``stress``, which applies the simulator's acquisition
changes to a model's inputs. ``errors``, ``_version``, the compiled ``_core`` and the top-level
``__init__`` (lazy public names) are base modules that everyone may import.

Every import counts: module level, inside functions, under ``TYPE_CHECKING``.
``from spectral_fast import name`` is resolved through the top-level
``_PUBLIC`` table, so a lazy public name cannot hide an upward import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = "spectral_fast"
PKG_DIR = Path(__file__).resolve().parents[1] / "python" / PKG

#: Rank of each layer: a module may import ranks <= its own.
RANK = {"_shared": 0, "profiling": 1, "ingest": 2, "analysis": 3, "reliability": 4, "stress": 5, "render": 6}
#: Entry points: may import anything.
TOP = {"commands", "cli", "demo", "__main__"}
#: Importable by every module.
BASE = {"errors", "_core", "_version", ""}  # "" = the top-level package itself
#: What simulate may import besides itself and BASE.
SIMULATE_MAY_IMPORT = {"_shared", "profiling"}


def public_names(init_source: str) -> dict[str, str]:
    """The top-level ``_PUBLIC`` table (public name -> subpackage), read from the source."""
    for node in ast.parse(init_source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "_PUBLIC" for t in targets) and node.value is not None:
                value = ast.literal_eval(node.value)
                assert isinstance(value, dict)
                return value
    return {}


def layer_of(module: str) -> str:
    """``spectral_fast.analysis.pipeline`` -> ``analysis``; ``spectral_fast`` -> ``""``."""
    parts = module.split(".")
    assert parts[0] == PKG, module
    return parts[1] if len(parts) > 1 else ""


def allowed(importer: str, target: str) -> bool:
    """May a module of layer ``importer`` import one of layer ``target``?"""
    if importer == target or target in BASE or importer in TOP or importer == "":
        return True
    if importer == "simulate":
        return target in SIMULATE_MAY_IMPORT
    if target == "simulate":
        return importer == "stress"
    if target in TOP:
        return False
    if importer in RANK and target in RANK:
        return RANK[target] <= RANK[importer]
    return False  # a layer this test does not know: add it to RANK/TOP/BASE above


def _imported_modules(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, public: dict[str, str]):
    """The spectral_fast modules one import statement reaches."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == PKG or alias.name.startswith(PKG + "."):
                yield alias.name
        return
    if node.level:  # relative: resolve against the importing module's package
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if not (source == PKG or source.startswith(PKG + ".")):
        return
    if source != PKG:
        yield source
        return
    for alias in node.names:  # from spectral_fast import x: a subpackage, a lazy public name or a base name
        if alias.name in public:
            yield public[alias.name]
        elif alias.name in RANK or alias.name in TOP or alias.name in BASE or alias.name == "simulate":
            yield f"{PKG}.{alias.name}"
        else:
            yield PKG


def check_source(
    source: str, module: str, *, is_package: bool = False, public: dict[str, str] | None = None
) -> list[str]:
    """Offending imports of one module's source, as ``module:line: imports target (layer a -> layer b)``."""
    public = public or {}
    importer = layer_of(module)
    offences = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for target_module in _imported_modules(node, module, is_package, public):
            target = layer_of(target_module)
            if not allowed(importer, target):
                offences.append(
                    f"{module}:{node.lineno}: imports {target_module} "
                    f"({importer or PKG} may not import {target or PKG})"
                )
    return offences


def _modules() -> list[tuple[str, Path, bool]]:
    out = []
    for path in sorted(PKG_DIR.rglob("*.py")):
        rel = path.relative_to(PKG_DIR).with_suffix("")
        parts = [PKG, *rel.parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out.append((".".join(parts), path, is_package))
    return out


def test_every_subpackage_has_a_layer() -> None:
    known = set(RANK) | TOP | BASE | {"simulate"}
    unknown = {layer_of(m) for m, _, _ in _modules()} - known
    assert not unknown, f"add these to the layer table in tests/test_layers.py: {sorted(unknown)}"


def test_imports_follow_the_layers() -> None:
    public = public_names((PKG_DIR / "__init__.py").read_text())
    assert public, "the top-level _PUBLIC table was not found"
    offences = []
    for module, path, is_package in _modules():
        offences += check_source(path.read_text(), module, is_package=is_package, public=public)
    assert not offences, "imports against the layer order:\n  " + "\n  ".join(offences)


@pytest.mark.parametrize(
    ("module", "source", "is_package"),
    [
        ("spectral_fast.profiling.tables", "from spectral_fast.analysis import analyze\n", False),
        ("spectral_fast._shared.stats", "def f():\n    import spectral_fast.profiling.oracle\n", False),
        (
            "spectral_fast.ingest.local",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from spectral_fast.render import folders\n",
            False,
        ),
        ("spectral_fast.analysis.pipeline", "from ..reliability import risk\n", False),
        ("spectral_fast.analysis", "from ..render import write_report\n", True),
        ("spectral_fast.render.folders", "from spectral_fast.simulate import phantom\n", False),
        ("spectral_fast.simulate.acquire", "from spectral_fast.ingest import batch\n", False),
        ("spectral_fast.reliability.risk", "from spectral_fast.cli import main\n", False),
        ("spectral_fast.profiling.profiler", "from spectral_fast import write_report\n", False),
    ],
)
def test_checker_catches_a_planted_upward_import(module: str, source: str, is_package: bool) -> None:
    offences = check_source(source, module, is_package=is_package, public={"write_report": "spectral_fast.render"})
    assert len(offences) == 1, offences
    assert offences[0].startswith(f"{module}:")


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("spectral_fast.reliability.risk", "from spectral_fast.analysis.clustering import SpectralClusters\n"),
        ("spectral_fast.analysis.pipeline", "from . import describe\nfrom .blind_spots import analyze_finding\n"),
        ("spectral_fast.profiling.tables", "from spectral_fast import __version__, _core\nimport numpy\n"),
        ("spectral_fast.simulate.acquire", "from spectral_fast.profiling.oracle import resample_matrix\n"),
        ("spectral_fast.demo.images", "from spectral_fast.simulate import acquire\n"),
        ("spectral_fast.cli", "from spectral_fast.render import folders\n"),
        ("spectral_fast._shared.serialize", "from spectral_fast.errors import InvalidInputError\n"),
    ],
)
def test_checker_allows_downward_and_sibling_imports(module: str, source: str) -> None:
    assert check_source(source, module) == []
