"""One blind spot as the page shows it: its images, error rates by kind, composition, exemplars and spectrum.

Everything here is read off the :class:`~spectral_fast.analysis.pipeline.Report`
(assignments, the joined table, the blind-spot row); the only arithmetic is
counting within the spot and within the rest and their Wilson intervals, so
the page can say "misses" and "false alarms" apart. Optional fields that a
newer analysis may add to a blind-spot row (``direction``, ``stability``,
``composition``) are shown when present and replace what is derived here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from spectral_fast._shared.stats import wilson_interval
from spectral_fast.analysis.contrast import label
from spectral_fast.render.plots import spot_colour
from spectral_fast.render.primitives import esc, pct
from spectral_fast.render.thumbs import thumb_img
from spectral_fast.render.words import split_description

#: Columns that are never composition (profile internals, ids).
_NOT_METADATA = {"id", "status", "error", "error_kind", "prediction_id", "bytes", "height", "width", "peak_freq"}
#: Most distinct values a column may have to count as a category.
_MAX_LEVELS = 12
EXEMPLARS, TYPICAL = 8, 4


@dataclass
class Spot:
    finding: str
    row: dict
    index: int  # colour index, page-wide
    inside: np.ndarray
    error: np.ndarray
    several_findings: bool = False

    @property
    def clusters(self) -> list[int]:
        return [int(c) for c in str(self.row["clusters"]).split("+")]


def label_column(report, finding: str) -> str | None:
    """The joined table's column holding ``finding``'s true label (renamed on a name clash), or None."""
    for f in report.summary["options"].get("findings", []):
        if (f.get("name") or f.get("label_col")) == finding:
            for col in (f"{f['label_col']}_prediction", f["label_col"]):
                if col in report.table.columns:
                    return col
    return None


def rates_by_kind(report, finding: str, inside: np.ndarray, error: np.ndarray) -> list[dict]:
    """Error, miss and false-alarm rates inside and outside, with Wilson intervals (misses/false alarms need labels)."""
    kinds = [("errors", np.ones(len(error), bool))]
    col = label_column(report, finding)
    if col is not None:
        truth = report.table[col].cast(pl.Float64, strict=False).to_numpy()
        kinds += [("misses", truth == 1), ("false alarms", truth == 0)]
    out = []
    for name, base in kinds:
        row = {"kind": name}
        for where, mask in (("spot", inside & base), ("rest", ~inside & base)):
            n, k = int(mask.sum()), int((error & mask).sum())
            lo, hi = wilson_interval(k, n) if n else (np.nan, np.nan)
            row[where] = {"n": n, "k": k, "rate": k / n if n else float("nan"), "lo": float(lo), "hi": float(hi)}
        out.append(row)
    return out


@dataclass(frozen=True)
class Categories:
    """The table's metadata, read and coded once for the composition of every spot (:func:`categories`)."""

    side: np.ndarray | None  # short side of each image (px), when the table has height and width
    columns: list[tuple[str, np.ndarray, np.ndarray]]  # (column, its sorted levels, each image's level index)


def categories(report) -> Categories:
    """The columns :func:`composition` compares: ids, model inputs and outputs, bands and floats left out
    (``pixel_spacing_mm`` kept), nulls as ``"unknown"``, 2 to ``_MAX_LEVELS`` distinct values."""
    table, skip = report.table, _skip_columns(report)
    side = None
    if "height" in table.columns and "width" in table.columns:
        side = table.select(pl.min_horizontal("height", "width")).to_series().cast(pl.Float64).to_numpy()
    columns = []
    for col in table.columns:
        if col in skip or col in _NOT_METADATA or col.startswith(("band_", "error_", "loss_")):
            continue
        s = table[col]
        if s.dtype.is_float() and col != "pixel_spacing_mm":
            continue
        values = s.cast(pl.Utf8, strict=False).fill_null("unknown")
        if not 2 <= values.n_unique() <= _MAX_LEVELS:  # hashing: an id-like column costs no sort
            continue
        levels, codes = np.unique(values.to_numpy(), return_inverse=True)
        columns.append((col, levels, codes.ravel()))
    return Categories(side, columns)


