"""``--baseline`` through pytest: a changed verdict fails quoting both runs, an unchanged one passes (even refuted),
a missing instance is listed, ``--baseline-update`` makes the run the new baseline (created when missing)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_plugin import saved_model  # noqa: F401 - a session fixture shared with the plugin's tests

from harness.__main__ import main

FAKE = '''
import os
from harness.core.claim import Claim, Planted
from harness.core.verdict import Verdict

CLAIM = Claim(id="fake-{name}", title="a claim whose verdict the environment sets", paper_ref="§0",
              paper_text="paper", tasks=("xnli",), per_language=False, planted=())

def test_fake(case, judge):
    verdict = os.environ.get("FAKE_VERDICT_{name}", "supported")
    judge(Verdict(verdict, "set by the test", "effect", float(os.environ.get("FAKE_EFFECT_{name}", "0.5")),
                  (0.4, 0.6)))
'''


@pytest.fixture
def fakes(pytester: pytest.Pytester) -> dict[str, str]:
    return {name: str(pytester.makepyfile(**{f"test_fake_{name}": FAKE.format(name=name)})) for name in "ab"}


def _run(pytester: pytest.Pytester, model: Path, report: str, *args: str, **verdicts: str) -> tuple:
    with pytest.MonkeyPatch.context() as env:
        for name, value in verdicts.items():
            env.setenv(f"FAKE_{name}", value)
        result = pytester.runpytest_subprocess(*args, "-m", "full", "--model", str(model),
                                               "--report", str(pytester.path / report))
    (run_dir,) = (pytester.path / report).iterdir()
    return result, run_dir


def _lines_in(result: pytest.RunResult, lines: list[str]) -> None:
    """Each line is a whole line of the output (no glob: instance ids hold brackets)."""
    output = result.outlines
    for line in lines:
        assert line in output, f"{line!r} not in\n" + "\n".join(output)


def test_baseline_flipped_unchanged_missing_and_update(pytester: pytest.Pytester, fakes: dict[str, str],
                                                       saved_model: Path,  # noqa: F811 - the fixture, imported above
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    base = pytester.path / "ci-baseline"  # made by the first run
    first, first_dir = _run(pytester, saved_model, "r1", fakes["a"], fakes["b"], "--baseline", str(base),
                            "--baseline-update")
    assert first.ret == pytest.ExitCode.OK
    _lines_in(first, [f"baseline updated: {base}"])
    assert sorted(p.name for p in base.iterdir()) == ["index.html", "results.jsonl", "run.json", "summary.json"]
    assert (base / "results.jsonl").read_text() == (first_dir / "results.jsonl").read_text()

    flipped, run_dir = _run(pytester, saved_model, "r2", fakes["a"], "--baseline", str(base), VERDICT_a="refuted")
    assert flipped.ret == pytest.ExitCode.TESTS_FAILED
    _lines_in(flipped, [
        f"fake-a [model-xnli] changed since baseline {first_dir.name}: verdict supported -> refuted",
        f"  baseline ({first_dir.name}): supported, effect 0.5 [0.4, 0.6]: set by the test",
        f"  this run ({run_dir.name}): refuted, effect 0.5 [0.4, 0.6]: set by the test",
        "fake-a  model-xnli  refuted [regression since baseline]",
        f"baseline {base} (run {first_dir.name}): 0 unchanged, 1 regression, 0 new, 0 settings changed, 1 missing",
        "  regression        fake-a [model-xnli]: verdict supported -> refuted",
        "  missing           fake-b [model-xnli]"])
    info = json.loads((run_dir / "run.json").read_text())
    assert info["baseline"]["missing"] == ["fake-b [model-xnli]"] and info["baseline"]["counts"]["regression"] == 1
    (record,) = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert record["baseline"] == {"run_id": first_dir.name, "status": "regression", "verdict": "supported",
                                  "effect": 0.5, "ci": [0.4, 0.6], "changes": ["verdict supported -> refuted"]}
    html = (run_dir / "index.html").read_text()
    assert "<th>since baseline</th>" in html and "1 baseline instance(s) not in this run" in html

    # What a CI script runs on the two run directories: status 1 on the regression, 0 for a run against itself.
    assert main(["diff", str(base), str(run_dir)]) == 1
    assert main(["diff", str(base), str(first_dir)]) == 0
    table = capsys.readouterr().out
    assert re.search(r"REGRESSION\s+fake-a\s+model-xnli\s+supported -> refuted", table)
    assert re.search(r"missing\s+fake-b\s+model-xnli", table)

    # The refuted run as the baseline: the same refuted verdict passes, since nothing changed.
    unchanged, _ = _run(pytester, saved_model, "r3", fakes["a"], "--baseline", str(run_dir), VERDICT_a="refuted")
    assert unchanged.ret == pytest.ExitCode.OK, unchanged.stdout.str()
    _lines_in(unchanged, [(f"baseline {run_dir} (run {run_dir.name}): 1 unchanged, 0 regression, 0 new, "
                          "0 settings changed, 0 missing")])

    # An effect outside the interval fails too; --baseline-update then makes this run the baseline (summary.json).
    summary = base / "summary.json"
    moved, moved_dir = _run(pytester, saved_model, "r4", fakes["a"], fakes["b"], "--baseline", str(summary),
                            "--baseline-update", EFFECT_b="0.7")
    assert moved.ret == pytest.ExitCode.TESTS_FAILED
    _lines_in(moved, [(f"fake-b [model-xnli] changed since baseline {first_dir.name}: effect 0.7 outside the "
                       "baseline's interval [0.4, 0.6]"), f"baseline updated: {summary}"])
    assert json.loads(summary.read_text())["run_id"] == moved_dir.name
    again, _ = _run(pytester, saved_model, "r5", fakes["a"], fakes["b"], "--baseline", str(summary),
                    EFFECT_b="0.7")
    assert again.ret == pytest.ExitCode.OK
