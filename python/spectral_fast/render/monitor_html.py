"""The monitor page: a self-contained HTML view of a :class:`~spectral_fast.reliability.MonitorResult`.

The verdict comes first and starts with the rule that fired (the monitor's
``reasons`` when it gives them, else read off the summary the same way the
monitor decides, ``docs/method.md#monitoring``); accuracies are marked as
extrapolations when most of the batch is unknown territory; features carry
their frequency range; the full KS table is collapsed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from spectral_fast.reliability.monitoring import MonitorResult
from spectral_fast.reliability.reference_set import UNKNOWN_PERCENTILE
from spectral_fast.render import plots
from spectral_fast.render.primitives import details, esc, figure, fmt, page, pct, records_table
from spectral_fast.render.thumbs import thumb_img
from spectral_fast.render.words import band_ranges, feature_name

TITLE = "spectral_fast batch monitor"
#: Unknown-territory share above which the batch's accuracies are called extrapolations.
EXTRAPOLATION_SHARE = 0.5
FARTHEST = 8


def reasons(summary: dict) -> list[str]:
    """The rules that fired, most serious first: ``summary["reasons"]`` when present, else derived from the fields."""
    given = summary.get("reasons")
    if given:
        return [str(r) for r in given]
    st = summary["settings"]
    alpha, out = st["alpha"], []
    for name, a in summary["accuracy"].items():
        if a["change"] <= -st["max_drop"] and a["ci_high"] < 0:
            out.append(f"expected accuracy on {name} drops by {-a['change']:.1%} (95% CI {-a['ci_high']:.1%} to "
                       f"{-a['ci_low']:.1%}; alert from {st['max_drop']:.0%})")  # fmt: skip
    u = summary["unknown"]
    if u["p_value"] < alpha:
        level = "alert" if u["share"] >= st["unknown_alert"] else "drift"
        out.append(f"{u['share']:.0%} of the images are unlike any reference image (unknown territory; "
                   f"{u['expected_share']:.0%} expected, {level} from {st['unknown_alert']:.0%})")  # fmt: skip
    for s in summary["blind_spots"]:
        if s.get("p_adjusted", 1.0) < alpha:
            out.append(f"more images in blind spot {s['clusters']} ({s['finding']}): {s['reference_share']:.0%} -> "
                       f"{s['batch_share']:.0%}")  # fmt: skip
    if summary["mix"]["chi2_p"] < alpha:
        out.append(f"the cluster mix changed (chi-square p = {summary['mix']['chi2_p']:.2g})")
    b = summary["bands"]
    if b["significant"]:
        out.append(f"{b['significant']} of {b['tested']} spectral features differ from the reference")
    return out


def verdict_box(result: MonitorResult) -> str:
    s = result.summary
    fired = reasons(s)
    word = s["verdict"].upper()
    if fired:
        say = f"{word}: {esc(fired[0])}."
        more = "".join(f"<li>{esc(r)}</li>" for r in fired[1:])
    else:
        say, more = f"{word}: no rule fired; the batch looks like the reference.", ""
    cls = {"ok": "no", "drift": "warn"}.get(s["verdict"], "yes")
    extra = f"<ul>{more}</ul>" if more else ""
    return (f'<div class="verdict {cls}"><div class="title">verdict</div><div class="say">{say}</div>{extra}'
            f'<p class="stats">{esc(s["verdict_line"])}</p></div>')  # fmt: skip


def _accuracy(result: MonitorResult) -> str:
    s = result.summary
    u = s["unknown"]
    extrapolated = u["share"] > EXTRAPOLATION_SHARE
    note = (f'<p><span class="tag">extrapolation</span> {pct(u["share"])} of the batch is unknown territory: the '
            "batch accuracies below are extrapolated from the nearest reference clusters, not measured on images "
            "like these.</p>" if extrapolated else "")  # fmt: skip
    mark = " (extrapolated)" if extrapolated else ""
    return note + records_table(
        [{"finding": k, **a} for k, a in s["accuracy"].items()],
        [("label", lambda a: esc(a["finding"])), ("reference", lambda a: fmt(a["reference"])),
         (f"batch{mark} [95% CI]", lambda a: f"{fmt(a['batch'])} [{fmt(a['batch_ci_low'])}, {fmt(a['batch_ci_high'])}]"),
         ("change [95% CI]", lambda a: f"{a['change']:+.3f} [{a['ci_low']:+.3f}, {a['ci_high']:+.3f}]")],
        text_cols=(0,),
    )  # fmt: skip


def _features(result: MonitorResult, alpha: float) -> str:
    table = result.prediction.table if result.prediction.table is not None else pl.DataFrame()
    ranges = band_ranges(table, [f for f in result.bands["feature"].to_list() if f.startswith("band_")])
    top = result.bands.filter(pl.col("p_adjusted") < alpha).sort("ks", descending=True).head(6)
    s = result.summary["bands"]
    parts = [f"<p>{s['significant']} of {s['tested']} features differ (two-sample KS, BH q &lt; {fmt(alpha)}).</p>"]
    if top.height:
        parts.append("<ul>" + "".join(
            f"<li><b>{esc(feature_name(r['feature'], ranges))}</b>: median shift {r['shift']:+.2f} robust units, "
            f"KS {fmt(r['ks'])}, q = {fmt(r['p_adjusted'])}</li>" for r in top.to_dicts()) + "</ul>")  # fmt: skip
    full = records_table(
        result.bands.sort("ks", descending=True, nulls_last=True).to_dicts(),
        [("feature", lambda r: esc(feature_name(r["feature"], ranges))), ("KS", lambda r: fmt(r["ks"])),
         ("p", lambda r: fmt(r["p_value"])), ("q (BH)", lambda r: fmt(r["p_adjusted"])),
         ("median shift", lambda r: fmt(r["shift"]))],
        text_cols=(0,),
    )  # fmt: skip
    parts.append(details("All features: KS tests", figure(_plot_bands(result, alpha, ranges), "Median shift of each "
                                                          "feature in the batch.") + full))  # fmt: skip
    return "".join(parts)


def _farthest(result: MonitorResult, root: Path | None, exemplars: dict[int, list[str]], ref_root: Path | None) -> str:
    images = result.prediction.images.sort("distance", descending=True)
    far = images.head(FARTHEST)
    if not far.height:
        return ""
    if root is None:
        return "<p>Farthest: " + ", ".join(f"<code>{esc(i)}</code>" for i in far["id"]) + "</p>"
    batch = "".join(thumb_img(i, root, error=u) or "" for i, u in zip(far["id"], far["unknown"]))
    if not batch:
        return f'<p class="small muted">(no batch image found under {esc(root)})</p>'
    near = [c for c in dict.fromkeys(far["cluster"].to_list())]
    ref_ids = [i for c in near for i in exemplars.get(int(c), [])[:2]][:4]
    ref = "".join(thumb_img(i, ref_root) or "" for i in ref_ids)
    ref_html = (f'<div class="group"><div class="label">reference images of their nearest clusters</div>'
                f'<div class="imgs rest">{ref}</div></div>' if ref else "")  # fmt: skip
    return (f'<div class="strip"><div class="group"><div class="label">farthest batch images (red ring: unknown territory)</div>'
            f'<div class="imgs">{batch}</div></div>{ref_html}</div>')  # fmt: skip


def render_monitor_body(
    result: MonitorResult,
    *,
    image_root: str | Path | None = None,
    reference_exemplars: dict[int, list[str]] | None = None,
    reference_root: str | Path | None = None,
) -> str:
    """The monitor's markup (no page around it): what the HTML file and the notebook show."""
    s = result.summary
    alpha = s["settings"]["alpha"]
    root = Path(image_root) if image_root else None
    ref_root = Path(reference_root) if reference_root else root
    parts = [
        "<h1>Monitoring a new batch against the reference</h1>",
        f'<p class="sub">spectral_fast {esc(s["package_version"])} · {s["n"]} images in the batch '
        f"({s['excluded'].get('error_rows', 0)} profile error rows excluded) · reference of {s['reference_n']} images "
        f"· options checked: {esc(', '.join(s['options_checked']))}</p>",
        verdict_box(result),
        "<h2>Expected accuracy</h2>",
        _accuracy(result),
    ]
    u = s["unknown"]
    parts.append("<h2>Unknown territory</h2>")
    parts.append(
        f"<p>{u['n']} of {s['n']} images ({pct(u['share'])}) are farther from every cluster than "
        f"{u['percentile']:g} % of the reference images (expected {pct(u['expected_share'])}, one-sided "
        f"binomial p = {fmt(u['p_value'])}). Their risk is extrapolated from the nearest clusters.</p>"
    )
    parts.append(_farthest(result, root, reference_exemplars or {}, ref_root))
    parts.append(details("Distances to the nearest cluster centre", figure(
        _plot_distance(result), "Distance of each batch image to its nearest cluster centre.")))  # fmt: skip
    parts.append("<h2>Spectral features</h2>")
    parts.append(_features(result, alpha))
    parts.append("<h2>Cluster mix</h2>")
    m = s["mix"]
    parts.append(
        f"<p>PSI {fmt(m['psi'])} (below {m['psi_levels'][0]} stable, above {m['psi_levels'][1]} a large shift; "
        f"small batches reach 0.1-0.2 by chance). Chi-square test of the counts: {fmt(m['chi2'])} on {m['chi2_dof']} "
        f"degrees of freedom, p = {fmt(m['chi2_p'])}.</p>"
    )
    mix_body = figure(_plot_mix(result), "Share of images per cluster, reference against batch.")
    if s["blind_spots"]:
        mix_body += records_table(
            s["blind_spots"],
            [("label", lambda b: esc(b["finding"])), ("blind spot (clusters)", lambda b: esc(b["clusters"])),
             ("reference share", lambda b: fmt(b["reference_share"])), ("batch share", lambda b: fmt(b["batch_share"])),
             ("p (one-sided, BH)", lambda b: fmt(b.get("p_adjusted")))],
            text_cols=(0, 1),
        )  # fmt: skip
    sl = result.prediction.slices
    if sl.height:
        mix_body += records_table(
            sl.to_dicts(),
            [("label", lambda r: esc(r["finding"])), ("cluster", lambda r: fmt(r["cluster"])),
             ("n", lambda r: fmt(r["n"])), ("share", lambda r: fmt(r["share"])),
             ("expected accuracy [95% CI]", lambda r: f"{fmt(r['expected_accuracy'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]"),
             ("reference error rate (shrunk)", lambda r: fmt(r["reference_error_rate"])),
             ("unknown territory", lambda r: fmt(r["unknown"])), ("blind spot", lambda r: "yes" if r["blind_spot"] else "")],
            text_cols=(0,), row_class=lambda r: "blind" if r["blind_spot"] else "",
        )  # fmt: skip
    parts.append(details("Cluster mix and per-cluster accuracy", mix_body))
    return "\n".join(p for p in parts if p)