def composition(cats: Categories, inside: np.ndarray, limit: int = 4) -> list[str]:
    """Metadata that sets the spot apart: ``"format png: 100 % (rest 38 %)"``, most different first."""
    items: list[tuple[float, str]] = []
    if cats.side is not None:
        side = cats.side
        a, b = np.nanmedian(side[inside]), np.nanmedian(side[~inside]) if (~inside).any() else np.nan
        if np.isfinite(a):
            diff = abs(a / b - 1.0) if np.isfinite(b) and b > 0 else 0.0
            items.append((diff, f"short side {a:.0f} px (rest {b:.0f} px)"))
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    for col, levels, codes in cats.columns:
        counts_in = np.bincount(codes[inside], minlength=len(levels))
        top = int(np.argmax(counts_in))  # the spot's most common value (first in sorted order on a tie)
        share_in = float(counts_in[top] / n_in)
        share_out = float(np.count_nonzero(codes[~inside] == top) / n_out) if n_out else float("nan")
        name = label(col).replace("_", " ")
        items.append((abs(share_in - np.nan_to_num(share_out)),
                      f"{name} {levels[top]}: {pct(share_in)} (rest {pct(share_out)})"))  # fmt: skip
    items.sort(key=lambda t: -t[0])
    return [text for diff, text in items[:limit] if diff >= 0.1] or [text for _, text in items[:1]]


def exemplar_ids(report, clusters: list[int], inside: np.ndarray, n: int) -> list[int]:
    """Row indices of ``n`` images nearest their own cluster centre, taken in turn from each of ``clusters``."""
    labels = report.assignments["cluster"].to_numpy()
    dist = report.assignments["distance"].to_numpy()
    queues = []
    for c in clusters:
        rows = np.flatnonzero((labels == c) & inside)
        queues.append(list(rows[np.argsort(dist[rows], kind="stable")]))
    picked: list[int] = []
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(int(q.pop(0)))
    return picked


def typical_rest(report, outside: np.ndarray, n: int) -> list[int]:
    """Images of the rest nearest their centre, from its largest clusters in turn."""
    labels = report.assignments["cluster"].to_numpy()
    rest_clusters = [
        int(c) for c, _ in sorted(zip(*np.unique(labels[outside], return_counts=True)), key=lambda t: -t[1])
    ]
    return exemplar_ids(report, rest_clusters[:n], outside, n)


