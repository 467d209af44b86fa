"""Kill rate of mutmut's mutants per rules module, from the results mutmut leaves in mutants/ (run after
``mutmut run``; .ci/mutation does both). Prints one line per module (killed of checked mutants, %) and the
survivors' names; exits 1 when a module is under ``--min`` (default 95%) or has mutants left unchecked."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code


def module_results(mutants: Path) -> dict[str, dict[str, str]]:
    """{module path: {mutant name: status}} from every ``*.py.meta`` under ``mutants``."""
    return {str(meta.relative_to(mutants))[:-len(".meta")]: {
        name: status_by_exit_code[code] for name, code in json.loads(meta.read_text())["exit_code_by_key"].items()}
        for meta in sorted(mutants.rglob("*.py.meta"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's folder (default: mutants)")
    parser.add_argument("--min", type=float, default=0.95, help="least kill rate per module (default 0.95)")
    args = parser.parse_args()
    results = module_results(args.mutants)
    if not results:
        print(f"no mutmut results under {args.mutants}/: run mutmut run first", file=sys.stderr)
        return 1
    failing = False
    for module, statuses in results.items():
        counts = Counter(statuses.values())
        checked = sum(counts.values()) - counts["not checked"]
        rate = counts["killed"] / checked if checked else 0.0
        under = rate < args.min or counts["not checked"] > 0
        failing |= under
        others = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if status != "killed")
        print(f"{module}: {counts['killed']} of {checked} killed ({100 * rate:.1f}%){'; ' + others if others else ''}"
              f"{'  <-- under ' + format(args.min, '.0%') if under else ''}")
        for name, status in statuses.items():
            if status not in ("killed", "not checked"):
                print(f"    {name}: {status}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
