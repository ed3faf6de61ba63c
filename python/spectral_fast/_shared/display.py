"""The hook through which result objects render themselves in Jupyter without importing the rendering layer.

:class:`~spectral_fast.analysis.Report`, :class:`~spectral_fast.reliability.Prediction`
and :class:`~spectral_fast.reliability.MonitorResult` define ``_repr_html_``
as ``return html(self)``. The renderer is installed here by whoever may
import ``spectral_fast.render``: the top-level package installs a lazy one
when it is imported (which Python does before any subpackage), so analysis
and reliability never import render, and render (with matplotlib) is loaded
only when a notebook first shows a result. See ``docs/development.md#notebook-display``.
"""

from __future__ import annotations

from collections.abc import Callable

_renderer: Callable[[object], str | None] | None = None


def set_renderer(renderer: Callable[[object], str | None] | None) -> None:
    """Install the function that turns a result object into HTML (None removes it)."""
    global _renderer
    _renderer = renderer


def html(obj: object) -> str | None:
    """HTML for ``obj`` from the installed renderer; None (Jupyter then shows the plain repr) without one."""
    return _renderer(obj) if _renderer is not None else None


class NotebookView:
    """Mixin: ``_repr_html_`` through the installed renderer, so Jupyter shows the same cards as the HTML pages."""

    def _repr_html_(self) -> str | None:
        return html(self)
