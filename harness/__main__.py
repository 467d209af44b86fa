"""Command line: ``python -m harness report RUN [RUN ...] [--out DIR]`` renders index.html (one run: and its
summary.json) from run directories; ``python -m harness diff A B`` compares two runs (exit status 1 on regressions);
``python -m harness train-subject`` builds the subjects trained here (harness.subjects) ahead of a full-tier run."""

from __future__ import annotations

import argparse
import json
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
    from harness.plugin import diff

    diff.add_arguments(commands.add_parser("diff", help="what changed between two runs; exit status 1 on regressions"))
    train = commands.add_parser("train-subject", help="build (or find in the cache) the subjects trained here")
    train.add_argument("names", nargs="*", help="subjects to build (default: all, each after its parent)")
    train.add_argument("--data-dir", help="folder holding xnli/, mpararel/, mzsre/ as for the full tier (default: "
                                          "the pinned public mirrors and the project's XNLI fixture)")
    train.add_argument("--evaluate", type=int, metavar="N",
                       help="then print accuracy per task and language and neuron types on the first N examples")
    args = parser.parse_args(argv)
    if args.command == "diff":
        return _diff(args)
    if args.command == "train-subject":
        return _train_subject(args.names, args.data_dir, args.evaluate)
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
    from harness.plugin import diff
    from harness.plugin.instances import InstanceInputError

    try:
        status, text = diff.run(args)
    except (InstanceInputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return status


def _train_subject(names: list[str], data_dir: str | None, evaluate_limit: int | None) -> int:
    from harness.core.models import BASE_OF
    from harness.subjects import SUBJECTS
    from harness.subjects.build import MANIFEST, ensure_subject, load_subject
    from harness.tasks import MissingDataError

    unknown = [name for name in names if name not in SUBJECTS]
    if unknown:
        print(f"error: unknown subject(s) {', '.join(unknown)}; known: {', '.join(SUBJECTS)}", file=sys.stderr)
        return 2
    if evaluate_limit is not None and evaluate_limit < 1:
        print(f"error: --evaluate must be at least 1, got {evaluate_limit}", file=sys.stderr)
        return 2
    scores = {}
    for name in names or list(SUBJECTS):
        try:
            folder = ensure_subject(name, data_dir)
        except MissingDataError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        manifest = json.loads((folder / MANIFEST).read_text())
        training = manifest["training"]
        print(f"{name}: {folder}\n  {manifest['parameters']:,} parameters, {training['steps']} steps "
              f"({training['epochs']:.1f} epochs) in {training['seconds']:.0f} s on {manifest['recipe']['threads']} "
              f"thread(s), final loss {training['losses'][-1][1]:.3f}, weights sha256 {manifest['state_digest'][:16]}")
        if evaluate_limit is not None:
            from harness.subjects.evaluation import evaluate, format_scores

            scores[name] = evaluate(load_subject(name, data_dir=data_dir), data_dir, evaluate_limit)
            print(format_scores(name, scores[name], scores.get(BASE_OF.get(name, ""))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
