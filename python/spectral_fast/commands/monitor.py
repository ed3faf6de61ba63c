"""``spectral-fast monitor``: compare a new batch with a report's reference set."""

from __future__ import annotations

import argparse

from spectral_fast.commands import add_id_columns, check_images_dir, check_output_dir

HELP = "Compare a new batch with a report's reference; verdict, JSON + HTML."
EXAMPLE = """example:
  spectral-fast monitor report/ new-profiles.parquet -o monitor/ --fail-on alert
"""

#: Exit code when the verdict reaches --fail-on (0 otherwise).
EXIT_FLAGGED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="output folder of `spectral-fast report`")
    parser.add_argument("profiles", metavar="PROFILES", help="profiles of the new batch (Parquet or CSV)")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                        help="folder for monitor.json, monitor.html and risk.parquet")  # fmt: skip
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level of the tests (default 0.05)")
    parser.add_argument("--max-drop", type=float, default=0.02,
                        help="implied accuracy drop that makes an alert (default 0.02)")  # fmt: skip
    parser.add_argument("--unknown-alert", type=float, default=0.05,
                        help="share of unknown-territory images that makes an alert (default 0.05)")  # fmt: skip
    add_id_columns(parser, predictions=False, legacy="profile_id_col")
    parser.add_argument("--images", metavar="ROOT",
                        help="folder the ids are relative to: computes the artefact features the model needs when the "
                        "profiles lack them (as `report --artefacts` did)")  # fmt: skip
    parser.add_argument("--fail-on", choices=("never", "drift", "alert"), default="never",
                        help=f"exit with code {EXIT_FLAGGED} when the verdict is at least this (for CI; default never)")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="write into OUTDIR even when it is not empty")
    parser.add_argument(
        "--quiet", action="store_true", help="print only errors and the verdict line (first line otherwise)"
    )


def run(args: argparse.Namespace) -> int:
    from spectral_fast._shared.progress import stage
    from spectral_fast.reliability.monitoring import monitor
    from spectral_fast.render.folders import write_monitor

    check_images_dir(args.images)
    check_output_dir(args.output, args.overwrite)
    result = monitor(
        args.model_dir, args.profiles, alpha=args.alpha, max_drop=args.max_drop,
        unknown_alert=args.unknown_alert, profile_id_col=args.profile_id_col, artefacts_from=args.images,
    )  # fmt: skip
    stage(f"writing monitor.json, monitor.html and risk.parquet to {args.output}")
    paths = write_monitor(result, args.output, image_root=args.images, model_dir=args.model_dir)
    print(result.summary["verdict_line"])
    if not args.quiet:
        print(f"wrote {paths['json']}, {paths['html']}, {paths['risk']}")
    order = {"ok": 0, "drift": 1, "alert": 2}
    if args.fail_on != "never" and order[result.summary["verdict"]] >= order[args.fail_on]:
        return EXIT_FLAGGED
    return 0
