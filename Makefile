# The README's commands. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
# Outside the clone, so a second run on the same machine reuses compiled crates.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/spectral-fast-target

.PHONY: setup setup-test demo test test-rust test-python stubtest bench dev

# Release build of the extension (pip install builds with maturin's release profile).
setup:
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet .

setup-test:
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet ".[test,bench,dicom,ray]"

# Until the end-to-end demo lands: profile generated phantoms, half of them blurred.
demo: setup
	$(PYTHON) examples/quickstart.py

test: setup-test test-rust test-python stubtest

test-rust:
	cargo test

# The sources live under python/, so tests import the installed (release) package.
test-python:
	$(PYTHON) -m pytest tests

stubtest:
	$(PYTHON) -m mypy.stubtest spectral_fast._core

bench: setup-test
	$(PYTHON) benches/bench_core.py
	$(PYTHON) benches/bench_archive.py
	$(PYTHON) benches/planted_slices.py

# Editable install with the release extension, for development. (Not
# `maturin develop`: it needs a virtualenv, and builds debug unless told.
# pyproject's [tool.maturin] profile makes this a release build.)
dev:
	$(PYTHON) -m pip install --quiet "maturin>=1.16,<2"
	$(PYTHON) -m pip install --quiet --no-build-isolation -e ".[test,bench,dicom]"
