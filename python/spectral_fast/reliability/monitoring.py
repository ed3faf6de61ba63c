"""Monitoring a new batch against a report's reference: the statistics, the alert rules and the verdict (``monitor``)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import polars as pl

from spectral_fast._shared.display import NotebookView
from spectral_fast._shared.progress import stage
from spectral_fast._shared.stats import Z95
from spectral_fast._version import __version__
from spectral_fast.errors import InvalidInputError
from spectral_fast.reliability.drift import (
    PSI_LEVELS,
    band_tests,
    mix_test,
    population_stability_index,
)
from spectral_fast.reliability.reference_set import UNKNOWN_PERCENTILE, Reference
from spectral_fast.reliability.risk import Prediction, id_columns, load_model_dir, predict

#: Above this share of unknown-territory images the batch accuracy is an extrapolation of the reference's rates.
EXTRAPOLATION_SHARE = 0.5


class Reason(TypedDict):
    """One rule that fired (``summary["reasons"]``): most severe first."""

    rule: str  # unknown_territory, accuracy_drop, blind_spot_share, mix_shift, band_shift
    level: str  # "alert" or "drift"
    finding: str | None
    value: float
    threshold: float
    p_value: float
    sentence: str


class MonitorSummary(TypedDict):
    """``MonitorResult.summary`` (and ``monitor.json`` without its tables); a dict at run time."""

    package_version: str
    verdict: str
    verdict_line: str
    reasons: list[Reason]
    accuracy_extrapolated: bool
    n: int
    n_input: int
    excluded: dict[str, Any]
    options_checked: list[str]
    reference_n: int
    mix: dict[str, Any]
    accuracy: dict[str, dict[str, Any]]
    blind_spots: list[dict[str, Any]]
    unknown: dict[str, Any]
    bands: dict[str, Any]
    settings: dict[str, float]


@dataclass
class MonitorResult(NotebookView):
    """Result of :func:`monitor`.

    Attributes
    ----------
    summary : MonitorSummary
        Everything, JSON-ready: ``verdict`` (``ok``/``drift``/``alert``),
        ``verdict_line`` (starting with the rule that fired), ``reasons``
        (every rule that fired: rule id, level, measured value, threshold,
        p-value, sentence), ``accuracy_extrapolated``, mix tests, per-finding accuracy change, blind-spot
        and unknown-territory tests, band test counts.
    mix : polars.DataFrame
        Per cluster: reference and batch share, counts, shrunk error rate per finding.
    bands : polars.DataFrame
        Per feature: KS statistic, p-value, BH-adjusted p-value, median shift.
    prediction : Prediction
        The per-image risks and per-slice expected accuracies of the batch.
    """

    summary: MonitorSummary
    mix: pl.DataFrame
    bands: pl.DataFrame
    prediction: Prediction = field(repr=False)

    def to_json(self) -> str:
        from spectral_fast._shared.serialize import jsonable

        doc = dict(self.summary)
        doc["mix"] = self.mix.to_dicts()
        doc["bands"] = self.bands.to_dicts()
        doc["slices"] = self.prediction.slices.to_dicts()
        return json.dumps(jsonable(doc), indent=2) + "\n"


def monitor(
    model_dir: str | Path | tuple[Any, Reference],
    profiles: Any,
    *,
    alpha: float = 0.05,
    max_drop: float = 0.02,
    unknown_alert: float = 0.05,
    options: dict | None = None,
    profile_id_col: str | None = None,
    artefacts_from: str | Path | None = None,
    id_col: str | None = None,
) -> MonitorResult:
    """Compare a new batch with the reference of a report (``docs/method.md#monitoring``).

    Parameters
    ----------
    model_dir : path or (SpectralClusters, Reference)
        A report's output folder, or the loaded pair.
    profiles : dataframe or path
        Profiles of the new batch (as for :func:`spectral_fast.reliability.risk.predict`).
    alpha : float
        Significance level of every test (after BH where there are several).
    max_drop : float
        Drop in implied accuracy that makes an alert.
    unknown_alert : float
        Share of unknown-territory images that makes an alert (when significant).
    options, profile_id_col, artefacts_from
        As for :func:`spectral_fast.reliability.risk.predict`.
    id_col : str, optional
        Deprecated: the profiles' id column before 0.2, now ``profile_id_col``
        (``id_col`` names a predictions table's id column, and a monitor
        takes none); still honoured, with a ``DeprecationWarning``.

    Returns
    -------
    MonitorResult
    """
    from scipy.stats import binomtest, fisher_exact, norm

    from spectral_fast._shared.stats import bh_adjust

    for name, value, low, high in (("alpha", alpha, 0.0, 1.0), ("max_drop", max_drop, 0.0, 1.0),
                                   ("unknown_alert", unknown_alert, 0.0, 1.0)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
            raise InvalidInputError(f"{name} must be a number in ({low}, {high}], got {value!r}")
    model, reference = load_model_dir(model_dir) if not isinstance(model_dir, tuple) else model_dir
    profile_id_col, _ = id_columns(id_col, profile_id_col, None, None)
    pred = predict(
        (model, reference), profiles, options=options, profile_id_col=profile_id_col, artefacts_from=artefacts_from
    )
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
            "ci_low": delta - Z95 * sd, "ci_high": delta + Z95 * sd, "se": sd,
            "p_value": float(norm.cdf(delta / sd)) if sd > 0 else float(delta >= 0),
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

    stage(f"monitor: mix, blind-spot, unknown-territory and {len(reference.features)} feature tests")
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
    extrapolated = unknown_share > EXTRAPOLATION_SHARE
    for a in accuracy.values():
        a["extrapolated"] = extrapolated

    summary: MonitorSummary = {  # type: ignore[typeddict-item]  # verdict_line and reasons follow
        "package_version": __version__,
        "verdict": verdict,
        "accuracy_extrapolated": extrapolated,
        "n": n_b,
        "n_input": pred.summary["n_input"],
        "excluded": pred.summary["excluded"],
        "options_checked": pred.summary["options_checked"],
        "reference_n": n_r,
        "mix": {"psi": psi, "psi_levels": list(PSI_LEVELS), "chi2": chi2, "chi2_dof": dof, "chi2_p": chi2_p},
        "accuracy": accuracy,
        "blind_spots": spots,
        "unknown": {**pred.summary["unknown"], "p_value": unknown_p, "expected_share": 1.0 - UNKNOWN_PERCENTILE / 100},
        "bands": {
            "tested": int(bands["p_value"].is_not_nan().sum()),
            "significant": significant_bands.height,
            "top": significant_bands.head(5)["feature"].to_list(),
        },
        "settings": {"alpha": alpha, "max_drop": max_drop, "unknown_alert": unknown_alert},
    }
    summary["reasons"] = reasons(summary, significant_bands)
    summary["verdict_line"] = verdict_line(summary)
    mix = pl.DataFrame(mix_cols).with_columns(pl.col("reference_n", "batch_n").cast(pl.Int64))
    return MonitorResult(summary, mix, bands, pred)


def _p(p: float) -> str:
    return "p < 1e-6" if p < 1e-6 else f"p = {p:.2g}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def reasons(summary: MonitorSummary, significant_bands: pl.DataFrame) -> list[Reason]:
    """Every rule that fired, alerts first, each with its measured value, threshold, p-value and a sentence.

    The rules are those of :func:`monitor` (``docs/method.md#monitoring``):
    ``unknown_territory`` (alert at ``unknown_alert`` when significant, drift
    otherwise), ``accuracy_drop`` per finding (alert), ``blind_spot_share``,
    ``mix_shift`` and ``band_shift`` (drift).
    """
    st = summary["settings"]
    alpha, out = st["alpha"], []
    u = summary["unknown"]
    if u["p_value"] < alpha:
        level = "alert" if u["share"] >= st["unknown_alert"] else "drift"
        out.append(Reason(
            rule="unknown_territory", level=level, finding=None, value=u["share"], threshold=st["unknown_alert"],
            p_value=u["p_value"],
            sentence=f"{_pct(u['share'])} of the batch is unknown territory (threshold {_pct(st['unknown_alert'])}, "
            f"expected {_pct(u['expected_share'])}, {_p(u['p_value'])})",
        ))  # fmt: skip
    for name, a in summary["accuracy"].items():
        if a["change"] <= -st["max_drop"] and a["ci_high"] < 0:
            out.append(Reason(
                rule="accuracy_drop", level="alert", finding=name, value=a["change"], threshold=-st["max_drop"],
                p_value=a["p_value"],
                sentence=f"expected accuracy ({name}) {a['reference']:.3f} -> {a['batch']:.3f} "
                f"({a['change']:+.3f}, threshold -{st['max_drop']:g}, {_p(a['p_value'])})"
                + (" is an extrapolation" if a["extrapolated"] else ""),
            ))  # fmt: skip
    for b in summary["blind_spots"]:
        if b["p_adjusted"] < alpha:
            out.append(Reason(
                rule="blind_spot_share", level="drift", finding=b["finding"], value=b["batch_share"],
                threshold=b["reference_share"], p_value=b["p_adjusted"],
                sentence=f"toward blind spot {b['clusters']} ({b['finding']}): {_pct(b['reference_share'])} -> "
                f"{_pct(b['batch_share'])} of images ({_p(b['p_adjusted'])}, BH)",
            ))  # fmt: skip
    m = summary["mix"]
    if m["chi2_p"] < alpha:
        out.append(Reason(
            rule="mix_shift", level="drift", finding=None, value=m["psi"], threshold=alpha, p_value=m["chi2_p"],
            sentence=f"cluster mix shifted (PSI {m['psi']:.2f}, chi-square {_p(m['chi2_p'])})",
        ))  # fmt: skip
    if significant_bands.height:
        top = significant_bands["feature"].head(3).to_list()
        out.append(Reason(
            rule="band_shift", level="drift", finding=None, value=float(significant_bands.height), threshold=alpha,
            p_value=float(np.min(significant_bands["p_adjusted"].to_numpy())),
            sentence=f"{significant_bands.height} of {summary['bands']['tested']} features differ "
            f"(BH q < {alpha:g}; most: {', '.join(top)})",
        ))  # fmt: skip
    out.sort(key=lambda r: r["level"] != "alert")  # stable: alerts first, each group in rule order
    return out


def verdict_line(summary: MonitorSummary) -> str:
    """One line: the verdict, the rules that fired (most severe first), then the figures."""
    parts = [summary["verdict"].upper() + ":"]
    fired = [r["sentence"] for r in summary["reasons"]]
    if summary["accuracy_extrapolated"]:  # said once per finding, after the unknown-territory rule
        dropped = {r["finding"] for r in summary["reasons"] if r["rule"] == "accuracy_drop"}
        fired[1:1] = [
            f"expected accuracy ({name}) {a['reference']:.3f} -> {a['batch']:.3f} is an extrapolation"
            for name, a in summary["accuracy"].items()
            if name not in dropped
        ]
    parts.append(("; ".join(fired) if fired else "no rule fired") + ".")
    for name, a in summary["accuracy"].items():
        parts.append(
            f"expected accuracy ({name}) {a['reference']:.3f} -> {a['batch']:.3f} "
            f"({a['change']:+.3f}, 95% CI {a['ci_low']:+.3f} to {a['ci_high']:+.3f});"
        )
    m = summary["mix"]
    parts.append(f"cluster mix PSI {m['psi']:.2f}, chi-square p = {m['chi2_p']:.2g};")
    b = summary["bands"]
    parts.append(f"{b['significant']} of {b['tested']} features differ (BH q < {summary['settings']['alpha']});")
    u = summary["unknown"]
    parts.append(
        f"{u['n']} of {summary['n']} images ({u['share']:.1%}) in unknown territory "
        f"(expected {u['expected_share']:.0%}, p = {u['p_value']:.2g})."
    )
    return " ".join(parts)
