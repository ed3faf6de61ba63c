"""Monitoring a new batch against the reference (``docs/method.md`` section 5).

Given a report's output folder (the cluster model and its
:class:`~spectral_fast.reliability.Reference`) and the profiles of a new,
unlabeled batch, :func:`monitor` answers: has the mix of spectral clusters
changed, which bands moved, what accuracy does the new mix imply, is the batch
drifting toward a blind spot or away from anything seen before, and sums it
up in one verdict line.

The tests
---------
Cluster mix. ``q_c`` is the reference's share of cluster ``c`` and ``p_c``
the batch's (mean posterior; one-hot for k-means). The population stability
index is ``PSI = sum_c (p_c - q_c) ln(p_c / q_c)`` with shares floored at
1e-4 so an empty cluster stays finite; by the usual reading PSI < 0.1 is
stable, 0.1-0.25 a moderate and > 0.25 a large shift. PSI has no sampling
distribution attached (a batch of 50 images over 12 clusters reaches 0.2 by
chance), so the verdict uses the chi-square test of homogeneity of the
2 x k table of image counts (most probable cluster; reference against batch).

Bands. Each clustering feature (every band, plus artefact features) gets a
two-sample Kolmogorov-Smirnov test of the batch against the reference's
stored values; p-values are Benjamini-Hochberg adjusted over the features
(``failures.bh_adjust``). The effect is the median shift in the model's
robust units, ``(median_batch - median_reference) / scale``.

Accuracy implied by the mix. With shrunk cluster error rates ``r_c``
(:func:`spectral_fast.reliability.shrunk_rates`), the change is
``D = sum_c (q_c - p_c) r_c`` (batch minus reference expected accuracy), with
variance ``sum_c (p_c - q_c)^2 Var(r_c) + Var_batch(risk) / n_b + Var_ref(risk) / n_r``
(rate uncertainty plus the sampling of both mixes) and a normal 95 % interval.

Toward a blind spot. For each blind spot of the report, a one-sided Fisher
exact test of whether its share of images is larger in the batch than in the
reference; BH over all blind spots.

Away from anything seen. By construction 1 % of reference images lie beyond
the unknown-territory distance; a one-sided binomial test says whether the
batch has more.

Verdict
-------
``alert``: some finding's implied accuracy drops by at least ``max_drop``
with an interval below 0, or at least ``unknown_alert`` of the batch is
unknown territory with a significant binomial test. ``drift``: any test
significant at ``alpha`` (mix chi-square, any band, blind-spot share,
unknown share) without an alert. ``ok``: none.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from spectral_fast import __version__
from spectral_fast.errors import InvalidInputError
from spectral_fast.reliability import UNKNOWN_PERCENTILE, Z95, Prediction, Reference, load_model_dir, predict

#: Floor of cluster shares in the PSI.
PSI_FLOOR = 1e-4
#: Conventional PSI readings: below the first stable, above the second a large shift.
PSI_LEVELS = (0.1, 0.25)


def population_stability_index(batch_share: np.ndarray, reference_share: np.ndarray, floor: float = PSI_FLOOR) -> float:
    """``PSI = sum_c (p_c - q_c) ln(p_c / q_c)``, shares floored at ``floor`` and renormalised."""
    p = np.maximum(np.asarray(batch_share, dtype=np.float64), floor)
    q = np.maximum(np.asarray(reference_share, dtype=np.float64), floor)
    p, q = p / p.sum(), q / q.sum()
    return float(((p - q) * np.log(p / q)).sum())


def mix_test(batch_counts: np.ndarray, reference_counts: np.ndarray) -> tuple[float, int, float]:
    """Chi-square test of homogeneity of the 2 x k count table (clusters empty on both sides dropped).

    Returns the statistic, degrees of freedom and p-value (p = 1 when fewer than two clusters are occupied).
    """
    from scipy.stats import chi2_contingency

    table = np.vstack([reference_counts, batch_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 0, 1.0
    chi2, p, dof, _ = chi2_contingency(table, correction=False)
    return float(chi2), int(dof), float(p)


def band_tests(
    reference_values: np.ndarray, batch_values: np.ndarray, names: list[str], scale: np.ndarray
) -> pl.DataFrame:
    """Two-sample KS test per feature with BH-adjusted p-values and the median shift in robust units.

    NaN values (a feature that does not apply to an image) are left out of
    both samples; a feature with no values on one side gets NaN.
    """
    from scipy.stats import ks_2samp

    from spectral_fast.failures import bh_adjust

    rows = []
    for j, name in enumerate(names):
        ref = reference_values[:, j].astype(np.float64)
        new = batch_values[:, j].astype(np.float64)
        ref, new = ref[np.isfinite(ref)], new[np.isfinite(new)]
        if len(ref) == 0 or len(new) == 0:
            rows.append({"feature": name, "ks": math.nan, "p_value": math.nan, "shift": math.nan})
            continue
        res = ks_2samp(new, ref)
        shift = (float(np.median(new)) - float(np.median(ref))) / float(scale[j])
        rows.append({"feature": name, "ks": float(res.statistic), "p_value": float(res.pvalue), "shift": shift})
    table = pl.DataFrame(rows, schema={"feature": pl.Utf8, "ks": pl.Float64, "p_value": pl.Float64, "shift": pl.Float64})
    p = table["p_value"].to_numpy()
    q = np.full(len(p), math.nan)
    ok = np.isfinite(p)
    q[ok] = bh_adjust(p[ok])
    return table.with_columns(pl.Series("p_adjusted", q))


@dataclass
class MonitorResult:
    """Result of :func:`monitor`.

    Attributes
    ----------
    summary : dict
        Everything, JSON-ready: ``verdict`` (``ok``/``drift``/``alert``),
        ``verdict_line``, mix tests, per-finding accuracy change, blind-spot
        and unknown-territory tests, band test counts.
    mix : polars.DataFrame
        Per cluster: reference and batch share, counts, shrunk error rate per finding.
    bands : polars.DataFrame
        Per feature: KS statistic, p-value, BH-adjusted p-value, median shift.
    prediction : Prediction
        The per-image risks and per-slice expected accuracies of the batch.
    """

    summary: dict
    mix: pl.DataFrame
    bands: pl.DataFrame
    prediction: Prediction = field(repr=False)

    def to_json(self) -> str:
        from spectral_fast.report import _jsonable

        doc = dict(self.summary)
        doc["mix"] = self.mix.to_dicts()
        doc["bands"] = self.bands.to_dicts()
        doc["slices"] = self.prediction.slices.to_dicts()
        return json.dumps(_jsonable(doc), indent=2) + "\n"

    def write(self, outdir: str | Path) -> dict[str, Path]:
        """Write ``monitor.json``, ``monitor.html`` and the per-image ``risk.parquet`` into ``outdir``."""
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / "monitor.json", "html": out / "monitor.html", "risk": out / "risk.parquet"}
        paths["json"].write_text(self.to_json())
        paths["html"].write_text(render_monitor_html(self), encoding="utf-8")
        self.prediction.write(paths["risk"])
        return paths


def monitor(
    model_dir: str | Path | tuple[Any, Reference],
    profiles: pl.DataFrame | str | Path,
    *,
    alpha: float = 0.05,
    max_drop: float = 0.02,
    unknown_alert: float = 0.05,
    options: dict | None = None,
    id_col: str = "id",
    artefacts_from: str | Path | None = None,
) -> MonitorResult:
    """Compare a new batch with the reference of a report (module docstring).

    Parameters
    ----------
    model_dir : path or (SpectralClusters, Reference)
        A report's output folder, or the loaded pair.
    profiles : polars.DataFrame or path
        Profiles of the new batch.
    alpha : float
        Significance level of every test (after BH where there are several).
    max_drop : float
        Drop in implied accuracy that makes an alert.
    unknown_alert : float
        Share of unknown-territory images that makes an alert (when significant).
    options, id_col, artefacts_from
        As for :func:`spectral_fast.reliability.predict`.

    Returns
    -------
    MonitorResult
    """
    from scipy.stats import binomtest, fisher_exact

    from spectral_fast.failures import bh_adjust

    for name, value, low, high in (("alpha", alpha, 0.0, 1.0), ("max_drop", max_drop, 0.0, 1.0),
                                   ("unknown_alert", unknown_alert, 0.0, 1.0)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
            raise InvalidInputError(f"{name} must be a number in ({low}, {high}], got {value!r}")
    model, reference = load_model_dir(model_dir) if not isinstance(model_dir, tuple) else model_dir
    pred = predict((model, reference), profiles, options=options, id_col=id_col, artefacts_from=artefacts_from)
    posterior = pred.posterior
    n_b, n_r, k = posterior.shape[0], reference.n, posterior.shape[1]
    p_share, q_share = posterior.mean(axis=0), np.asarray(reference.mix, dtype=np.float64)
    b_counts = np.bincount(posterior.argmax(axis=1), minlength=k)
    r_counts = np.asarray(reference.counts, dtype=np.int64)
    psi = population_stability_index(p_share, q_share)
    chi2, dof, chi2_p = mix_test(b_counts, r_counts)

    mix_cols: dict[str, Any] = {
        "cluster": np.arange(k),
        "reference_share": q_share,
        "batch_share": p_share,
        "reference_n": r_counts,
        "batch_n": b_counts,
    }
    accuracy, spots = {}, []
    for name in reference.findings:
        f = reference.finding(name)
        rate, var = reference.rates(name)
        mix_cols[f"error_rate_{name}"] = rate
        risk = posterior @ rate
        acc_b = pred.summary["findings"][name]["expected_accuracy"]
        delta = acc_b - f["expected_accuracy"]
        dw = p_share - q_share
        sd = math.sqrt(float((dw * dw * var).sum() + risk.var() / n_b + f["risk_var"] / n_r))
        accuracy[name] = {
            "reference": f["expected_accuracy"], "batch": acc_b, "change": delta,
            "ci_low": delta - Z95 * sd, "ci_high": delta + Z95 * sd,
            "batch_ci_low": pred.summary["findings"][name]["ci_low"],
            "batch_ci_high": pred.summary["findings"][name]["ci_high"],
        }  # fmt: skip
        for clusters in f["blind_spots"]:
            in_b, in_r = int(b_counts[clusters].sum()), int(r_counts[clusters].sum())
            _, p = fisher_exact([[in_b, n_b - in_b], [in_r, n_r - in_r]], alternative="greater")
            spots.append({"finding": name, "clusters": "+".join(map(str, clusters)),
                          "reference_share": in_r / n_r, "batch_share": in_b / n_b, "p_value": float(p)})  # fmt: skip
    if spots:
        for s, q in zip(spots, bh_adjust(np.array([s["p_value"] for s in spots]))):
            s["p_adjusted"] = float(q)

    feats = reference.features
    assert pred.table is not None  # predict always returns the rows it used
    batch_values = pred.table.select(feats).cast({c: pl.Float64 for c in feats}).to_numpy()
    bands = band_tests(reference.sample, batch_values, feats, model.scale_)
    n_unknown = pred.summary["unknown"]["n"]
    unknown_p = float(binomtest(n_unknown, n_b, 1.0 - UNKNOWN_PERCENTILE / 100.0, alternative="greater").pvalue)

    significant_bands = bands.filter(pl.col("p_adjusted") < alpha).sort("ks", descending=True)
    drop_alerts = [n for n, a in accuracy.items() if a["change"] <= -max_drop and a["ci_high"] < 0]
    unknown_share = n_unknown / n_b
    unknown_hit = unknown_p < alpha
    alerts = bool(drop_alerts) or (unknown_hit and unknown_share >= unknown_alert)
    spot_hits = [s for s in spots if s["p_adjusted"] < alpha]
    drift = chi2_p < alpha or significant_bands.height > 0 or bool(spot_hits) or unknown_hit
    verdict = "alert" if alerts else ("drift" if drift else "ok")

    summary = {
        "package_version": __version__,
        "verdict": verdict,
        "n": n_b,
        "n_input": pred.summary["n_input"],
        "excluded": pred.summary["excluded"],
        "options_checked": pred.summary["options_checked"],
        "reference_n": n_r,
        "mix": {"psi": psi, "psi_levels": list(PSI_LEVELS), "chi2": chi2, "chi2_dof": dof, "chi2_p": chi2_p},
        "accuracy": accuracy,
        "blind_spots": spots,
        "unknown": {**pred.summary["unknown"], "p_value": unknown_p, "expected_share": 1.0 - UNKNOWN_PERCENTILE / 100},
        "bands": {"tested": int(bands["p_value"].is_not_nan().sum()), "significant": significant_bands.height,
                  "top": significant_bands.head(5)["feature"].to_list()},  # fmt: skip
        "settings": {"alpha": alpha, "max_drop": max_drop, "unknown_alert": unknown_alert},
    }
    summary["verdict_line"] = verdict_line(summary)
    mix = pl.DataFrame(mix_cols).with_columns(pl.col("reference_n", "batch_n").cast(pl.Int64))
    return MonitorResult(summary, mix, bands, pred)


def verdict_line(summary: dict) -> str:
    """One line that says what happened, most important first."""
    parts = [summary["verdict"].upper() + ":"]
    for name, a in summary["accuracy"].items():
        parts.append(
            f"expected accuracy ({name}) {a['reference']:.3f} -> {a['batch']:.3f} "
            f"({a['change']:+.3f}, 95% CI {a['ci_low']:+.3f} to {a['ci_high']:+.3f});"
        )
    for s in summary["blind_spots"]:
        if s["p_adjusted"] < summary["settings"]["alpha"]:
            parts.append(
                f"toward blind spot {s['clusters']} ({s['finding']}): {s['reference_share']:.0%} -> "
                f"{s['batch_share']:.0%} of images (p = {s['p_adjusted']:.2g});"
            )
    m = summary["mix"]
    parts.append(f"cluster mix PSI {m['psi']:.2f}, chi-square p = {m['chi2_p']:.2g};")
    b = summary["bands"]
    top = f", most: {', '.join(b['top'][:3])}" if b["top"] else ""
    parts.append(f"{b['significant']} of {b['tested']} features differ (BH q < {summary['settings']['alpha']}){top};")
    u = summary["unknown"]
    parts.append(
        f"{u['n']} of {summary['n']} images ({u['share']:.1%}) in unknown territory "
        f"(expected {u['expected_share']:.0%}, p = {u['p_value']:.2g})."
    )
    return " ".join(parts)


# --------------------------------------------------------------------- HTML
def _plot_mix(result: MonitorResult) -> str:
    import matplotlib.pyplot as plt

    from spectral_fast._report_html import _png

    mix = result.mix
    k = mix.height
    spot_clusters = {int(c) for s in result.summary["blind_spots"] for c in s["clusters"].split("+")}
    rate_col = next((c for c in mix.columns if c.startswith("error_rate_")), None)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * k + 1.6))
    y = np.arange(k)
    ax.barh(y - 0.2, mix["reference_share"], height=0.4, color="#95a5a6", label="reference")
    colours = ["#c0392b" if c in spot_clusters else "#2c3e50" for c in range(k)]
    ax.barh(y + 0.2, mix["batch_share"], height=0.4, color=colours, label="batch (red: blind spot)")
    labels = [
        f"cluster {c}" + (f" (error {mix[rate_col][c]:.0%})" if rate_col else "") for c in range(k)
    ]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("share of images")
    ax.legend(loc="lower right", frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _plot_bands(result: MonitorResult, alpha: float) -> str:
    import matplotlib.pyplot as plt

    from spectral_fast._report_html import _png

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
    return _png(fig)


def _plot_distance(result: MonitorResult) -> str:
    import matplotlib.pyplot as plt

    from spectral_fast._report_html import _png

    d = result.prediction.images["distance"].to_numpy()
    thr = result.summary["unknown"]["threshold"]
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    ax.hist(d, bins=min(40, max(5, len(d) // 3)), color="#2c3e50")
    ax.axvline(thr, color="#c0392b", ls="--", label=f"reference {UNKNOWN_PERCENTILE:g}th percentile ({thr:.2f})")
    ax.set_xlabel("distance to the nearest cluster centre (scaled units)")
    ax.set_ylabel("images")
    ax.legend(frameon=False)
    return _png(fig)


def _records_table(records: list[dict], columns: list[tuple[str, Any]], *, text_cols=(), row_class=None) -> str:
    """An HTML table of ``records``: one row each, one cell per ``(header, record -> cell html)`` column."""
    from spectral_fast._report_html import _table

    rows = [[cell(r) for _, cell in columns] for r in records]
    classes = [row_class(r) for r in records] if row_class else None
    return _table([h for h, _ in columns], rows, classes, text_cols)


def render_monitor_html(result: MonitorResult) -> str:
    """The monitoring page: verdict, accuracy, mix, bands and distances, self-contained (no network)."""
    from importlib import resources
    from string import Template

    import matplotlib

    from spectral_fast._report_html import _figure, esc, fmt

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
    template = Template(resources.files("spectral_fast").joinpath("_report_template.html").read_text("utf-8"))
    return template.substitute(title="spectral_fast batch monitor", body="\n".join(parts))
