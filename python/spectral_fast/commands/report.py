"""``spectral-fast report``: blind spots of a model from profiles + predictions.

Findings are given in order: each ``--label-col`` starts a finding, and the
``--score-col`` (with an optional ``--threshold``) or ``--pred-col`` after it
belong to that finding::

    spectral-fast report profiles.parquet --predictions preds.csv --pred-id-col path \\
        --label-col pneumonia --score-col p_pneumonia --threshold 0.4 \\
        --label-col effusion --pred-col effusion_hat -o out/
"""

from __future__ import annotations

import argparse

from spectral_fast.commands import (
    add_id_columns,
    check_images_dir,
    check_output_dir,
    fraction,
    positive_int,
)

HELP = "Find, test and explain the spectral clusters where a model's errors concentrate."
EXAMPLE = """example:
  spectral-fast report profiles.parquet --predictions preds.csv --pred-id-col image \\
      --label-col pneumonia --score-col p_pneumonia -o report/ --images images/
"""


class _FindingAction(argparse.Action):
    """Collect --label-col / --score-col / --pred-col / --threshold into ordered findings."""

    def __call__(self, parser, namespace, value, option_string=None):
        findings = getattr(namespace, "findings", None)
        if findings is None:
            findings = []
            namespace.findings = findings
        if self.dest == "label_col":
            findings.append({"label_col": value})
            return
        if not findings:
            parser.error(f"{option_string} must follow the --label-col it belongs to")
        current = findings[-1]
        key = {"score_col": "score_col", "pred_col": "pred_col", "threshold": "threshold"}[self.dest]
        if key in current:
            parser.error(f"{option_string} given twice for finding {current['label_col']!r}")
        current[key] = value


