"""The `vidbench` command: offline comparison, model listing, environment check, history.

Each subcommand lives in its own module and is imported only when it runs, so `vidbench
models` does not pay for pandas and `vidbench history` does not pay for torch's zoo.
Exit status (docs/exit-codes.md): 0 fine, 1 a gate failed (compare) or `--strict` warnings
(env), 2 bad input: every InputError of the loaders, one line, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pytest_vidbench.cli._common import BAD_INPUT, CliError, one_line
from pytest_vidbench.store.schema import InputError

__all__ = ["BAD_INPUT", "CliError", "build_parser", "main"]


def _compare_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="judge a results file against a baseline file or earlier results",
        description=(
            "Judge NEW (a --vidbench-json results file) with the run's verdict engine, "
            "offline. BASE is one baseline file (baselines/<environment>.json, as it was "
            "before the run), or one or more results files, oldest first, each one run of "
            "history. Thresholds come from [tool.vidbench] in ./pyproject.toml."))
    p.add_argument("files", nargs="+", metavar="FILE", help="BASE [BASE ...] NEW")
    p.add_argument("--markdown", metavar="PATH", help="write the PR-comment Markdown here")
    p.add_argument("--html", metavar="PATH", help="write the HTML report here")
    p.add_argument("--json", metavar="PATH",
                   help="write NEW with this comparison's verdicts as a results file")
    p.add_argument("--report-only", action="store_true",
                   help="exit 0 even when there are regressions")


EPILOG = """exit status:
  0  success (compare: no regression)
  1  compare: a regression (the gate failed) or an interrupted run's file; env --strict: warnings
  2  bad input: a file, flag or [tool.vidbench] setting that cannot be used (one line
     on stderr names the file, the field and the fix)
see docs/exit-codes.md"""


def _merge_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "merge", help="merge the results files of a sharded run into one",
        description="Merge results files (--vidbench-json) of one run split over several "
        "processes or machines. Refuses shards of different environments or commits, and "
        "results that appear in two shards. `vidbench compare` reads the merged file.")
    p.add_argument("files", nargs="+", metavar="FILE", help="the shards' results files")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="write the merged results file here")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidbench", description="pytest-vidbench tools (benchmarks run with "
        "`pytest benchmarks/ --vidbench`)", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _compare_parser(sub)
    _merge_parser(sub)
    sub.add_parser(
        "models", help="list the built-in and configured models (builds nothing)",
        description="Built-in models and those in [tool.vidbench] of ./pyproject.toml. "
        "Generators registered in conftest.py are listed by "
        "`pytest benchmarks/ --vidbench --collect-only -q`.")
    p = sub.add_parser("env", help="environment fingerprint and measurement health check")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    p = sub.add_parser("history", help="baseline history as a table (pandas)")
    p.add_argument("--baselines", metavar="DIR",
                   help="baseline directory (default: [tool.vidbench] baselines, else baselines)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", metavar="PATH", help="write CSV here instead of printing")
    out.add_argument("--parquet", metavar="PATH", help="write Parquet here (needs pyarrow)")
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "compare":
        from pytest_vidbench.cli.compare import run_compare

        return run_compare(args)
    if args.command == "models":
        from pytest_vidbench.cli.models import run_models

        return run_models(args)
    if args.command == "merge":
        from pytest_vidbench.cli.merge import run_merge

        return run_merge(args)
    if args.command == "env":
        from pytest_vidbench.cli.env import run_env

        return run_env(args)
    from pytest_vidbench.cli.history import run_history

    return run_history(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage errors (2) and --help (0): return, don't raise
        return exit_.code if isinstance(exit_.code, int) else BAD_INPUT
    try:
        return _dispatch(args)
    # Every loader's error is an InputError naming its file: one line, never a traceback.
    except InputError as error:
        print(f"vidbench {args.command}: error: {one_line(str(error))}", file=sys.stderr)
        return BAD_INPUT
