# The README's commands. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
# Outside the clone, so a second run on the same machine reuses compiled crates.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/spectral-fast-target

.PHONY: setup setup-test demo test lint test-rust test-python stubtest bench dev

# Release build of the extension (pip install builds with maturin's release profile).
setup:
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet .

# The test extra brings ruff and mypy; rustfmt and clippy are rustup components
# (added only when missing: a toolchain from a distribution package has them or not).
setup-test:
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet ".[test,bench,dicom,ray]"
	@cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1 \
		|| rustup component add rustfmt clippy

# The built-in demo: phantoms, a classifier, its acquisition failures and the report
# finding them (python/spectral_fast/demo/); everything goes to $(DEMO_DIR).
DEMO_DIR ?= spectral-fast-demo
demo: setup
	$(PYTHON) -m spectral_fast demo -o $(DEMO_DIR)

# Lint first: it fails in a few minutes where the tests take ten.
test: setup-test lint test-rust test-python

# Style and static checks of both languages, and the stub of the compiled core
# against the installed build (so run after setup-test). Config: pyproject.toml
# ([tool.ruff]), .rustfmt.toml, Cargo.toml ([lints]).
PY_SOURCES = python tests benches evaluation examples
lint:
	$(PYTHON) -m ruff check $(PY_SOURCES)
	$(PYTHON) -m ruff format --check $(PY_SOURCES)
	cargo fmt --check
	cargo clippy --all-targets --features python -- -D warnings
	$(PYTHON) -m mypy.stubtest spectral_fast._core

test-rust:
	cargo test

# The sources live under python/, so tests import the installed (release) package.
test-python:
	$(PYTHON) -m pytest tests

stubtest:
	$(PYTHON) -m mypy.stubtest spectral_fast._core

bench: setup-test
	$(PYTHON) benches/run_all.py
	$(PYTHON) benches/bench_core.py
	$(PYTHON) benches/bench_archive.py
	$(PYTHON) evaluation/planted_slices.py

# Editable install with the release extension, for development. (Not
# `maturin develop`: it needs a virtualenv, and builds debug unless told.
# pyproject's [tool.maturin] profile makes this a release build.)
dev:
	$(PYTHON) -m pip install --quiet "maturin>=1.16,<2"
	$(PYTHON) -m pip install --quiet --no-build-isolation -e ".[test,bench,dicom]"
