"""The options of a spectral profile, as one object: :class:`ProfileOptions`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from spectral_fast.errors import InvalidTypeError


@dataclass(frozen=True)
class ProfileOptions:
    """How each image is profiled; the core validates the values (``docs/method.md#spectral-profile``).

    ``size``: resize to this square side first (None: native size); ``bands``:
    radial bands; ``spacing``: ``"log"`` or ``"linear"`` band edges;
    ``window``: ``"hann"`` or ``"none"``; ``artefacts``: add the artefact
    features; ``threads``: core threads (None: ``SPECTRAL_FAST_THREADS``, else all cores).
    """

    size: int | None = None
    bands: int = 32
    spacing: Literal["log", "linear"] = "log"
    window: Literal["hann", "none"] = "hann"
    artefacts: bool = True
    threads: int | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments of the core's entry points."""
        return asdict(self)


#: The option names, in the order of the dataclass (and of a run's journal).
OPTION_NAMES = tuple(f.name for f in fields(ProfileOptions))


def resolve_options(options: ProfileOptions | None, overrides: dict[str, Any], caller: str) -> ProfileOptions:
    """``options`` (default: ``ProfileOptions()``) with the keyword ``overrides`` applied.

    This is what lets ``profile(img, bands=8)`` keep working next to
    ``profile(img, ProfileOptions(bands=8))``. Values are not checked here:
    the core checks them, with the messages it always gave.
    """
    if options is None:
        options = ProfileOptions()
    elif not isinstance(options, ProfileOptions):
        raise InvalidTypeError(
            f"options must be a spectral_fast.ProfileOptions (or None), got {type(options).__name__}; "
            f"pass single options as keywords instead, e.g. {caller}(..., bands=8)"
        )
    unknown = [k for k in overrides if k not in OPTION_NAMES]
    if unknown:
        # What Python itself raised when these were keyword parameters.
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    return replace(options, **overrides) if overrides else options
