"""The ``spectral-fast`` command line: one module per subcommand in ``commands/``.

Each subcommand module defines ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Modules are imported only when their subcommand runs,
so ``--help`` stays fast. User errors print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from spectral_fast._version import __version__

# subcommand -> (module, one-line help); the help is here so --help imports nothing.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "profile": (
        "spectral_fast.commands.profile",
        "Profile folders, lists, globs or tables of images into one Parquet file.",
    ),
    "report": (
        "spectral_fast.commands.report",
        "Find, test and explain the spectral clusters where a model's errors concentrate.",
    ),
    "predict": ("spectral_fast.commands.predict", "Per-image failure risk and expected accuracy of unlabeled images."),
    "monitor": (
        "spectral_fast.commands.monitor",
        "Compare a new batch with a report's reference; verdict, JSON + HTML.",
    ),
    "stress": (
        "spectral_fast.commands.stress",
        "Stress-test a model: its sensitivity spectrum, and whether each blind spot's spectrum causes its errors.",
    ),
    "demo": (
        "spectral_fast.commands.demo",
        "Run the built-in demo: phantoms, a classifier, its hidden acquisition failures, and the report finding them.",
    ),
}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spectral-fast",
        description="Spectral profiles of chest X-rays and the blind spots of a classifier.",
        epilog="example:\n  spectral-fast demo -o demo/\n  spectral-fast COMMAND --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in SUBCOMMANDS.items():
        # add_help=False: "COMMAND --help" must reach the module's own parser, which knows the options.
        sub.add_parser(name, help=help_text, description=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    # Parse once to find the subcommand, then let its module add its own arguments.
    known, _ = parser.parse_known_args(argv)
    module = importlib.import_module(SUBCOMMANDS[known.command][0])
    prog = f"spectral-fast {known.command}"
    sub_parser = argparse.ArgumentParser(
        prog=prog,
        description=SUBCOMMANDS[known.command][1],
        epilog=module.EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(sub_parser)
    args = sub_parser.parse_args(argv[argv.index(known.command) + 1 :])
    from spectral_fast._shared import progress
    from spectral_fast.errors import SpectralFastError

    progress.set_quiet(getattr(args, "quiet", False))
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(prog)
            return int(module.run(args))
    except (SpectralFastError, FileNotFoundError) as exc:
        print(f"spectral-fast {known.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spectral-fast {known.command}: interrupted", file=sys.stderr)
        return 130


def _one_line_warning(prog: str):
    """``warnings.showwarning`` for the CLI: ``spectral-fast CMD: warning: message``, no source line."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"{prog}: warning: {text}", file=sys.stderr)

    return show


if __name__ == "__main__":
    raise SystemExit(main())
