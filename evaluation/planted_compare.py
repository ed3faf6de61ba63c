"""Planted slices on two image sets side by side: is the larger set's top blind spot no worse, per change?

Reads two results of ``planted_slices.py`` (by default the 122 NIH images of
``cxr-real`` and the 468 of ``--dataset nih-all``) and, per change, sets the
default finder's precision and recall (error model a) beside each other as
mean ± standard error over seeds. The rule: the new set is *no worse* on a
change when its mean precision and its mean recall are each at least the
base set's minus one standard error of the difference,
``sqrt(se_base**2 + se_new**2)`` (seeds are independent draws of the planted
set and the errors), or minus 0.01 where that is larger (the tables' rounding). Also the diagnostics both runs carry (supervised
ceiling, best tree node) and, when the new run has them, the rows that vary
one step of the finder (``planted_slices.py --diagnostics``).

Run from the repository root::

    python evaluation/planted_compare.py

Results: ``evaluation/results/planted_compare.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "evaluation" / "results"
#: Smallest drop that counts as worse (the tables' rounding), for metrics without spread over seeds.
FLOOR = 0.01


def mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error (sample sd / sqrt(n); 0 for one value)."""
    n = len(values)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0


def scores(result: dict, finder: str = "spectral_fast", errors: str = "a") -> dict[str, dict[str, np.ndarray]]:
    """Per change: precision and recall of ``finder`` under error model ``errors``, one value per seed."""
    rec = pl.DataFrame(result["records"]).filter((pl.col("finder") == finder) & (pl.col("errors") == errors))
    return {
        c: {m: rec.filter(pl.col("change") == c)[m].to_numpy() for m in ("precision", "recall")}
        for c in dict.fromkeys(rec["change"])
    }


def verdict(base: dict[str, np.ndarray], new: dict[str, np.ndarray]) -> tuple[bool, list[str]]:
    """No worse (each metric's difference >= minus one SE of the difference, or 0.01) and the metrics that are worse."""
    worse = []
    for m in ("precision", "recall"):
        (mb, sb), (mn, sn) = mean_se(base[m]), mean_se(new[m])
        if mn - mb < -max(np.hypot(sb, sn), FLOOR):
            worse.append(m)
    return not worse, worse


def diagnostics(result: dict) -> dict[str, dict[str, float]]:
    """Per change: mean supervised ceiling and best-node precision / recall (empty without them)."""
    if not result.get("supervised_ceiling"):
        return {}
    table = pl.DataFrame(result["supervised_ceiling"]).group_by("change", maintain_order=True).mean()
    return {r["change"]: r for r in table.iter_rows(named=True)}


def compare(base: dict, new: dict, base_name: str, new_name: str) -> str:
    """The markdown comparison of two planted-slice results."""
    b, n = scores(base), scores(new)
    changes = [c for c in b if c in n]
    lines = [
        f"Planted slices, {base_name} ({base['n_images']} images) against {new_name} "
        f"({new['n_images']} images): spectral_fast's top blind spot, error model a, "
        "precision / recall, mean ± standard error over seeds. No worse: each of the new set's means is at "
        "least the base's minus one standard error of the difference (or 0.01 where that is smaller).",
        "",
        f"| change | seeds | {base_name} | {new_name} | difference | no worse |",
        "|---|---|---|---|---|---|",
    ]
    for c in changes:
        cells = []
        for s in (b[c], n[c]):
            (mp, sp), (mr, sr) = mean_se(s["precision"]), mean_se(s["recall"])
            cells.append(f"{mp:.2f}±{sp:.2f} / {mr:.2f}±{sr:.2f}")
        diff = " / ".join(f"{n[c][m].mean() - b[c][m].mean():+.2f}" for m in ("precision", "recall"))
        ok, worse = verdict(b[c], n[c])
        seeds = f"{len(b[c]['recall'])} / {len(n[c]['recall'])}"
        lines.append(
            f"| {c} | {seeds} | {cells[0]} | {cells[1]} | {diff} | {'yes' if ok else 'no: ' + ', '.join(worse)} |"
        )
    db, dn = diagnostics(base), diagnostics(new)
    if db and dn:
        lines += ["", "Told the planted labels (not finders), mean over seeds, base → new: supervised ceiling "
                  "(precision at recall 0.8); best node of the cluster tree (precision / recall).", "",
                  "| change | supervised ceiling | best node |", "|---|---|---|"]  # fmt: skip
        for c in changes:
            if c in db and c in dn:
                x, y = db[c], dn[c]
                lines.append(
                    f"| {c} | {x['precision_at_recall_0.8']:.2f} → {y['precision_at_recall_0.8']:.2f} | "
                    f"{x['best_node_precision']:.2f} / {x['best_node_recall']:.2f} → "
                    f"{y['best_node_precision']:.2f} / {y['best_node_recall']:.2f} |"
                )
    variants = [f for f in dict.fromkeys(r["finder"] for r in new["records"]) if f.startswith("spectral_fast, ")]
    if variants:
        lines += ["", f"{new_name}: rows that vary one step of the default finder (precision / recall, mean ± SE).",
                  "", "| finder | " + " | ".join(changes) + " |", "|---|" + "---|" * len(changes)]  # fmt: skip
        for f in ["spectral_fast", *variants]:
            s = scores(new, f)
            cells = [
                "{:.2f}±{:.2f} / {:.2f}±{:.2f}".format(*mean_se(s[c]["precision"]), *mean_se(s[c]["recall"]))
                if c in s
                else "-"
                for c in changes
            ]
            lines.append(f"| {f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=str(RESULTS / "planted.json"))
    parser.add_argument("--new", default=str(RESULTS / "planted_nih_all.json"))
    parser.add_argument("--names", nargs=2, default=["NIH of cxr-real", "nih-all"])
    parser.add_argument("--out", default=str(RESULTS / "planted_compare.md"))
    args = parser.parse_args(argv)
    base, new = (json.loads(Path(p).read_text()) for p in (args.base, args.new))
    text = compare(base, new, *args.names)
    print(text)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
