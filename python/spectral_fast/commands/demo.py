"""``spectral-fast demo``: the whole idea end to end on synthetic chest X-rays, in about a minute or two.

Generates phantoms, trains a small classifier on cleanly acquired images,
scores a test set where some images were acquired differently, runs
``spectral-fast profile`` and ``spectral-fast report`` on the result and says
how well the report's blind spots match the planted acquisition shifts
(:mod:`spectral_fast.demo`).
"""

from __future__ import annotations

import argparse

from spectral_fast.commands import check_output_dir, positive_int

HELP = "Run the built-in demo: phantoms, a classifier, its hidden acquisition failures, and the report finding them."
EXAMPLE = """example:
  spectral-fast demo -o demo/ --n 600
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from spectral_fast.demo import DEFAULT_N, DEFAULT_SEED

    parser.add_argument("-o", "--output", default="spectral-fast-demo", metavar="DIR",
                        help="folder for the images, predictions, profiles and report (default: spectral-fast-demo)")  # fmt: skip
    parser.add_argument("--n", type=positive_int, default=DEFAULT_N,
                        help=f"images in all, training (35%%) plus test; at least 100 (default: {DEFAULT_N})")  # fmt: skip
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed of everything (default: {DEFAULT_SEED})")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="processes that make the images (default: every core)")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="write into the folder even when it is not empty")
    parser.add_argument("--quiet", action="store_true", help="print only the path of report.html")


def run(args: argparse.Namespace) -> int:
    from spectral_fast.demo import run_demo

    check_output_dir(args.output, args.overwrite)
    result = run_demo(args.output, n=args.n, seed=args.seed, quiet=args.quiet, workers=args.workers)
    if args.quiet:
        print(result.report_html)
    return 0
