"""The self-contained HTML report: the verdict and one card per blind spot first, the detail collapsed below.

Nothing in the page refers to the network (no scripts, fonts or stylesheets
from elsewhere; a Content-Security-Policy forbids any), so it opens offline
and from e-mail; figures and thumbnails are PNG data URIs. Every value that
comes from the user's data goes through :func:`~spectral_fast.render.primitives.esc`.
What the page shows and why: ``docs/guides/reporting.md``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spectral_fast.render import plots
from spectral_fast.render.metadata_html import metadata_section
from spectral_fast.render.primitives import details, esc, figure, fmt, page, pct, table
from spectral_fast.render.spots import Spot, card, categories, error_kind, rates_by_kind, typical_rest
from spectral_fast.render.thumbs import thumb_img
from spectral_fast.render.words import pixel_spacing_mm, short_phrase, split_description

TITLE = "spectral_fast blind-spot report"


def _spots(report) -> list[Spot]:
    """Every blind spot of every finding, in the order of the table (finding, then rank)."""
    labels = report.assignments["cluster"].to_numpy()
    out = []
    for i, row in enumerate(report.blind_spots.iter_rows(named=True)):
        clusters = [int(c) for c in str(row["clusters"]).split("+")]
        error = report.assignments[f"error_{row['finding']}"].to_numpy().astype(bool)
        several = report.blind_spots["finding"].n_unique() > 1
        out.append(Spot(row["finding"], row, i, np.isin(labels, clusters), error, several))
    return out


def verdict(report, title: str, spots: list[Spot], alpha: float) -> str:
    """The finding's verdict in plain words, the statistics below in small type."""
    s = report.summary["findings"][title]
    error = report.assignments[f"error_{title}"].to_numpy().astype(bool)
    n = len(error)
    p_perm = s.get("perm_p_mutual_information")
    stats = (
        f"{s['errors']} errors in {s['n']} images ({pct(s['error_rate'])}). Errors against random partitions of the "
        f"same sizes: permutation p = {fmt(p_perm)} (mutual information), p = {fmt(s.get('perm_p_max_lift'))} "
        f"(largest lift); chi-square p = {fmt(s.get('chi2_p'))} (dof {esc(s.get('chi2_dof'))}). The worst clusters "
        f"covering 10 % / 20 % of the images hold {pct(s.get('worst_share_10'))} / {pct(s.get('worst_share_20'))} "
        f"of the errors. Blind spot: lift ≥ {fmt(report.summary['options']['lift_threshold'])} and tree-scan "
        f"p &lt; {fmt(alpha)}."
    )
    if spots:
        union = np.any([sp.inside for sp in spots], axis=0)
        rate_in = error[union].mean()
        rate_out = error[~union].mean() if (~union).any() else float("nan")
        times = f"{rate_in / rate_out:.1f}× more often" if rate_out > 0 else "far more often"
        groups = f"{len(spots)} group{'s' if len(spots) > 1 else ''} of images"
        say = (f"The model errs {times} on {groups} ({int(union.sum())} of {n}, {pct(union.mean())}) "
               f"than on the rest ({pct(rate_in)} vs {pct(rate_out)} errors):")  # fmt: skip
        items = []
        for sp in spots:
            kinds = rates_by_kind(report, title, sp.inside, error)
            e = kinds[0]["spot"]
            direction = sp.row.get("direction") or error_kind(kinds)
            items.append(
                f'<li><span class="swatch" style="--spot: {plots.spot_colour(sp.index)}"></span> '
                f"<b>{int(sp.row['n'])} images</b>: {esc(short_phrase(sp.row.get('description', '')))}; "
                f"<b>{pct(e['rate'])} errors</b> <span class=small>[{pct(e['lo'])}-{pct(e['hi'])}]</span>"
                f"{', ' + esc(direction) if direction else ''}</li>"
            )
        body, cls = f'<div class="say">{say}</div><ol>{"".join(items)}</ol>', "yes"
    else:
        concentrated = p_perm is not None and np.isfinite(p_perm) and p_perm < alpha
        if concentrated:
            say = ("No blind spot: the errors lean towards some acquisition clusters more than chance allows, but no "
                   "cluster or group of similar clusters stands out on its own.")  # fmt: skip
        else:
            say = f"No blind spot: the model's errors ({pct(s['error_rate'])}) are spread evenly over the acquisition clusters."
        body, cls = f'<div class="say">{say}</div>', "warn" if concentrated else "no"
    return f'<div class="verdict {cls}"><div class="title">{esc(title)}</div>{body}<p class="stats">{stats}</p></div>'


