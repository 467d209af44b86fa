"""Command line: ``python -m harness report <run-dir>`` re-renders index.html and summary.json of a run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description="neuron-claims tools")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="re-render index.html and summary.json from a run directory")
    report.add_argument("run_dir", type=Path, help="directory holding run.json and results.jsonl")
    args = parser.parse_args(argv)

    from harness.report import ReportInputError, render_report, write_summary

    try:
        html = render_report(args.run_dir)
        summary = write_summary(args.run_dir)
    except ReportInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(html)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
