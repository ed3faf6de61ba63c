"""The notebook view of a result: the same verdict and cards as the HTML files, as a scoped fragment.

:func:`to_html` is what ``Report._repr_html_``, ``Prediction._repr_html_`` and
``MonitorResult._repr_html_`` return (through :mod:`spectral_fast._shared.display`);
:func:`show` displays a result with thumbnails when given the image folder.
"""

from __future__ import annotations

from pathlib import Path

from spectral_fast.analysis.pipeline import Report
from spectral_fast.errors import InvalidTypeError
from spectral_fast.reliability.monitoring import MonitorResult
from spectral_fast.reliability.risk import Prediction
from spectral_fast.render.monitor_html import render_monitor_body
from spectral_fast.render.prediction_html import render_prediction_body
from spectral_fast.render.primitives import fragment
from spectral_fast.render.report_html import render_body


def to_html(obj: object, *, image_root: str | Path | None = None) -> str:
    """The notebook fragment of a Report, Prediction or MonitorResult (InvalidTypeError for anything else)."""
    if isinstance(obj, Report):
        return fragment(render_body(obj, image_root=image_root))
    if isinstance(obj, MonitorResult):
        return fragment(render_monitor_body(obj, image_root=image_root))
    if isinstance(obj, Prediction):
        return fragment(render_prediction_body(obj))
    raise InvalidTypeError(f"expected a Report, Prediction or MonitorResult, got {type(obj).__name__}")


class _Shown:
    def __init__(self, text: str) -> None:
        self._text = text

    def _repr_html_(self) -> str:
        return self._text


def show(obj: object, *, image_root: str | Path | None = None) -> _Shown:
    """A displayable view of ``obj`` (the last expression of a cell shows it), with thumbnails from ``image_root``."""
    return _Shown(to_html(obj, image_root=image_root))


def repr_html(obj: object) -> str | None:
    """The installed renderer: None for objects it does not know, so Jupyter falls back to the plain repr."""
    if isinstance(obj, (Report, MonitorResult, Prediction)):
        return to_html(obj)
    return None
