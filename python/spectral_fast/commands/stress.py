"""``spectral-fast stress``: a model's sensitivity spectrum and a counterfactual test of each blind spot."""

from __future__ import annotations

import argparse

from spectral_fast.commands import check_output_dir, positive_int

HELP = "Stress-test a model: its sensitivity spectrum, and whether each blind spot's spectrum causes its errors."
EXAMPLE = """example:
  spectral-fast stress --model mypkg.models:score --images images/ --labels labels.csv --label-col pneumonia \\
      --report report/ --out stress/
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="MODEL",
                        help="the model: an ONNX file (its sidecar model.json beside it is read), a model.json "
                             "description, or MODULE:FUNCTION taking an (N, H, W) float32 batch, returning N scores")  # fmt: skip
    parser.add_argument("--model-config", metavar="JSON",
                        help="the ONNX model's sidecar (input size, channels, layout, scaling, output) when it is "
                             "not model.json beside the model")  # fmt: skip
    parser.add_argument("--input-size", type=positive_int, metavar="PX",
                        help="resize images to PX x PX for the model (overrides the sidecar and the ONNX input)")  # fmt: skip
    parser.add_argument("--images", required=True, metavar="DIR", help="folder of the labelled images")
    parser.add_argument("--labels", metavar="FILE",
                        help="labels (CSV or Parquet) with --id-col and --label-col; default: from --report "
                             "(the model's decision XOR the report's recorded error)")  # fmt: skip
    parser.add_argument("--id-col", default="id", metavar="C",
                        help="id column of --labels: paths relative to --images (default id)")  # fmt: skip
    parser.add_argument("--label-col", default="label", metavar="C", help="0/1 label column (default label)")
    parser.add_argument("--report", metavar="DIR",
                        help="a `spectral-fast report` folder: a counterfactual test per blind spot, and a section "
                             "added to its report.html")  # fmt: skip
    parser.add_argument("--finding", metavar="NAME", help="finding of the report (default: its first)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for stress.json, sensitivity.parquet, counterfactual.parquet, stress.html")  # fmt: skip
    parser.add_argument("--size", type=positive_int, metavar="PX",
                        help="resize every image to PX x PX (needed when the files differ in shape)")  # fmt: skip
    parser.add_argument("--threshold", type=float, help="decision threshold of the scores (default: the report's, "
                        "else 0.5)")  # fmt: skip
    parser.add_argument("--no-sensitivity", action="store_true", help="skip the sensitivity spectrum")
    parser.add_argument("--threads", type=positive_int, help="core threads (default: all cores)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="images per model call (default 32)")
    parser.add_argument("--n-boot", type=positive_int, default=300, help="bootstrap resamples (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of subsets, noise, controls, bootstrap (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="write into --out even when it is not empty")
    parser.add_argument("--quiet", action="store_true", help="print only errors and the final line")


def run(args: argparse.Namespace) -> int:
    from spectral_fast.render.stress_html import write_stress
    from spectral_fast.stress.models import load_model
    from spectral_fast.stress.run import run_stress

    check_output_dir(args.out, args.overwrite)
    model = load_model(args.model, sidecar=args.model_config, input_size=args.input_size, threads=args.threads)
    result = run_stress(
        model, args.images, args.labels, report=args.report, finding=args.finding, id_col=args.id_col,
        label_col=args.label_col, size=args.size, threshold=args.threshold, run_sensitivity=not args.no_sensitivity,
        batch_size=args.batch_size, threads=args.threads, n_boot=args.n_boot, seed=args.seed,
    )  # fmt: skip
    paths = write_stress(result, args.out, report_dir=args.report)
    if not args.quiet:
        print(f"{result.meta['n_images']} images, accuracy {result.meta['base_accuracy']:.3f} unchanged")
        for s in result.spots:
            print(f"blind spot {s['rank']}: {s['verdict']} ({s['reason']}); control: {s['control']['verdict']}")
    print(f"wrote {paths['html'].parent}")
    return 0
