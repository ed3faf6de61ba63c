"""The options of a spectral profile, as one object: :class:`ProfileOptions`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal


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