def _spot_table(report) -> str:
    label = "finding" if report.blind_spots["finding"].n_unique() != 1 else report.blind_spots["finding"][0]
    rows = [
        [fmt(r["rank"]), esc(r["finding"]), esc(r["clusters"]), fmt(r["n"]), fmt(r["share"]),
         f"{fmt(r['error_rate'])} [{fmt(r['error_ci_low'])}, {fmt(r['error_ci_high'])}]", fmt(r["lift"]),
         fmt(r["excess_errors"], 2), fmt(r["p_scan"]), fmt(r["p_adjusted"]),
         esc("; ".join(t for t, _ in split_description(r["description"])))]
        for r in report.blind_spots.iter_rows(named=True)
    ]  # fmt: skip
    headers = ["rank", "label" if label == "finding" else esc(label), "clusters", "n", "share", "error rate [95% CI]",
               "lift", "excess errors", "p (tree scan)", "p (BH)", "what is different"]  # fmt: skip
    return table(headers, rows, text_cols=(1, 2, 10))


def _cluster_section(report, title: str) -> str:
    rows_f = sorted(
        (r for r in report.slices.iter_rows(named=True) if r["finding"] == title),
        key=lambda r: -np.nan_to_num(r["error_rate"], nan=-1.0),
    )
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
    return table(headers, table_rows, ["blind" if r["blind_spot"] else "" for r in rows_f])


def _descriptions(report, root: Path | None, blind_clusters: set[int]) -> str:
    labels = report.assignments["cluster"].to_numpy()
    error_cols = [c for c in report.assignments.columns if c.startswith("error_")]
    any_error = np.any([report.assignments[c].to_numpy().astype(bool) for c in error_cols], axis=0)
    ids = report.assignments["id"].to_list()
    index = {i: n for n, i in enumerate(ids)}
    parts = []
    for d in report.descriptions:
        c = d["cluster"]
        thumbs = []
        for image_id in d["exemplars"]:
            err = bool(any_error[index[image_id]]) if image_id in index else False
            img = thumb_img(image_id, root, error=err) or '<div class="muted small">(image not found)</div>'
            thumbs.append(f"<figure>{img}<figcaption>{esc(image_id)}</figcaption></figure>")
        tag = ' <span class="tag">blind spot</span>' if c in blind_clusters else ""
        words = "; ".join(
            t + (f" (z {z:+.1f})" if z is not None else "") for t, z in split_description(d["description"])
        )
        parts.append(
            f'<div class="cluster{" blind" if c in blind_clusters else ""}"><h3>Cluster {c}{tag} · '
            f"n = {int((labels == c).sum())}</h3><p>{esc(words or d['description'])}</p>"
            f'<div class="thumbs">{"".join(thumbs)}</div></div>'
        )
    return "".join(parts)


