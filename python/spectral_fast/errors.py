"""The package's exceptions. Each also subclasses the builtin users already catch."""

from __future__ import annotations


class SpectralFastError(Exception):
    """Base class of every error spectral_fast raises on purpose."""


class InvalidInputError(SpectralFastError, ValueError):
    """A call's arguments or data are invalid; the message names the parameter."""


class InvalidTypeError(SpectralFastError, TypeError):
    """An argument has an unsupported type or dtype; the message names the parameter."""


class InternalError(SpectralFastError, RuntimeError):
    """A bug inside spectral_fast (e.g. a caught Rust panic); please report it."""
