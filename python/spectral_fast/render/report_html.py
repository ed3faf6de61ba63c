"""The self-contained HTML report: text, tables and matplotlib PNGs inlined as data URIs.

Nothing in the page refers to the network (no scripts, fonts or stylesheets
from elsewhere; a Content-Security-Policy forbids any), so it opens offline
and from e-mail. Every value that comes from the user's data (ids, column
names, descriptions) goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
import io
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np

#: Cluster colours (tab20 has enough distinct hues for the auto k up to 20).
_CMAP = "tab20"
_THUMB = 128


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


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _colours(k: int):
    import matplotlib

    cmap = matplotlib.colormaps[_CMAP]
    return [cmap(i % cmap.N) for i in range(k)]


def plot_error_rates(rows: list[dict], overall: float, finding: str) -> str:
    import matplotlib.pyplot as plt

    k = len(rows)
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * k + 1.4))
    y = np.arange(k)
    rate = np.array([r["error_rate"] for r in rows], dtype=float)
    lo = np.array([r["error_ci_low"] for r in rows], dtype=float)
    hi = np.array([r["error_ci_high"] for r in rows], dtype=float)
    colours = ["#c0392b" if r["blind_spot"] else "#34495e" for r in rows]
    # clip: at a rate of 0 or 1 the interval edge equals the rate up to rounding
    below, above = np.nan_to_num(np.maximum(rate - lo, 0.0)), np.nan_to_num(np.maximum(hi - rate, 0.0))
    ax.errorbar(rate, y, xerr=[below, above], fmt="none", ecolor="#95a5a6", capsize=3)
    ax.scatter(rate, y, c=colours, zorder=3)
    ax.axvline(overall, color="#7f8c8d", ls="--", lw=1, label=f"overall {overall:.1%}")
    ax.set_yticks(y, [f"cluster {r['cluster']} (n={r['n']})" for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"error rate, {finding} (Wilson 95% interval; red = blind spot)")
    ax.legend(loc="lower right", frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def plot_spectra(table, labels: np.ndarray, k: int) -> str:
    import warnings

    import matplotlib.pyplot as plt

    warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)

    from spectral_fast.analysis.describe import band_frequencies

    band_cols = sorted(c for c in table.columns if c.startswith("band_"))
    freqs = band_frequencies(table, band_cols)
    bands = table.select(band_cols).to_numpy().astype(float)
    # A band with no coefficient sits at the log floor (1e-12) for small images: leave it out of the means.
    bands = np.where(bands <= -11.5, np.nan, bands)
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for c, colour in zip(range(k), _colours(k)):
        inside = labels == c
        if inside.any():
            ax.plot(
                freqs,
                10 ** np.nanmean(bands[inside], axis=0),
                color=colour,
                lw=1.4,
                label=f"cluster {c} (n={inside.sum()})",
            )
    ax.plot(freqs, 10 ** np.nanmean(bands, axis=0), color="black", lw=2.6, label="all images")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("radial frequency (cycles/pixel)")
    ax.set_ylabel("share of spectral energy per band (geometric mean)")
    ax.grid(which="both", alpha=0.25)
    ax.legend(fontsize=8, ncol=2, frameon=False)
    return _png(fig)


def plot_map(z: np.ndarray, labels: np.ndarray, error: np.ndarray, k: int, finding: str) -> str:
    import matplotlib.pyplot as plt

    # Clip so one extreme image (another resolution, a broken file) does not
    # squeeze everyone else into a corner of the map.
    z = np.clip(z, -8.0, 8.0)
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T if vt.shape[0] >= 2 else np.c_[centred[:, 0], np.zeros(len(z))]
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    colours = _colours(k)
    for c in range(k):
        inside = labels == c
        if inside.any():
            ax.scatter(xy[inside, 0], xy[inside, 1], s=18, color=colours[c], label=f"cluster {c}", alpha=0.85)
    ax.scatter(
        xy[error, 0], xy[error, 1], s=42, facecolors="none", edgecolors="black", lw=1.0, label=f"error ({finding})"
    )
    ax.set_xlabel("principal component 1 of the scaled features (clipped at ±8)")
    ax.set_ylabel("principal component 2")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never hides points
    ax.grid(alpha=0.25)
    return _png(fig)


def thumbnail(path: Path) -> str | None:
    """PNG data URI of a small gray thumbnail, or None if the file cannot be read as an image."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            im = im.convert("L") if im.mode not in ("L", "I;16", "I") else im
            arr = np.asarray(im, dtype=np.float64)
    except Exception:
        return None
    lo, hi = np.percentile(arr, [0.5, 99.5])
    arr = np.clip((arr - lo) / (hi - lo if hi > lo else 1.0) * 255.0, 0, 255).astype(np.uint8)
    from PIL import Image

    im = Image.fromarray(arr)
    im.thumbnail((_THUMB, _THUMB))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def resolve_image(image_id: str, root: Path | None) -> Path | None:
    candidates = [Path(image_id)] if root is None else [root / image_id, Path(image_id)]
    for p in candidates:
        if p.is_file():
            return p
    return None