def card(spot: Spot, report, root: Path | None, ratio_uri: str | None, rest_rows: list[int],
         cats: Categories | None = None) -> str:  # fmt: skip
    """The blind spot's card (HTML); ``cats``: the table's :func:`categories` (read here when not given)."""
    r = spot.row
    ids = report.assignments["id"].to_list()
    n_all = len(spot.inside)
    several = "+" in str(r["clusters"])
    label = f" · {esc(spot.finding)}" if spot.several_findings else ""
    title = (
        f'<h3><span class="swatch"></span> #{esc(r["rank"])}{label} · {int(r["n"])} images ({pct(r["n"] / n_all)}) '
        f'<span class="small">cluster{"s" if several else ""} {esc(r["clusters"])}</span></h3>'
    )
    kinds = rates_by_kind(report, spot.finding, spot.inside, spot.error)
    e = kinds[0]
    rates = (f'<div class="rates"><span><span class="big">{pct(e["spot"]["rate"])}</span> errors '
             f'<span class="small">[{pct(e["spot"]["lo"])}-{pct(e["spot"]["hi"])}]</span> vs '
             f'<b>{pct(e["rest"]["rate"])}</b> elsewhere (<b>{_lift(e)}</b>)</span></div>')  # fmt: skip
    detail = [
        f"{k['kind']} {pct(k['spot']['rate'])} [{pct(k['spot']['lo'])}-{pct(k['spot']['hi'])}] "
        f"vs {pct(k['rest']['rate'])}"
        for k in kinds[1:]
        if k["spot"]["n"]
    ]
    extra = []
    if r.get("direction"):  # the analysis' own reading of the error direction, when it gives one
        words = {"misses": "misses", "false_alarms": "false alarms", "both": "misses and false alarms"}
        label_pure = f" ({r['label_pure']})" if r.get("label_pure") else ""
        extra.append(esc(words.get(r["direction"], r["direction"]) + label_pure))
    stability = r.get("stability")
    if isinstance(stability, (int, float)) and np.isfinite(stability):
        unstable = " (unstable: check before acting)" if r.get("stable") is False else ""
        extra.append(f"stability {stability:.2f} over refits{unstable}")
    elif stability:
        extra.append(esc(stability))
    small = " · ".join([esc(d) for d in detail] + extra + [f"tree-scan p = {esc(_p(r.get('p_scan')))}"])
    desc = "".join(f"<li>{esc(t)}{f' <span class=small>(z {z:+.1f})</span>' if z is not None else ''}</li>"
                   for t, z in split_description(r.get("description", ""))[:3])  # fmt: skip
    comp = r.get("composition")
    comp_items = _composition_items(comp) if comp else composition(cats or categories(report), spot.inside)
    comp_html = f'<div class="comp"><b>Metadata:</b> {esc(" · ".join(comp_items))}</div>' if comp_items else ""
    strip = ""
    if root is not None:
        picks = exemplar_ids(report, spot.clusters, spot.inside, EXEMPLARS)
        spot_imgs = "".join(thumb_img(ids[i], root, error=bool(spot.error[i])) or "" for i in picks)
        rest_imgs = "".join(thumb_img(ids[i], root, error=bool(spot.error[i])) or "" for i in rest_rows)
        if not spot_imgs:
            strip = f'<div class="small muted">(no exemplar image found under {esc(root)})</div>'
        else:
            strip = (
                f'<div class="strip"><div class="group"><div class="label">in the blind spot (red ring: model '
                f'error)</div><div class="imgs">{spot_imgs}</div></div><div class="group"><div class="label">'
                f'typical of the rest</div><div class="imgs rest">{rest_imgs}</div></div></div>'
            )
    ratio = (f'<div class="ratio"><img src="{ratio_uri}" alt="mean spectrum of the blind spot divided by the rest">'
             "</div>" if ratio_uri else "")  # fmt: skip
    return (f'<div class="card" style="--spot: {spot_colour(spot.index)}">{title}{rates}'
            f'<div class="small">{small}</div><ul class="desc">{desc}</ul>{comp_html}<div class="visual">{strip}{ratio}</div></div>')  # fmt: skip


def _skip_columns(report) -> set[str]:
    """Columns that are the model's inputs or outputs, not metadata: ids, labels, scores, groups."""
    opts = report.summary["options"]
    skip = {opts.get("id_col") or "id", opts.get("group_col") or ""}
    for f in opts.get("findings", []):
        for key in ("label_col", "score_col", "pred_col"):
            if f.get(key):
                skip |= {f[key], f"{f[key]}_prediction"}
    return skip | set(report.summary.get("features", []))


def _composition_items(comp: Any) -> list[str]:
    if isinstance(comp, dict):
        return [f"{k}: {v}" for k, v in comp.items()]
    if isinstance(comp, (list, tuple)):
        return [str(c) for c in comp]
    return [str(comp)]


def _lift(e: dict) -> str:
    a, b = e["spot"]["rate"], e["rest"]["rate"]
    return f"{a / b:.1f}×" if b and np.isfinite(a) and np.isfinite(b) else "no errors in the rest"


def _p(p: Any) -> str:
    try:
        v = float(p)
    except (TypeError, ValueError):
        return "–"
    return f"{v:.2g}" if np.isfinite(v) else "–"


def error_kind(kinds: list[dict]) -> str:
    """``"mostly false alarms"`` / ``"mostly misses"`` when three quarters of the spot's errors are of one kind."""
    if len(kinds) < 3 or not kinds[0]["spot"]["k"] or kinds[1]["spot"]["k"] + kinds[2]["spot"]["k"] == 0:
        return ""  # no errors, or labels that are not 0/1
    misses, alarms, total = kinds[1]["spot"]["k"], kinds[2]["spot"]["k"], kinds[0]["spot"]["k"]
    if misses >= 0.75 * total:
        return "mostly misses"
    if alarms >= 0.75 * total:
        return "mostly false alarms"
    return "misses and false alarms"
