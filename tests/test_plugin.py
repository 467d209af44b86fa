"""The pytest plugin end to end, through pytester: tiers, usage errors, verdict outcomes, records, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.models import build_tiny
from harness.tasks import FIXTURE_DATA

REPO = Path(__file__).resolve().parents[1]
SHARING, KOJIMA = REPO / "claims" / "sharing_matters", REPO / "claims" / "kojima"  # one folder per paper

FAKE_CLAIM = '''
import os
from harness.core.claim import Claim, Planted
from harness.core.verdict import Verdict

CLAIM = Claim(id="fake-{name}", title="a claim whose verdict the test sets", paper_ref="§0", paper_text="paper 1.0",
              tasks=("xnli",), per_language=False, planted=(Planted("planted-shared", "{verdict}"),),
              paper_numbers=lambda *_: {{"x": 1.0}})

def test_fake(case, judge):
    if "{verdict}" == "crash":
        raise RuntimeError("claim crashed")
    judge(Verdict("{verdict}", "because <script>x</script>", "effect", 0.5, (0.1, 0.9), {{"x": 0.5}}))
'''


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Session-scoped, so that what saving imports is imported before pytester snapshots sys.modules."""
    path = tmp_path_factory.mktemp("saved") / "model"
    model, tokenizer = build_tiny("tiny-bloom", seed=1)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _records(report_root: Path) -> list[dict]:
    (run_dir,) = [p for p in report_root.iterdir() if p.is_dir()]
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


def _write_fake(pytester: pytest.Pytester, verdict: str, name: str = "a") -> Path:
    return pytester.makepyfile(**{f"test_fake_{name}": FAKE_CLAIM.format(verdict=verdict, name=name)})


def test_full_tier_without_model_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(str(SHARING / "test_mid_layer_peak.py"), "-m", "full")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*-m full needs a model: pass --model*"])



