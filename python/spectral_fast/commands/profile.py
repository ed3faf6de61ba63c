"""``spectral-fast profile``: profile folders, lists, globs or tables of images into one Parquet file."""

from __future__ import annotations

import argparse
import sys

HELP = "Profile every image of folders, lists, globs or Parquet/Arrow tables into one Parquet file (resumable)."
EXAMPLE = """example:
  spectral-fast profile images/ -o profiles.parquet
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="folder (recursive), image file, text file of paths (.txt/.lst/.list), glob, "
        "or Parquet/Arrow IPC file with an id and an encoded-bytes column",
    )
    parser.add_argument("-o", "--output", required=True, metavar="PROFILES.parquet", help="Parquet file to write")
    parser.add_argument(
        "--size", type=int, default=None, help="resize to SIZE x SIZE before the FFT (default: native grid)"
    )
    parser.add_argument("--bands", type=int, default=32, help="number of radial bands (default: 32)")
    parser.add_argument("--spacing", choices=("log", "linear"), default="log", help="band edge spacing (default: log)")
    parser.add_argument("--window", choices=("hann", "none"), default="hann", help="window (default: hann)")
    parser.add_argument(
        "--no-artefacts",
        dest="artefacts",
        action="store_false",
        help="leave out the artefact feature columns (jpeg_block, peak_max, ...), which add about 20-30%% "
        "to the run time; the other columns are the same "
        "(spectral-fast report --artefacts can add them later from the images)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="worker threads (default: SPECTRAL_FAST_THREADS or all cores); "
        "with --engine ray: CPUs and threads per Ray task (default: 1)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="files per batch; a kill loses at most the two in flight "
        "(default: 64, then as many as take about half a second, at most 4096)",
    )
    parser.add_argument("--resume", action="store_true", help="skip images already in the output or its journal")
    parser.add_argument(
        "--retry-errors",
        action="store_true",
        help="with --resume: profile again the images whose earlier rows are errors (e.g. a transient I/O error "
        "or a file since repaired) and replace those rows; nothing else is recomputed",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output or journal")
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help="larger images are error rows (default: what fits in a thread's share of --max-memory, "
        "at most 100000000); kept as given by using fewer threads",
    )
    parser.add_argument(
        "--max-memory",
        default=None,
        metavar="SIZE",
        help="memory budget of the run, e.g. 2G or 512M: threads and --max-pixels are chosen to stay under it "
        "(default: half the available memory, at most 4G; local engine only)",
    )
    parser.add_argument("--include", action="append", metavar="GLOB", help="keep only ids matching GLOB (repeatable)")
    parser.add_argument("--exclude", action="append", metavar="GLOB", help="drop ids matching GLOB (repeatable)")
    parser.add_argument("--id-column", default=None, help="id column of table inputs (default: id, else path)")
    parser.add_argument(
        "--bytes-column",
        default=None,
        help="encoded-image column of table inputs (default: bytes, else the only binary one)",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="where to profile: this machine, or a Ray cluster (needs spectral-fast[ray]; "
        "every node must see the input paths); same output either way (default: local)",
    )
    parser.add_argument(
        "--address", default=None, help="Ray cluster address for --engine ray (default: RAY_ADDRESS, else a local Ray)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")


def run(args: argparse.Namespace) -> int:
    from spectral_fast.ingest.local import profile_archive

    try:
        summary = profile_archive(
            args.inputs,
            args.output,
            size=args.size,
            bands=args.bands,
            spacing=args.spacing,
            window=args.window,
            artefacts=args.artefacts,
            threads=args.threads,
            batch_size=args.batch_size,
            resume=args.resume,
            retry_errors=args.retry_errors,
            overwrite=args.overwrite,
            max_pixels=args.max_pixels,
            max_memory=args.max_memory,
            include=args.include,
            exclude=args.exclude,
            id_column=args.id_column,
            bytes_column=args.bytes_column,
            progress=False if args.quiet else None,
            engine=args.engine,
            address=args.address,
        )
    except OSError as exc:  # e.g. the output folder is not writable, or the disk is full
        print(f"spectral-fast profile: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"spectral-fast profile: interrupted; finished batches are kept in {args.output}.parts, "
            "run the same command with --resume to continue",
            file=sys.stderr,
        )
        return 130
    if not args.quiet and summary.memory is not None:
        print(summary.memory.line())
    if summary.total_ok == 0:
        print(
            f"spectral-fast profile: error: no image could be profiled ({summary.errors} errors; "
            f"see the error column of {args.output})",
            file=sys.stderr,
        )
        return 1
    if not args.quiet:
        print(summary.line())
    return 0
