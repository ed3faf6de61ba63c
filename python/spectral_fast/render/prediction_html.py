"""A :class:`~spectral_fast.reliability.Prediction` as markup: expected accuracy, unknown territory, slices."""

from __future__ import annotations

from spectral_fast.reliability.reference_set import UNKNOWN_PERCENTILE
from spectral_fast.reliability.risk import Prediction
from spectral_fast.render.primitives import details, esc, fmt, pct, records_table

#: Unknown-territory share above which accuracies are called extrapolations (as on the monitor page).
EXTRAPOLATION_SHARE = 0.5


def render_prediction_body(pred: Prediction) -> str:
    s = pred.summary
    u = s["unknown"]
    extrapolated = u["share"] > EXTRAPOLATION_SHARE
    lines = []
    for name, f in s["findings"].items():
        lines.append(
            f"<li><b>{esc(name)}</b>: expected accuracy <b>{pct(f['expected_accuracy'])}</b> "
            f"[{pct(f['ci_low'])}-{pct(f['ci_high'])}] (reference {pct(f['reference_expected_accuracy'])})"
            + (" <span class='tag'>extrapolation</span>" if extrapolated else "")
            + "</li>"
        )
    cls = "warn" if u["share"] > 3 * (1.0 - UNKNOWN_PERCENTILE / 100.0) else "no"
    say = (f"{s['n']} images: {u['n']} ({pct(u['share'])}) in unknown territory"
           + (", so the accuracies are extrapolated from the nearest clusters" if extrapolated else ""))  # fmt: skip
    slices = records_table(
        pred.slices.to_dicts(),
        [("label", lambda r: esc(r["finding"])), ("cluster", lambda r: fmt(r["cluster"])), ("n", lambda r: fmt(r["n"])),
         ("expected accuracy [95% CI]", lambda r: f"{fmt(r['expected_accuracy'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]"),
         ("unknown territory", lambda r: fmt(r["unknown"])), ("blind spot", lambda r: "yes" if r["blind_spot"] else "")],
        text_cols=(0,), row_class=lambda r: "blind" if r["blind_spot"] else "",
    ) if pred.slices.height else ""  # fmt: skip
    return (f'<div class="verdict {cls}"><div class="title">prediction</div><div class="say">{esc(say)}</div>'
            f'<ul>{"".join(lines)}</ul></div>' + (details("Per cluster", slices) if slices else ""))  # fmt: skip
