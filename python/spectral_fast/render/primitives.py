"""HTML building blocks shared by the report and monitor pages: escaping, number format, tables, figures, the page.

Every value that comes from the user's data goes through :func:`esc`. The
stylesheet (``style.css``) scopes every rule under ``.sf`` so the same markup
can sit inside a Jupyter notebook without restyling it.
"""

from __future__ import annotations

import base64
import html
import io
from importlib import resources
from string import Template
from typing import Any

import numpy as np


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        v = float(value)
    except (TypeError, ValueError):
        return esc(value)
    if not np.isfinite(v):
        return "–"
    if v != 0 and abs(v) < 10**-digits:
        return f"{v:.1e}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def pct(value: Any) -> str:
    """A share as a whole percentage (``0.414`` -> ``41 %``), ``–`` when missing."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{100 * v:.0f} %" if np.isfinite(v) else "–"


def png(fig, dpi: int = 100) -> str:
    """A matplotlib figure as a PNG data URI (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def table(headers: list[str], rows: list[list[str]], classes: list[str] | None = None, text_cols=()) -> str:
    """An HTML table; cells are HTML already (escape them first), headers are escaped here."""
    head = "".join(f'<th class="{"text" if i in text_cols else ""}">{esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        cls = f' class="{classes[r]}"' if classes and classes[r] else ""
        cells = "".join(f'<td class="{"text" if i in text_cols else ""}">{c}</td>' for i, c in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def records_table(records: list[dict], columns: list[tuple[str, Any]], *, text_cols=(), row_class=None) -> str:
    """An HTML table of ``records``: one row each, one cell per ``(header, record -> cell html)`` column."""
    rows = [[cell(r) for _, cell in columns] for r in records]
    classes = [row_class(r) for r in records] if row_class else None
    return table([h for h, _ in columns], rows, classes, text_cols)


def figure(uri: str, caption: str, cls: str = "figure") -> str:
    return f'<div class="{cls}"><img src="{uri}" alt="{esc(caption)}"><div class="caption">{esc(caption)}</div></div>'


def details(summary: str, body: str, *, open_: bool = False) -> str:
    """A collapsed section (``summary`` is HTML)."""
    return f"<details{' open' if open_ else ''}><summary>{summary}</summary>{body}</details>"


def stylesheet() -> str:
    return resources.files("spectral_fast.render").joinpath("style.css").read_text("utf-8")


def page(title: str, body: str) -> str:
    """The whole self-contained page: the template with the stylesheet inlined."""
    text = resources.files("spectral_fast.render").joinpath("report_template.html").read_text("utf-8")
    return Template(text).substitute(title=esc(title), css=stylesheet(), body=body)


def fragment(body: str) -> str:
    """The same markup for a notebook cell: scoped stylesheet + body, no page."""
    return f'<style>{stylesheet()}</style><div class="sf">{body}</div>'
