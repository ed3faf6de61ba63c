"""``spectral-fast predict``: failure risk and expected accuracy of unlabeled images."""

from __future__ import annotations

import argparse
import json

from spectral_fast.commands import add_id_columns, check_images_dir, fraction
from spectral_fast.errors import InvalidInputError

HELP = "Per-image failure risk and expected accuracy of unlabeled images."
EXAMPLE = """example:
  spectral-fast predict report/ new-profiles.parquet -o risk.parquet --json risk.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="output folder of `spectral-fast report`")
    parser.add_argument("profiles", metavar="PROFILES", help="profiles of the new images (Parquet or CSV)")
    parser.add_argument("-o", "--output", required=True, metavar="RISK.parquet", help="per-image risk table to write")
    parser.add_argument(
        "--finding", action="append", metavar="NAME", help="finding to predict (repeatable; default all)"
    )
    add_id_columns(parser, predictions=True, legacy="profile_id_col")
    parser.add_argument("--images", metavar="ROOT",
                        help="folder the ids are relative to: computes the artefact features the model needs when the "
                        "profiles lack them (as `report --artefacts` did)")  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="also write the batch and per-slice results as JSON")
    parser.add_argument("--predictions", metavar="FILE",
                        help="the model's scores for these images (CSV or Parquet): adds risk_combined_<finding>, "
                        "spectral risk and the model's confidence together (needs a report made with --score-col)")  # fmt: skip
    parser.add_argument("--score-col", action="append", metavar="[FINDING=]COL",
                        help="score column of the predictions (default: the one the report used); "
                        "FINDING=COL for one finding (repeatable)")  # fmt: skip
    parser.add_argument("--match", choices=("exact", "basename", "stem"), default="exact",
                        help="how prediction ids are compared with profile ids (default: exact)")  # fmt: skip
    parser.add_argument("--min-match", type=fraction, default=0.5, metavar="FRACTION",
                        help="with --predictions: least share of the images that must match a prediction "
                        "(default 0.5)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="print only errors and the final line")


def score_columns(values: list[str] | None, findings: list[str]) -> dict[str, str] | None:
    """``--score-col`` values as {finding: column}; a bare COL applies to every finding."""
    if not values:
        return None
    out: dict[str, str] = {}
    for value in values:
        finding, sep, col = value.rpartition("=")
        if not sep:
            out.update({f: col for f in findings})
        elif not finding or not col:
            raise InvalidInputError(f"--score-col {value!r}: use COL or FINDING=COL")
        else:
            out[finding] = col
    return out


def run(args: argparse.Namespace) -> int:
    from spectral_fast._shared.serialize import jsonable
    from spectral_fast.reliability.risk import load_model_dir, predict

    if args.score_col and not args.predictions:
        raise InvalidInputError("--score-col needs --predictions FILE (the model's scores for these images)")
    check_images_dir(args.images)
    model, reference = load_model_dir(args.model_dir)
    cols = score_columns(args.score_col, args.finding or list(reference.findings))
    pred = predict(
        (model, reference), args.profiles, findings=args.finding, profile_id_col=args.profile_id_col,
        artefacts_from=args.images, predictions=args.predictions, score_cols=cols, id_col=args.pred_id_col,
        match=args.match, min_match=args.min_match,
    )  # fmt: skip
    pred.write(args.output)
    s = pred.summary
    if args.json:
        doc = {**s, "slices": pred.slices.to_dicts()}
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(jsonable(doc), indent=2) + "\n")
    if args.quiet:
        print(f"wrote {args.output}")
        return 0
    print(f"{s['n']} images ({s['excluded'].get('error_rows', 0)} error rows excluded); options checked: "
          f"{', '.join(s['options_checked'])}")  # fmt: skip
    for name, f in s["findings"].items():
        print(f"{name}: expected accuracy {f['expected_accuracy']:.3f} (95% CI {f['ci_low']:.3f}-{f['ci_high']:.3f}); "
              f"reference {f['reference_expected_accuracy']:.3f}")  # fmt: skip
        c = f.get("combined")
        if c:
            print(f"{name}: expected accuracy with the model's confidence {c['expected_accuracy']:.3f} "
                  f"({c['n_scored']} images scored by {c['score_col']!r}, {c['n_unscored']} without a score)")  # fmt: skip
    u = s["unknown"]
    print(f"unknown territory: {u['n']} of {s['n']} images ({u['share']:.1%}; reference {100 - u['percentile']:g}%)")
    print(f"wrote {args.output}")
    return 0