def _headline(title: str, s: dict, alpha: float) -> str:
    p_perm, p_chi = s.get("perm_p_mutual_information"), s.get("chi2_p")
    concentrated = p_perm is not None and np.isfinite(p_perm) and p_perm < alpha
    verdict = "are concentrated" if concentrated else "are not concentrated"
    spots = s.get("blind_spots", 0)
    return (
        f'<div class="headline {"yes" if concentrated else "no"}"><strong>{esc(title)}: errors {verdict} '
        f"in spectral clusters</strong>"
        f"<p>{s['errors']} errors in {s['n']} images ({fmt(s['error_rate'])}). "
        f"Permutation test against random partitions of the same sizes: p = {fmt(p_perm)} (mutual information), "
        f"p = {fmt(s.get('perm_p_max_lift'))} (largest lift); chi-square p = {fmt(p_chi)} "
        f"(dof {s.get('chi2_dof')}). The worst clusters covering 10% / 20% of the images hold "
        f"{fmt(s.get('worst_share_10'))} / {fmt(s.get('worst_share_20'))} of the errors. "
        f"{spots} blind spot{'s' if spots != 1 else ''} (lift ≥ threshold, tree-scan p &lt; {alpha}).</p></div>"
    )


def _table(headers: list[str], rows: list[list[str]], classes: list[str] | None = None, text_cols=()) -> str:
    head = "".join(f'<th class="{"text" if i in text_cols else ""}">{esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        cls = f' class="{classes[r]}"' if classes and classes[r] else ""
        cells = "".join(f'<td class="{"text" if i in text_cols else ""}">{c}</td>' for i, c in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report, *, image_root: str | Path | None = None) -> str:
    """The whole report page as a string."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    summary, model = report.summary, report.model
    labels = report.assignments["cluster"].to_numpy()
    k = int(model.n_clusters_)
    alpha = summary["options"]["alpha"]
    root = Path(image_root) if image_root else None
    parts = [
        "<h1>Where the model fails: spectral blind spots</h1>",
        f'<p class="sub">spectral_fast {esc(summary["package_version"])} · {summary["n_analysed"]} images analysed '
        f"({summary['excluded']['error_rows']} profile error rows excluded) · k = {k} clusters "
        f"({esc(summary['k_selection'].get('rule'))})</p>",
    ]
    for title, s in summary["findings"].items():
        parts.append(_headline(title, s, alpha))

    parts.append("<h2>Blind spots</h2>")
    if report.blind_spots.height:
        rows = [
            [fmt(r["rank"]), esc(r["finding"]), esc(r["clusters"]), fmt(r["n"]), fmt(r["share"]),
             f"{fmt(r['error_rate'])} [{fmt(r['error_ci_low'])}, {fmt(r['error_ci_high'])}]", fmt(r["lift"]),
             fmt(r["excess_errors"], 2), fmt(r["p_scan"]), fmt(r["p_adjusted"]), esc(r["description"]),
             esc(_direction(r)), fmt(r.get("stability")) + ("" if r.get("stable") is not False else " (unstable)"),
             esc(r.get("metadata") or "")]
            for r in report.blind_spots.iter_rows(named=True)
        ]  # fmt: skip
        headers = ["rank", "finding", "clusters", "n", "share", "error rate [95% CI]", "lift", "excess errors",
                   "p (tree scan)", "p (BH)", "what is different from the rest", "errors", "stability",
                   "acquisition"]  # fmt: skip
        parts.append(_table(headers, rows, text_cols=(1, 2, 10, 11, 13)))
    else:
        parts.append("<p>No cluster or union of sibling clusters has a significantly elevated error rate.</p>")

    z = model.embed(report.table)
    for title, s in summary["findings"].items():
        rows_f = [r for r in report.slices.iter_rows(named=True) if r["finding"] == title]
        parts.append(f"<h2>Clusters: {esc(title)}</h2>")
        table_rows = [
            [fmt(r["cluster"]), fmt(r["n"]), fmt(r["share"]),
             f"{fmt(r['error_rate'])} [{fmt(r['error_ci_low'])}, {fmt(r['error_ci_high'])}]", fmt(r["lift"]),
             (f"{fmt(r['auroc'])} [{fmt(r['auroc_ci_low'])}, {fmt(r['auroc_ci_high'])}]" if r["auroc"] == r["auroc"]
              else esc(r["auroc_note"])),
             fmt(r["sensitivity"]), fmt(r["specificity"]), fmt(r["error_share"]), fmt(r["p_adjusted"]),
             ('<span class="tag">#' + fmt(r["rank"]) + "</span>") if r["blind_spot"] else ""]
            for r in rows_f
        ]  # fmt: skip
        headers = ["cluster", "n", "share", "error rate [95% CI]", "lift", "AUROC [95% CI]", "sensitivity",
                   "specificity", "share of errors", "p (BH)", "blind spot"]  # fmt: skip
        parts.append(_table(headers, table_rows, ["blind" if r["blind_spot"] else "" for r in rows_f]))
        parts.append(_figure(plot_error_rates(rows_f, s["error_rate"], title), f"Error rate per cluster, {title}."))
        error = report.assignments[f"error_{title}"].to_numpy()
        parts.append(
            _figure(
                plot_map(z, labels, error, k, title),
                f"Images on the first two principal components of the clustering features, coloured by cluster; "
                f"circled: the model's errors on {title}.",
            )
        )
    parts.append("<h2>Spectra</h2>")
    parts.append(
        _figure(
            plot_spectra(report.table, labels, k),
            "Mean spectral profile of each cluster against the whole set (log-log). Bands below the black line "
            "at high frequency mean blur or upsampling; above it, noise or sharpening.",
        )
    )
    parts.append("<h2>What each cluster is</h2>")
    blind_clusters = {int(c) for r in report.slices.iter_rows(named=True) if r["blind_spot"] for c in [r["cluster"]]}
    for d in report.descriptions:
        c = d["cluster"]
        thumbs = []
        for image_id in d["exemplars"]:
            path = resolve_image(image_id, root)
            uri = thumbnail(path) if path else None
            img = f'<img src="{uri}" alt="{esc(image_id)}">' if uri else '<div class="muted">(image not found)</div>'
            thumbs.append(f"<figure>{img}<figcaption>{esc(image_id)}</figcaption></figure>")
        tag = ' <span class="tag">blind spot</span>' if c in blind_clusters else ""
        parts.append(
            f'<div class="cluster{" blind" if c in blind_clusters else ""}"><h3>Cluster {c}{tag} · '
            f"n = {int((labels == c).sum())}</h3><p>{esc(d['description'])}</p>"
            f'<div class="thumbs">{"".join(thumbs)}</div></div>'
        )
    parts.append("<h2>Settings</h2>")
    opts = dict(summary["options"])
    opts.pop("findings", None)
    setting_rows = [[esc(k_), f'<span class="mono">{esc(v)}</span>'] for k_, v in opts.items()]
    setting_rows.append(["features", f'<span class="mono">{esc(", ".join(summary["features"]))}</span>'])
    setting_rows.append(["k selection", f'<span class="mono">{esc(summary["k_selection"])}</span>'])
    setting_rows.append(["excluded profile rows", f'<span class="mono">{esc(summary["excluded"])}</span>'])
    for f in summary["options"]["findings"]:
        setting_rows.append([f"finding {esc(f['name'] or f['label_col'])}", f'<span class="mono">{esc(f)}</span>'])
    parts.append(_table(["setting", "value"], setting_rows, text_cols=(0, 1)))
    parts.append(
        '<p class="muted">Method: spectral profiles (radial band energies of the 2-D FFT, Hann window, native grid) '
        "plus artefact features, robust scaling, clustering, per-cluster error statistics with Wilson and bootstrap "
        "intervals, one-sided hypergeometric tests with Benjamini-Hochberg correction, and a permutation test "
        "against random partitions of the same sizes.</p>"
    )
    template = Template(resources.files("spectral_fast.render").joinpath("report_template.html").read_text("utf-8"))
    return template.substitute(title="spectral_fast blind-spot report", body="\n".join(parts))


def _figure(uri: str, caption: str) -> str:
    return f'<div class="figure"><img src="{uri}" alt="{esc(caption)}"><div class="caption">{esc(caption)}</div></div>'


def _direction(row: dict) -> str:
    """Which errors a blind spot holds, e.g. ``misses (label 1 only)``."""
    words = {"misses": "misses", "false_alarms": "false alarms", "both": "misses and false alarms"}
    text = words.get(row.get("direction") or "", "errors")
    return f"{text} ({row['label_pure']})" if row.get("label_pure") else text
