"""The monitor page: a self-contained HTML view of a :class:`~spectral_fast.reliability.MonitorResult`."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from spectral_fast.reliability.monitoring import MonitorResult
from spectral_fast.reliability.reference_set import UNKNOWN_PERCENTILE


# --------------------------------------------------------------------- HTML
def _plot_mix(result: MonitorResult) -> str:
    import matplotlib.pyplot as plt

    mix = result.mix
    k = mix.height
    spot_clusters = {int(c) for s in result.summary["blind_spots"] for c in s["clusters"].split("+")}
    rate_col = next((c for c in mix.columns if c.startswith("error_rate_")), None)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * k + 1.6))
    y = np.arange(k)
    ax.barh(y - 0.2, mix["reference_share"], height=0.4, color="#95a5a6", label="reference")
    colours = ["#c0392b" if c in spot_clusters else "#2c3e50" for c in range(k)]
    ax.barh(y + 0.2, mix["batch_share"], height=0.4, color=colours, label="batch (red: blind spot)")
    labels = [f"cluster {c}" + (f" (error {mix[rate_col][c]:.0%})" if rate_col else "") for c in range(k)]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("share of images")
    ax.legend(loc="lower right", frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return png(fig)


def _plot_bands(result: MonitorResult, alpha: float) -> str:
    import matplotlib.pyplot as plt

    b = result.bands
    shift = np.nan_to_num(b["shift"].to_numpy(), nan=0.0)
    sig = np.nan_to_num(b["p_adjusted"].to_numpy(), nan=1.0) < alpha
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * b.height + 1.4))
    y = np.arange(b.height)
    ax.barh(y, shift, color=np.where(sig, "#c0392b", "#bdc3c7"))
    ax.set_yticks(y, b["feature"].to_list(), fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="#7f8c8d", lw=1)
    ax.set_xlabel(f"median shift of the batch, robust units (red: KS test BH q < {alpha})")
    ax.grid(axis="x", alpha=0.3)
    return png(fig)


def _plot_distance(result: MonitorResult) -> str:
    import matplotlib.pyplot as plt

    d = result.prediction.images["distance"].to_numpy()
    thr = result.summary["unknown"]["threshold"]
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    ax.hist(d, bins=min(40, max(5, len(d) // 3)), color="#2c3e50")
    ax.axvline(thr, color="#c0392b", ls="--", label=f"reference {UNKNOWN_PERCENTILE:g}th percentile ({thr:.2f})")
    ax.set_xlabel("distance to the nearest cluster centre (scaled units)")
    ax.set_ylabel("images")
    ax.legend(frameon=False)
    return png(fig)


def _records_table(records: list[dict], columns: list[tuple[str, Any]], *, text_cols=(), row_class=None) -> str:
    """An HTML table of ``records``: one row each, one cell per ``(header, record -> cell html)`` column."""
    from spectral_fast.render.report_html import _table

    rows = [[cell(r) for _, cell in columns] for r in records]
    classes = [row_class(r) for r in records] if row_class else None
    return _table([h for h, _ in columns], rows, classes, text_cols)


def render_monitor_html(result: MonitorResult) -> str:
    """The monitoring page: verdict, accuracy, mix, bands and distances, self-contained (no network)."""
    from importlib import resources
    from string import Template

    import matplotlib

    from spectral_fast.render.report_html import _figure, esc, fmt

    matplotlib.use("Agg", force=True)
    s = result.summary
    alpha = s["settings"]["alpha"]
    cls = "no" if s["verdict"] == "ok" else "yes"
    parts = [
        "<h1>Monitoring a new batch against the reference</h1>",
        f'<p class="sub">spectral_fast {esc(s["package_version"])} · {s["n"]} images in the batch '
        f"({s['excluded'].get('error_rows', 0)} profile error rows excluded) · reference of {s['reference_n']} images "
        f"· options checked: {esc(', '.join(s['options_checked']))}</p>",
        f'<div class="headline {cls}"><strong>{esc(s["verdict"].upper())}</strong><p>{esc(s["verdict_line"])}</p></div>',
        "<h2>Expected accuracy</h2>",
    ]
    parts.append(_records_table(
        [{"finding": k, **a} for k, a in s["accuracy"].items()],
        [("finding", lambda a: esc(a["finding"])), ("reference", lambda a: fmt(a["reference"])),
         ("batch [95% CI]", lambda a: f"{fmt(a['batch'])} [{fmt(a['batch_ci_low'])}, {fmt(a['batch_ci_high'])}]"),
         ("change [95% CI]", lambda a: f"{a['change']:+.3f} [{a['ci_low']:+.3f}, {a['ci_high']:+.3f}]")],
        text_cols=(0,),
    ))  # fmt: skip
    sl = result.prediction.slices
    if sl.height:
        parts.append("<h3>Per slice (cluster)</h3>")
        parts.append(_records_table(
            sl.to_dicts(),
            [("finding", lambda r: esc(r["finding"])), ("cluster", lambda r: fmt(r["cluster"])),
             ("n", lambda r: fmt(r["n"])), ("share", lambda r: fmt(r["share"])),
             ("expected accuracy [95% CI]", lambda r: f"{fmt(r['expected_accuracy'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]"),
             ("reference error rate (shrunk)", lambda r: fmt(r["reference_error_rate"])),
             ("unknown territory", lambda r: fmt(r["unknown"])), ("blind spot", lambda r: "yes" if r["blind_spot"] else "")],
            text_cols=(0,), row_class=lambda r: "blind" if r["blind_spot"] else "",
        ))  # fmt: skip
    parts.append("<h2>Cluster mix</h2>")
    m = s["mix"]
    parts.append(
        f"<p>PSI {fmt(m['psi'])} (below {m['psi_levels'][0]} stable, above {m['psi_levels'][1]} a large shift; "
        f"small batches reach 0.1-0.2 by chance). Chi-square test of the counts: {fmt(m['chi2'])} on {m['chi2_dof']} "
        f"degrees of freedom, p = {fmt(m['chi2_p'])}.</p>"
    )
    parts.append(_figure(_plot_mix(result), "Share of images per cluster, reference against batch."))
    if s["blind_spots"]:
        parts.append("<h3>Blind spots</h3>")
        parts.append(_records_table(
            s["blind_spots"],
            [("finding", lambda b: esc(b["finding"])), ("clusters", lambda b: esc(b["clusters"])),
             ("reference share", lambda b: fmt(b["reference_share"])), ("batch share", lambda b: fmt(b["batch_share"])),
             ("p (one-sided, BH)", lambda b: fmt(b["p_adjusted"]))],
            text_cols=(0, 1),
        ))  # fmt: skip
    parts.append("<h2>Bands and features</h2>")
    b = s["bands"]
    parts.append(f"<p>{b['significant']} of {b['tested']} features differ (two-sample KS, BH q &lt; {alpha}).</p>")
    parts.append(_figure(_plot_bands(result, alpha), "Median shift of each feature in the batch."))
    parts.append(_records_table(
        result.bands.sort("ks", descending=True, nulls_last=True).to_dicts(),
        [("feature", lambda r: esc(r["feature"])), ("KS", lambda r: fmt(r["ks"])), ("p", lambda r: fmt(r["p_value"])),
         ("q (BH)", lambda r: fmt(r["p_adjusted"])), ("median shift", lambda r: fmt(r["shift"]))],
        text_cols=(0,),
    ))  # fmt: skip
    parts.append("<h2>Unknown territory</h2>")
    u = s["unknown"]
    parts.append(
        f"<p>{u['n']} of {s['n']} images ({fmt(u['share'])}) are farther from every cluster than "
        f"{u['percentile']:g} % of the reference images (expected share {fmt(u['expected_share'])}, one-sided "
        f"binomial p = {fmt(u['p_value'])}). Their risk is extrapolated from the nearest clusters.</p>"
    )
    parts.append(_figure(_plot_distance(result), "Distance of each batch image to its nearest cluster centre."))
    unknown_ids = result.prediction.images.filter(pl.col("unknown")).sort("distance", descending=True)["id"].head(20)
    if len(unknown_ids):
        parts.append("<p>Farthest: " + ", ".join(f"<code>{esc(i)}</code>" for i in unknown_ids) + "</p>")
    template = Template(resources.files("spectral_fast.render").joinpath("report_template.html").read_text("utf-8"))
    return template.substitute(title="spectral_fast batch monitor", body="\n".join(parts))
