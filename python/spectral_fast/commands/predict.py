"""``spectral-fast predict``: failure risk and expected accuracy of unlabeled images."""

from __future__ import annotations

import argparse
import json

HELP = "Per-image failure risk and expected accuracy of unlabeled images."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="output folder of `spectral-fast report`")
    parser.add_argument("profiles", metavar="PROFILES", help="profiles of the new images (Parquet or CSV)")
    parser.add_argument("-o", "--output", required=True, metavar="RISK.parquet", help="per-image risk table to write")
    parser.add_argument("--finding", action="append", metavar="NAME", help="finding to predict (repeatable; default all)")
    parser.add_argument("--id-col", default="id", help="id column of the profiles (default: id)")
    parser.add_argument("--images", metavar="ROOT",
                        help="folder the ids are relative to: computes the artefact features the model needs when the "
                        "profiles lack them (as `report --artefacts` did)")  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="also write the batch and per-slice results as JSON")


def run(args: argparse.Namespace) -> int:
    from spectral_fast.reliability import predict
    from spectral_fast.report import _jsonable

    pred = predict(args.model_dir, args.profiles, findings=args.finding, id_col=args.id_col, artefacts_from=args.images)
    pred.write(args.output)
    s = pred.summary
    print(f"{s['n']} images ({s['excluded'].get('error_rows', 0)} error rows excluded); options checked: "
          f"{', '.join(s['options_checked'])}")  # fmt: skip
    for name, f in s["findings"].items():
        print(f"{name}: expected accuracy {f['expected_accuracy']:.3f} (95% CI {f['ci_low']:.3f}-{f['ci_high']:.3f}); "
              f"reference {f['reference_expected_accuracy']:.3f}")  # fmt: skip
    u = s["unknown"]
    print(f"unknown territory: {u['n']} of {s['n']} images ({u['share']:.1%}; reference {100 - u['percentile']:g}%)")
    if args.json:
        doc = {**s, "slices": pred.slices.to_dicts()}
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(_jsonable(doc), indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0