def render_monitor_html(result: MonitorResult, **kwargs) -> str:
    """The monitoring page, self-contained (no network); keywords as :func:`render_monitor_body`."""
    return page(TITLE, render_monitor_body(result, **kwargs))


# --------------------------------------------------------------------- figures
def _plot_mix(result: MonitorResult) -> str:
    plt = plots.pyplot()
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
    return plots.png(fig)


def _plot_bands(result: MonitorResult, alpha: float, ranges: dict[str, str]) -> str:
    plt = plots.pyplot()
    b = result.bands
    shift = np.nan_to_num(b["shift"].to_numpy(), nan=0.0)
    sig = np.nan_to_num(b["p_adjusted"].to_numpy(), nan=1.0) < alpha
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * b.height + 1.4))
    y = np.arange(b.height)
    ax.barh(y, shift, color=np.where(sig, "#c0392b", "#bdc3c7"))
    ax.set_yticks(y, [ranges.get(f, f) for f in b["feature"].to_list()], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="#7f8c8d", lw=1)
    ax.set_xlabel(f"median shift of the batch, robust units (red: KS test BH q < {alpha})")
    ax.grid(axis="x", alpha=0.3)
    return plots.png(fig)


def _plot_distance(result: MonitorResult) -> str:
    plt = plots.pyplot()
    d = result.prediction.images["distance"].to_numpy()
    thr = result.summary["unknown"]["threshold"]
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    ax.hist(d, bins=min(40, max(5, len(d) // 3)), color="#2c3e50")
    ax.axvline(thr, color="#c0392b", ls="--", label=f"reference {UNKNOWN_PERCENTILE:g}th percentile ({thr:.2f})")
    ax.set_xlabel("distance to the nearest cluster centre (scaled units)")
    ax.set_ylabel("images")
    ax.legend(frameon=False)
    return plots.png(fig)