def render_body(report, *, image_root: str | Path | None = None) -> str:
    """The report's markup (no page around it): what the HTML file and the notebook show."""
    summary, model = report.summary, report.model
    labels = report.assignments["cluster"].to_numpy()
    k = int(model.n_clusters_)
    alpha = summary["options"]["alpha"]
    root = Path(image_root) if image_root else None
    titles = list(summary["findings"])
    spots = _spots(report)
    band_cols, bands = plots.band_matrix(report.table)
    spacing = (summary.get("profile_options") or {}).get("spacing") or "log"
    freqs = _freqs(report.table, band_cols, spacing)
    mm = pixel_spacing_mm(report.table)

    parts = [
        f"<h1>Where the model fails: {esc(', '.join(titles))}</h1>",
        f'<p class="sub">spectral_fast {esc(summary["package_version"])} · {summary["n_analysed"]} images analysed '
        f"({summary['excluded']['error_rows']} profile error rows excluded) · k = {k} acquisition clusters "
        f"({esc(summary['k_selection'].get('rule'))})</p>",
    ]
    for title in titles:
        parts.append(verdict(report, title, [sp for sp in spots if sp.finding == title], alpha))
    if spots:
        cards, cats = [], categories(report)
        for title in titles:
            mine = [sp for sp in spots if sp.finding == title]
            outside = ~np.any([sp.inside for sp in mine], axis=0) if mine else np.ones(len(labels), bool)
            rest_rows = typical_rest(report, outside, 4) if root is not None else []
            for sp in mine:
                ratio = (
                    plots.plot_ratio(freqs, bands, sp.inside, plots.spot_colour(sp.index), mm) if band_cols else None
                )
                cards.append(card(sp, report, root, ratio, rest_rows, cats))
        parts.append(f'<div class="cards">{"".join(cards)}</div>')
        parts.append(
            "<p class=\"small\">Spectrum plots: the blind spot's mean band energy divided by the rest's "
            "(1 = the same; above 1 more energy at that scale, e.g. sharpening or noise; below, blur or smoothing).</p>"
        )

    parts.append(metadata_section(report))
    shown = plots.map_rows(len(labels), seed=int(summary["options"].get("seed") or 0))
    xy = plots.pca_xy(model.embed(report.table))[shown]
    sampled = (f" A random {len(shown):,} of the {len(labels):,} images are drawn."
               if len(shown) < len(labels) else "")  # fmt: skip
    parts.append("<h2>Where the errors are</h2>")
    for title in titles:
        mine = [sp for sp in spots if sp.finding == title]
        spot_of = np.full(len(labels), -1)
        for sp in mine:
            spot_of[sp.inside & (spot_of < 0)] = sp.index
        colour_of = {c: plots.spot_colour(sp.index) for sp in mine for c in sp.clusters}
        error = report.assignments[f"error_{title}"].to_numpy().astype(bool)
        rows_f = [r for r in report.slices.iter_rows(named=True) if r["finding"] == title]
        names = [(sp.index, f"#{sp.row['rank']}: clusters {sp.row['clusters']}") for sp in mine]
        parts.append(f"<h3>{esc(title)}</h3>")
        parts.append(
            '<div class="figs">'
            + figure(plots.plot_map(xy, spot_of[shown], names, error[shown], title),
                     f"Images on the first two principal components of the clustering features: blind spots in "
                     f"colour, the rest grey; circled: the model's errors on {title}.{sampled}")
            + figure(plots.plot_error_rates(rows_f, summary["findings"][title]["error_rate"], title, colour_of),
                     f"Error rate per cluster, {title}, highest first.")
            + "</div>"
        )  # fmt: skip
    if spots:
        parts.append(details("All blind spots: statistics", _spot_table(report)))
    blind_clusters = {c for sp in spots for c in sp.clusters}
    for title in titles:
        parts.append(details(f"Per cluster: {esc(title)} ({k} clusters)", _cluster_section(report, title)))
    parts.append(
        details("What each cluster is (descriptions and exemplars)", _descriptions(report, root, blind_clusters))
    )
    if band_cols:
        parts.append(details("Spectra of every cluster", figure(
            plots.plot_spectra(freqs, bands, labels, k),
            "Mean spectral profile of each cluster against the whole set (log-log). Bands below the black line at "
            "high frequency mean blur or upsampling; above it, noise or sharpening.")))  # fmt: skip
    parts.append(details("Settings and method", _settings(summary)))
    return "\n".join(parts)


def render_html(report, *, image_root: str | Path | None = None) -> str:
    """The whole report page as a string."""
    return page(TITLE, render_body(report, image_root=image_root))


def _freqs(table, band_cols: list[str], spacing: str) -> np.ndarray:
    from spectral_fast.profiling.oracle import band_centres, band_edges
    from spectral_fast.render.words import typical_side

    if not band_cols:
        return np.zeros(0)
    side = typical_side(table)
    return band_centres(band_edges(side, side, len(band_cols), spacing), spacing)


def _settings(summary: dict) -> str:
    opts = dict(summary["options"])
    opts.pop("findings", None)
    rows = [[esc(k_), f'<span class="mono">{esc(v)}</span>'] for k_, v in opts.items()]
    rows.append(["features", f'<span class="mono">{esc(", ".join(summary["features"]))}</span>'])
    rows.append(["k selection", f'<span class="mono">{esc(summary["k_selection"])}</span>'])
    rows.append(["excluded profile rows", f'<span class="mono">{esc(summary["excluded"])}</span>'])
    for f in summary["options"]["findings"]:
        rows.append([f"finding {esc(f['name'] or f['label_col'])}", f'<span class="mono">{esc(f)}</span>'])
    return table(["setting", "value"], rows, text_cols=(0, 1)) + (
        '<p class="muted">Method: spectral profiles (radial band energies of the 2-D FFT, Hann window, native grid) '
        "plus artefact features, robust scaling, clustering, per-cluster error statistics with Wilson and bootstrap "
        "intervals, one-sided hypergeometric tests with Benjamini-Hochberg correction, a tree scan for blind spots "
        "and a permutation test against random partitions of the same sizes (docs/method.md).</p>"
    )
