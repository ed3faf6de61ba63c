"""The stress run's page (``stress.html``) and its section in a report's ``report.html``.

The section sits between two HTML comments, so writing it again replaces the
earlier one instead of adding a second.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from spectral_fast.errors import InvalidInputError
from spectral_fast.render.primitives import esc, figure, fmt, page, pct, records_table
from spectral_fast.render.stress_plots import plot_counterfactual, plot_sensitivity_spectrum, plot_strength
from spectral_fast.stress.run import StressResult

BEGIN, END = "<!-- spectral-fast stress: begin -->", "<!-- spectral-fast stress: end -->"


def _interval(v: tuple[float, float, float]) -> str:
    return f"{fmt(v[0], 2)} [{fmt(v[1], 2)}, {fmt(v[2], 2)}]"


def stress_section(result: StressResult) -> str:
    """The HTML of the stress results: the counterfactual per blind spot, then the sensitivity figures."""
    meta = result.meta
    parts = [f"{BEGIN}<h2>Stress tests: is the difference the cause?</h2>",
             f"<p>{meta['n_images']:,} labelled images, accuracy {pct(meta['base_accuracy'])} at threshold "
             f"{fmt(meta['threshold'])}. Method: <code>docs/method.md#stress-tests</code>.</p>"]  # fmt: skip
    if result.spots:
        parts.append("<h3>Counterfactual per blind spot</h3><p>The spot's band-power ratio to the rest, imposed on "
                     "images outside it (does their error rise?) and removed from its own (does theirs fall?); <i>excess</i> is "
                     "the rise beyond what random changes of the same pixel size do on average (the null); the "
                     "control is one more random change, judged the same way.</p>")  # fmt: skip
        parts.append(records_table(result.spots, [
            ("spot", lambda s: esc(s["rank"])),
            ("n", lambda s: esc(s["n_inside"])),
            ("error in / out", lambda s: f"{pct(s['error_inside'])} / {pct(s['error_outside'])}"),
            ("rise outside", lambda s: _interval(s["spot"]["rise_outside"])),
            ("excess", lambda s: _interval(s["spot"]["excess_outside"])),
            ("fall inside", lambda s: _interval(s["spot"]["fall_inside"])),
            ("verdict", lambda s: f"<b>{esc(s['verdict'])}</b><br>{esc(s['reason'])}"),
            ("control (random ratio)", lambda s: f"{_interval(s['control']['rise_outside'])} / "
                                                 f"{_interval(s['control']['fall_inside'])}<br>"
                                                 f"{esc(s['control']['verdict'])}"),
        ], text_cols=(6, 7)))  # fmt: skip
        parts.append(figure(plot_counterfactual(result.spots), "error change per blind spot, with the control"))
    table = result.sensitivity
    if table is not None and table.height:
        parts.append("<h3>Sensitivity spectrum</h3>")
        if table.filter(pl.col("family") == "band").height:
            parts.append(figure(plot_sensitivity_spectrum(table, meta["base_accuracy"]),
                                "accuracy when one octave of frequencies is attenuated or amplified"))  # fmt: skip
        if table.filter(pl.col("family") == "acquisition").height:
            parts.append(figure(plot_strength(table, meta["base_accuracy"]),
                                "accuracy under the simulator's acquisition changes, mildest first"))  # fmt: skip
    parts.append(END)
    return "\n".join(parts)


def add_section(html: str, section: str) -> str:
    """``html`` with ``section`` replacing an earlier stress section, or inserted before ``</main>``."""
    if BEGIN in html and END in html:
        head, rest = html.split(BEGIN, 1)
        return head + section + rest.split(END, 1)[1]
    marker = "</main>" if "</main>" in html else "</body>"
    if marker not in html:
        raise InvalidInputError("report.html: no </main> or </body> to add the stress section before")
    head, tail = html.rsplit(marker, 1)
    return head + section + "\n" + marker + tail


def write_stress(result: StressResult, outdir: str | Path, *, report_dir: str | Path | None = None) -> dict[str, Path]:
    """Write the tables and ``stress.html`` into ``outdir``; with ``report_dir``, add the section to its report.html."""
    paths = result.write(outdir)
    section = stress_section(result)
    paths["html"] = Path(outdir) / "stress.html"
    paths["html"].write_text(page("spectral_fast stress tests", section), encoding="utf-8")
    if report_dir is not None:
        report_html = Path(report_dir) / "report.html"
        if not report_html.is_file():
            raise InvalidInputError(f"report: {report_html} not found")
        report_html.write_text(add_section(report_html.read_text(encoding="utf-8"), section), encoding="utf-8")
        paths["report_html"] = report_html
    return paths
