"""Command line: ``python -m harness report <run-dir>`` re-renders index.html and summary.json of a run;
``python -m harness train-subject`` builds the subjects trained here (harness.subjects) ahead of a full-tier run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description="neuron-claims tools")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="re-render index.html and summary.json from a run directory")
    report.add_argument("run_dir", type=Path, help="directory holding run.json and results.jsonl")
    train = commands.add_parser("train-subject", help="build (or find in the cache) the subjects trained here")
    train.add_argument("names", nargs="*", help="subjects to build (default: all, each after its parent)")
    train.add_argument("--data-dir", help="folder holding xnli/, mpararel/, mzsre/ as for the full tier (default: "
                                          "the pinned public mirrors and the project's XNLI fixture)")
    train.add_argument("--evaluate", type=int, metavar="N",
                       help="then print accuracy per task and language and neuron types on the first N examples")
    args = parser.parse_args(argv)
    if args.command == "train-subject":
        return _train_subject(args.names, args.data_dir, args.evaluate)

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


def _train_subject(names: list[str], data_dir: str | None, evaluate_limit: int | None) -> int:
    from harness.models import BASE_OF
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