def test_missing_data_stops_the_run_once_with_what_is_missing(pytester: pytest.Pytester, saved_model: Path) -> None:
    claims = [SHARING / f"test_{name}.py" for name in ("ablate_all_shared", "mid_layer_peak")]
    (pytester.path / "nowhere").mkdir()  # a data directory without the task's folder
    result = pytester.runpytest_subprocess(*map(str, claims), "-m", "full", "--model", str(saved_model),
                                           "--data-dir", str(pytester.path / "nowhere"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    missing = pytester.path / "nowhere" / "xnli"
    assert [line for line in result.errlines if line] == [
        f"ERROR: neuron-claims: xnli: data directory not found (needed for language 'en'): {missing}"]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_inconclusive_is_its_own_outcome_and_strict_makes_it_fail(pytester: pytest.Pytester,
                                                                   saved_model: Path) -> None:
    path = _write_fake(pytester, "inconclusive")
    args = [str(path), "-m", "full", "--model", str(saved_model), "--report", str(pytester.path / "r")]
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*1 inconclusive*"])
    assert "passed" not in result.stdout.lines[-1]
    strict = pytester.runpytest_subprocess(*args, "--strict-claims")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED


def test_refuted_fails_quoting_paper_and_measurement(pytester: pytest.Pytester, saved_model: Path) -> None:
    path = _write_fake(pytester, "refuted")
    result = pytester.runpytest_subprocess(str(path), "-m", "full", "--model", str(saved_model),
                                           "--report", str(pytester.path / "r"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*fake-a*refuted*", "*paper (§0): paper 1.0*", "*measured: {'x': 0.5}*"])


def test_a_crash_loses_no_other_record_and_the_report_is_written(pytester: pytest.Pytester,
                                                                saved_model: Path) -> None:
    crash, fine = _write_fake(pytester, "crash", "a"), _write_fake(pytester, "supported", "b")
    report = pytester.path / "r"
    result = pytester.runpytest_subprocess(str(crash), str(fine), "-m", "full", "--model", str(saved_model),
                                           "--report", str(report))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    records = {r["claim"]: r for r in _records(report)}
    assert records["fake-a"]["verdict"] == "error" and "claim crashed" in records["fake-a"]["error"]
    assert records["fake-b"]["verdict"] == "supported"
    (run_dir,) = [p for p in report.iterdir() if p.is_dir()]
    html = (run_dir / "index.html").read_text()
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x</script>" not in html
    assert json.loads((run_dir / "run.json").read_text())["finished"]
    assert json.loads((run_dir / "summary.json").read_text())["counts"]["error"] == 1


def test_tiny_tier_asserts_the_planted_truth(pytester: pytest.Pytester) -> None:
    """A claim that comes out 'supported' where 'refuted' is planted fails the tiny tier."""
    path = pytester.makepyfile(test_planted=FAKE_CLAIM.format(verdict="supported", name="p").replace(
        'Planted("planted-shared", "supported")', 'Planted("planted-shared", "refuted")'))
    result = pytester.runpytest_subprocess(str(path), "--report", str(pytester.path / "r"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*planted truth is 'refuted', measured fake-p*supported*"])


VERSUS_CLAIM = '''
from harness.core.claim import Claim, Planted
CLAIM = Claim(id="versus", title="t", paper_ref="§0", paper_text="p", tasks=("xnli", "editing"), versus="facts",
              per_language=False, planted=(Planted("planted-tasks", "supported"),))
def test_versus(case, judge):
    pass
'''


@pytest.mark.parametrize(("tasks", "expected"), [
    ((), ["planted-tasks-xnli-vs-facts", "model-xnli-vs-facts", "model-editing-vs-facts"]),
    (("--tasks", "xnli,facts"), ["planted-tasks-xnli-vs-facts", "model-xnli-vs-facts"]),
    (("--tasks", "xnli,editing"), ["planted-tasks-xnli-vs-facts"])])  # no facts: nothing to compare with
def test_a_claim_comparing_tasks_runs_only_where_both_are_selected(pytester: pytest.Pytester, saved_model: Path,
                                                                   tasks: tuple[str, ...], expected: list[str]) -> None:
    path = pytester.makepyfile(test_versus=VERSUS_CLAIM)
    result = pytester.runpytest_subprocess(str(path), "--collect-only", "-q", "--model", str(saved_model), *tasks)
    assert [line.split("[", 1)[1].rstrip("]") for line in result.outlines if "::test_versus[" in line] == expected


def test_claims_comparing_two_models_run_last_so_each_model_loads_once(pytester: pytest.Pytester,
                                                                       saved_model: Path) -> None:
    claims = [SHARING / f"test_{name}.py" for name in ("ablate_all_shared", "ift_raises_all_shared",
                                                               "mid_layer_peak")]
    result = pytester.runpytest_subprocess(*map(str, claims), "--collect-only", "-q", "--model", str(saved_model),
                                           "--base-model", str(saved_model), "--tasks", "xnli", "--languages", "en",
                                           "--data-dir", str(FIXTURE_DATA))
    ids = [line.split("[", 1)[1].rstrip("]") for line in result.outlines if "::test_" in line]
    pairs = [i for i, name in enumerate(ids) if "-vs-" in name]
    assert pairs and pairs == list(range(len(ids) - len(pairs), len(ids)))  # planted pairs and model pairs: last
    assert ids.index("planted-shared-xnli-en") < ids.index("model-xnli-en") < ids.index("model-xnli")  # files' order


@pytest.mark.slow
def test_full_tier_end_to_end_on_a_saved_model(pytester: pytest.Pytester, saved_model: Path) -> None:
    """Real claims on a locally saved tiny model, loaded by path: one record per instance, outcome = verdict."""
    report = pytester.path / "r"
    claims = [SHARING / f"test_{name}.py" for name in ("ablate_all_shared", "mid_layer_peak", "task_dependence",
                                                               "non_repeating")]
    result = pytester.runpytest_subprocess(
        *map(str, claims), "-m", "full", "--model", str(saved_model), "--tasks", "xnli,facts",
        "--languages", "en,de", "--limit", "4", "--data-dir", str(FIXTURE_DATA), "--report", str(report),
        "--no-cache", "-p", "no:randomly")
    records = _records(report)
    assert sorted(r["instance"] for r in records) == sorted(  # the mid-layer peak is claimed for XNLI and KE only
        [f"model-xnli-{lang}" for lang in ("en", "de")] + ["model-xnli", "model-xnli-vs-facts", "model-facts"])
    assert all(r["tier"] == "full" and r["provenance"]["model_id"] == str(saved_model) for r in records)
    outcomes = result.parseoutcomes()
    refuted = sum(r["verdict"] == "refuted" for r in records)
    assert outcomes.get("failed", 0) == refuted
    assert outcomes.get("inconclusive", 0) == sum(r["verdict"] == "inconclusive" for r in records)
    result.stdout.fnmatch_lines(["*neuron-claims: model*dtype*device*", "*report: *index.html"])


@pytest.mark.slow
def test_language_neuron_claims_end_to_end_on_a_saved_model(pytester: pytest.Pytester, saved_model: Path) -> None:
    """Kojima et al.'s claims in the full tier: the second kind of measurement is taken once per task, cached, and
    its choices are recorded with every instance."""
    report, cache = pytester.path / "r", pytester.path / "cache"
    claims = [KOJIMA / f"test_lsn_{name}.py" for name in ("first_last_layers", "low_overlap", "tampering")]
    args = [*map(str, claims), "-m", "full", "--model", str(saved_model), "--languages", "en,de,ru", "--limit", "6",
            "--data-dir", str(FIXTURE_DATA), "--cache-dir", str(cache), "-p", "no:randomly"]
    result = pytester.runpytest_subprocess(*args, "--report", str(report))
    records = _records(report)
    assert sorted(r["instance"] for r in records) == sorted(
        ["model-xnli", "model-facts"] * 2 + [f"model-xnli-{lang}" for lang in ("en", "de", "ru")])
    for record in records:
        assert record["provenance"]["site"] == "down_proj_input" and record["provenance"]["threshold"] is None
        assert record["params"]["pooling"] == "mean" and record["params"]["share"] == 0.002
        assert record["verdict"] in ("supported", "refuted", "inconclusive")
    assert len(list(cache.glob("*.pt"))) == 2  # one measurement per task, shared by the claims
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == sum(r["verdict"] == "refuted" for r in records)


@pytest.mark.slow
@pytest.mark.parametrize("scoring", ["generate", "choice"])
def test_accuracy_claims_on_a_random_model_are_inconclusive(pytester: pytest.Pytester, saved_model: Path,
                                                             scoring: str) -> None:
    """A random model cannot do XNLI: deactivation and conversion claims decline with that reason, whatever the
    scoring, instead of refuting the paper with a zero effect."""
    report = pytester.path / "r"
    claims = [SHARING / f"test_{name}.py" for name in ("ablate_all_shared", "convert_improves")]
    result = pytester.runpytest_subprocess(
        *map(str, claims), "-m", "full", "--model", str(saved_model), "--tasks", "xnli", "--languages", "en,de",
        "--limit", "12", "--data-dir", str(FIXTURE_DATA), "--report", str(report), "--no-cache", "--scoring",
        scoring, "-p", "no:randomly")
    records = _records(report)
    assert len(records) == 3
    for record in records:
        assert record["verdict"] == "inconclusive", record["reason"]
        assert "cannot do the task" in record["reason"]
        assert record["params"]["kind"] == scoring
    assert result.parseoutcomes().get("inconclusive") == 3
