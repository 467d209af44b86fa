"""Command line: ``python -m harness report RUN [RUN ...] [--out DIR]`` renders index.html (one run: and its
summary.json) from run directories; ``python -m harness diff A B`` compares two runs (exit status 1 on regressions)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description="neuron-claims tools")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="render index.html from one run directory, or merge several")
    report.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN",
                        help="directories holding run.json and results.jsonl")
    report.add_argument("--out", type=Path, help="where the page goes (required with several runs; default: the run "
                        "directory, which also gets summary.json)")
    from harness import diff

    diff.add_arguments(commands.add_parser("diff", help="what changed between two runs; exit status 1 on regressions"))
    args = parser.parse_args(argv)
    if args.command == "diff":
        return _diff(args)
    return _report(parser, args)


def _report(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from harness.report import ReportInputError, render_merged, render_report, write_summary

    if len(args.run_dirs) > 1 and args.out is None:
        parser.error("merging several runs needs --out DIR")
    try:
        if args.out is None:
            print(render_report(args.run_dirs[0]))
            print(write_summary(args.run_dirs[0]))
        else:
            print(render_merged(args.run_dirs, args.out))
    except ReportInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _diff(args: argparse.Namespace) -> int:
    from harness import diff
    from harness.instances import InstanceInputError

    try:
        status, text = diff.run(args)
    except (InstanceInputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
