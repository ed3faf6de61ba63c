"""The demo's closing note: blind spots against the truth, recovery, run time, where the report is."""

from __future__ import annotations

from spectral_fast.demo.plan import SHIFTS
from spectral_fast.demo.result import DemoResult


def summary_text(result: DemoResult) -> str:
    """The closing note of a run, as printed."""
    lines = ["", "Blind spots found by the report (it saw pixels, labels and scores; no acquisition labels):"]
    if not result.blind_spots:
        lines.append("  none: no cluster had significantly more errors than the rest")
    for s in result.blind_spots:
        inside = ", ".join(f"{k} {v}" for k, v in s["counts"].items())
        lines.append(
            f"  #{s['rank']} clusters {s['clusters']}: {s['n']} images, error {s['error_rate']:.1%} (lift {s['lift']:.2f})"
            f"; truth: {inside}"
        )
        lines.append(f"      mostly {s['dominant']}: precision {s['precision']:.2f}, recall {s['recall']:.2f}")
    lines.append(
        "Planted shifts (precision: share of the blind spot holding it that is this shift; recall: share caught):"
    )
    for p in result.planted:
        change, strength = SHIFTS[p["setting"]]
        where = f"blind spot #{p['rank']}" if p["rank"] is not None else "in no blind spot"
        lines.append(
            f"  {p['setting']:8s} ({change} {strength:g}): {where}, precision {p['precision']:.2f}, recall {p['recall']:.2f}"
        )
    o = result.overall
    lines.append(
        f"Overall: {o['in_blind_spots']} images in blind spots; precision {o['precision']:.2f} (share acquired with "
        f"a shift), recall {o['recall']:.2f} (share of shifted images caught); top blind spots are planted shifts: "
        f"{'yes' if o['top_are_shifts'] else 'no'}; clusters separate the settings with purity {o['cluster_purity']:.2f}"
    )
    tm = result.timings
    lines.append(
        f"Run time {tm['total']:.0f} s (images {tm['images']:.0f} s, classifier {tm['classifier']:.0f} s, "
        f"profile {tm['profile']:.0f} s, report {tm['report']:.0f} s)"
    )
    lines.append(f"Report: {result.report_html.resolve()}")
    return "\n".join(lines)