def _k(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return positive_int(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"--k must be 'auto' or a positive integer, got {value!r}") from None


def _sample_size(value: str) -> int | str:
    if value == "all":
        return value
    try:
        n = positive_int(value)
    except argparse.ArgumentTypeError:
        n = 0
    if n < 2:
        raise argparse.ArgumentTypeError(f"--max-fit-samples must be 'all' or an integer >= 2, got {value!r}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "profiles", metavar="PROFILES", help="profile table (Parquet or CSV) from `spectral-fast profile`"
    )
    parser.add_argument(
        "--predictions", required=True, metavar="FILE", help="predictions (CSV or Parquet), one row per image"
    )
    parser.add_argument("--label-col", dest="label_col", action=_FindingAction, metavar="L", required=True,
                        help="true label column (0/1) of a finding; repeat for more findings")  # fmt: skip
    parser.add_argument("--score-col", dest="score_col", action=_FindingAction, metavar="S",
                        help="score column (probability in [0, 1]) of the preceding finding")  # fmt: skip
    parser.add_argument("--pred-col", dest="pred_col", action=_FindingAction, metavar="P",
                        help="predicted-label column (0/1) of the preceding finding, instead of a score")  # fmt: skip
    parser.add_argument("--threshold", dest="threshold", action=_FindingAction, type=float, metavar="T",
                        help="operating point for the preceding finding's score (default 0.5)")  # fmt: skip
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the report files")
    parser.add_argument("--k", type=_k, default="auto", help="number of clusters, or 'auto' (default)")
    parser.add_argument("--method", choices=("gmm", "kmeans"), default="gmm", help="clustering (default gmm)")
    parser.add_argument("--anatomy-components", type=int, default=2, metavar="N",
                        help="adjust the upper bands for the anatomy the lower bands show, with N principal "
                             "components of the lower bands (default 2; 0 turns it off)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of clustering, bootstrap, permutations (default 0)")
    add_id_columns(parser, predictions=True, legacy="pred_id_col")
    parser.add_argument("--match", choices=("exact", "basename", "stem"), default="exact",
                        help="how prediction ids are matched to profile ids (default exact)")  # fmt: skip
    parser.add_argument("--min-match", type=fraction, default=0.5, metavar="FRACTION",
                        help="least share of the profiles that must match a prediction (default 0.5)")  # fmt: skip
    parser.add_argument("--group-col", metavar="C",
                        help="patient (or study) column of the predictions: the reference written with the report "
                             "holds out whole patients (cluster risk, combined-risk folds, unknown-territory "
                             "threshold); default: each image its own patient")  # fmt: skip
    parser.add_argument("--images", metavar="ROOT", help="folder the profile ids are relative to, for thumbnails")
    parser.add_argument("--artefacts", action="store_true",
                        help="compute the artefact features (JPEG blocks, grid peaks, histogram combs) from the "
                             "images under --images when the profiles lack them (in the Rust core, on every core)")  # fmt: skip
    parser.add_argument("--n-perm", type=int, default=999, help="permutations for the concentration test (default 999)")
    parser.add_argument("--n-boot", type=int, default=500, help="bootstrap resamples for AUROC intervals (default 500)")
    parser.add_argument("--overwrite", action="store_true", help="write into OUTDIR even when it is not empty")
    parser.add_argument("--quiet", action="store_true", help="print only errors and the final line")
    parser.add_argument("--refits", type=int, default=10, metavar="B",
                        help="refits of the clustering on random halves that score each blind spot's stability "
                             "(default 10; 0 skips it)")  # fmt: skip
    parser.add_argument("--metadata", metavar="FILE",
                        help="per-image acquisition metadata (CSV or Parquet), joined by id like the predictions; "
                             "compared between each blind spot and the rest, and scanned for value groups with "
                             "excess errors (metadata blind spots)")  # fmt: skip
    parser.add_argument("--metadata-cols", metavar="A,B", type=lambda v: [c for c in v.split(",") if c],
                        help="columns of --metadata to use, comma-separated")  # fmt: skip
    parser.add_argument("--metadata-id-col", metavar="C", help="id column of --metadata (default --pred-id-col)")
    parser.add_argument("--max-fit-samples", type=_sample_size, default=None, metavar="N",
                        help="above N images, fit the clustering on a seeded sample of N and draw permutation counts "
                             "per cluster (archive scale, docs/method.md#archive-scale; default 10000); 'all': fit "
                             "on every image and shuffle images at any size")  # fmt: skip


def _metadata_rows(rep, title: str) -> list[dict]:
    """The metadata scan's spots of one finding (``Report.metadata_spots``), in rank order."""
    spots = rep.metadata_spots
    if spots is None or spots.height == 0:
        return []
    return [r for r in spots.iter_rows(named=True) if r["finding"] == title]


def run(args: argparse.Namespace) -> int:
    from spectral_fast._shared.progress import stage
    from spectral_fast.analysis.pipeline import Finding, analyze
    from spectral_fast.errors import InvalidInputError
    from spectral_fast.render.folders import write_report

    if args.artefacts and not args.images:
        raise InvalidInputError("--artefacts needs --images ROOT (the folder the profile ids are relative to)")
    check_images_dir(args.images)
    check_output_dir(args.output, args.overwrite)
    findings = []
    for f in args.findings:
        if ("score_col" in f) == ("pred_col" in f):
            raise InvalidInputError(
                f"finding {f['label_col']!r}: give exactly one of --score-col or --pred-col after it"
            )
        if "threshold" in f and "score_col" not in f:
            raise InvalidInputError(f"finding {f['label_col']!r}: --threshold applies to --score-col only")
        findings.append(Finding(f["label_col"], f.get("score_col"), f.get("pred_col"), f.get("threshold", 0.5)))
    rep = analyze(
        args.profiles, args.predictions, findings, id_col=args.pred_id_col, profile_id_col=args.profile_id_col,
        match=args.match, min_match=args.min_match, n_clusters=args.k, method=args.method,
        anatomy_components=args.anatomy_components, seed=args.seed, n_perm=args.n_perm, n_boot=args.n_boot,
        artefacts_from=args.images if args.artefacts else None, group_col=args.group_col, n_refits=args.refits,
        metadata=args.metadata, metadata_cols=args.metadata_cols, metadata_id_col=args.metadata_id_col,
        **({} if args.max_fit_samples is None else
           {"max_fit_samples": None if args.max_fit_samples == "all" else args.max_fit_samples}),
    )  # fmt: skip
    stage(f"writing the report to {args.output}")
    paths = write_report(rep, args.output, image_root=args.images)
    s = rep.summary
    if args.quiet:
        print(f"wrote {paths['html']}")
        return 0
    print(
        f"{s['n_analysed']} images ({s['excluded']['error_rows']} profile error rows excluded), k = {s['k']} clusters"
    )
    for title, f in s["findings"].items():
        verdict = "concentrated" if (f["perm_p_mutual_information"] or 1.0) < 0.05 else "not concentrated"
        print(
            f"{title}: errors {verdict} (concentration permutation p = {f['perm_p_mutual_information']:.3g}, "
            f"chi-square p = {f['chi2_p']:.3g}; tree-scan permutation p = {f['scan_p']:.3g}); "
            f"{f['blind_spots']} blind spot(s), {f['stable_blind_spots']} stable"
        )
        for r in _metadata_rows(rep, title):
            print(f"  metadata blind spot #{r['rank']}{'' if r['stable'] is not False else ' (unstable)'}: "
                  f"{r['description']}")  # fmt: skip
    print(f"wrote {paths['html']} and tables in {args.output}")
    return 0
