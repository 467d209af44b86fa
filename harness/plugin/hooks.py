"""The pytest plugin (entry point ``pytest11``): options, tiers, parametrization of claims, verdicts, records.

A claim module defines ``CLAIM`` (a harness.core.claim.Claim) and a test taking ``case``, ``claims`` and ``judge``.
The tiny tier (default) runs each claim on its planted models and asserts the planted verdict; the full tier
(``-m full --model X``) runs it on real models. Inconclusive verdicts get their own outcome ("I").
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.core import papers
from harness.core.cache_damage import warning_line
from harness.core.claim import Claim, ClaimCase
from harness.core.verdict import Verdict
from harness.plugin import distributed
from harness.plugin.baseline import update_baseline
from harness.plugin.options import option_problems
from harness.plugin.records import RecordWriter
from harness.plugin.session import ClaimsSession
from harness.tasks import MissingDataError, TaskDataError

STATE = pytest.StashKey["ClaimsSession"]()
VERDICT = pytest.StashKey[str]()
RECORD = pytest.StashKey[dict[str, Any]]()  # the item's run record, sent to the controller on its call report
POSITION = pytest.StashKey[int]()  # the item's place in the run's order (the same in every pytest-xdist worker)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("neuron-claims", "claims about multilingual neurons")
    group.addoption("--model", help="full tier: alias (e.g. bloomz-7b1), hub id or local directory")
    group.addoption("--base-model", help="full tier: foundation model of --model (default: the registry pair)")
    group.addoption("--scale-model", help="full tier: a model of --model's family at another size (default: the "
                                          "registry pair, e.g. bloomz-7b1 with bloomz-560m)")
    group.addoption("--tasks", help="comma-separated tasks (xnli,facts,editing,editing-all-en); default: each "
                                    "claim's tasks")
    group.addoption("--languages", help="comma-separated language codes (default: the task's languages)")
    group.addoption("--limit", type=int, help="first N items of each task (paper notebooks: 1000)")
    group.addoption("--dtype", help="float32, bfloat16, float16 (default: bfloat16 on CUDA, float32 on CPU)")
    group.addoption("--device", help="auto, cpu, cuda, cuda:1 ... (default auto: cuda when available; with "
                    "pytest-xdist, worker gwN takes cuda:N)")
    group.addoption("--device-map", help="accelerate device map for models larger than one device: auto, balanced, "
                    "balanced_low_0 or sequential")
    group.addoption("--batch-size", type=int, default=16, help="rows per forward pass; halves on out-of-memory")
    group.addoption("--threshold", type=float, default=0.0, help="activation threshold (a neuron is active if A > t)")
    group.addoption("--epsilon", type=float, default=1e-3, help="conversion sets A <= t to t + epsilon")
    group.addoption("--positions", default="last", help="positions edited by interventions: last or all")
    group.addoption("--scoring", default="generate",
                    help="XNLI: first verbalizer in a greedy continuation (generate, the paper's) or a forced choice "
                         "among the verbalizers' first tokens (choice; drops are then measured against chance)")
    group.addoption("--site", default="down_proj_input", help="neuron site: down_proj_input or gate")
    group.addoption("--data-dir", help="folder holding xnli/, mpararel/, mzsre/ in the hub/paper schemas")
    group.addoption("--report", default="reports", help="where run directories are written (default: reports)")
    group.addoption("--cache-dir", default=".cache/neuron-claims", help="measurement cache for resumable runs")
    group.addoption("--no-cache", action="store_true", help="ignore and do not write the measurement cache")
    group.addoption("--prepare-processes", type=int, help="tiny tier: background processes that build planted "
                    "models and measure them ahead of the run (default: the cores but one; 0: none)")
    group.addoption("--strict-claims", action="store_true", help="inconclusive verdicts fail")
    group.addoption("--seed", type=int, default=0, help="seed of the random control and the bootstrap")
    group.addoption("--baseline", help="a run directory or its summary.json: every claim instance is compared with "
                    "the same instance there; a changed verdict, or an effect outside the baseline's interval, fails")
    group.addoption("--baseline-ignore", help="identity fields left out when matching instances with the baseline, "
                    "comma-separated: e.g. model (a fine-tuned checkpoint against its original) or dtype")
    group.addoption("--baseline-update", action="store_true", help="after the run, make it the baseline at "
                    "--baseline PATH (the run directory's files, or its summary.json when PATH ends in .json)")
    parser.addini(papers.INI_OPTION, type="linelist", default=[],
                  help="modules of further papers, one per line, each defining PAPER = harness.core.papers.Paper(...)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tiny: claim checked on planted tiny models (default tier, CPU, offline)")
    config.addinivalue_line("markers", "full: claim checked on a real model (-m full --model NAME)")
    if "full" in (config.option.markexpr or "") and not config.getoption("model"):
        raise pytest.UsageError("-m full needs a model: pass --model with an alias (e.g. bloomz-7b1), a hub id or "
                                "a local directory")
    try:
        papers.use(config.getini(papers.INI_OPTION))
        papers.papers()
    except papers.PaperRegistryError as error:
        raise pytest.UsageError(f"neuron-claims: {error}") from error
    if distributed.is_worker(config):
        torch.set_num_threads(1)  # workers share the machine's cores
    else:  # the controller (or a serial run) checked the options before any worker started
        problems = option_problems(config)
        if problems:
            raise pytest.UsageError("neuron-claims: " + "; ".join(problems))
    state = ClaimsSession(config)
    config.stash[STATE] = state
    if distributed.distributing(config) and config.getoption("model"):
        problem = state.task_data_problem()  # workers would each fail to collect; say it once, here
        if problem:
            raise pytest.UsageError(f"neuron-claims: {problem}")
    if not distributed.is_worker(config):
        config.pluginmanager.register(RecordWriter(state), "neuron-claims-records")
        config.pluginmanager.register(state.controller, "neuron-claims-xdist")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    claim = getattr(metafunc.module, "CLAIM", None)
    if not isinstance(claim, Claim) or "case" not in metafunc.fixturenames:
        return
    state: ClaimsSession = metafunc.config.stash[STATE]
    if state.data_error is not None:
        return  # the run stops after collection (pytest_collection_modifyitems)
    try:
        cases = state.cases(claim)
    except (TaskDataError, MissingDataError) as error:
        state.data_error = str(error)
        return
    metafunc.parametrize("case", [pytest.param(c, id=c.id, marks=[getattr(pytest.mark, c.tier),
                                                                  distributed.group_mark(c.model, c.task)])
                                  for c in cases])


def _case(item: pytest.Item) -> ClaimCase | None:
    case = getattr(item, "callspec", None) and item.callspec.params.get("case")
    return case if isinstance(case, ClaimCase) else None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Measure each model only under the intervention conditions its selected claims read, and run the claims
    that compare two models (IFT against base, two sizes) last: every measurement of a model is then taken while
    it is loaded, and each model is loaded once (``-m full``: the model, then its base, then its other size)."""
    state: ClaimsSession = config.stash[STATE]
    if state.data_error is not None:  # one clear message, not one collection error per claim module
        raise pytest.UsageError(f"neuron-claims: {state.data_error}")
    items.sort(key=_models_loaded_last)
    for position, item in enumerate(items):
        item.stash[POSITION] = position
        case = _case(item)
        if case is not None:
            store = state.store(case.tier)
            for model in case.models:
                store.conditions.setdefault((model, case.task), set()).update(case.claim.conditions)
                if case.claim.versus:
                    store.conditions.setdefault((model, case.claim.versus), set())
    if not (distributed.is_worker(config) or distributed.distributing(config) or config.option.collectonly):
        state.prepare(list(filter(None, map(_case, items))))


def _models_loaded_last(item: pytest.Item) -> int:
    """Run order: claims on the model alone, then those with its base, then those with its other size."""
    case = _case(item)
    return 0 if case is None else (case.base_model is not None) + 2 * (case.scale_model is not None)


@pytest.fixture(scope="session")
def claims(request: pytest.FixtureRequest) -> ClaimsSession:
    return request.config.stash[STATE]


@pytest.fixture
def judge(request: pytest.FixtureRequest, claims: ClaimsSession, case: ClaimCase):
    """Record a verdict, then pass or fail: planted truth in the tiny tier, the verdict in the full tier; with
    --baseline, a change since the baseline fails, and an unchanged verdict passes even when refuted."""
    start = time.perf_counter()

    def conclude(verdict: Verdict) -> None:
        record = claims.record(case, verdict, time.perf_counter() - start)
        match = claims.compare(record)
        request.node.stash[RECORD] = record
        request.node.stash[VERDICT] = verdict.verdict
        quote = f"{case.claim.id} [{case.id}]: {verdict.verdict}: {verdict.reason}"
        if case.expected is not None:
            assert verdict.verdict == case.expected, f"planted truth is {case.expected!r}, measured {quote}"
        for control, expected in case.expected_controls:
            measured = verdict.controls.get(control, {}).get("verdict")
            assert measured == expected, \
                f"planted truth at the {control} is {expected!r}, measured {measured!r}: {quote}"
        if match is not None and match.regression:
            pytest.fail(match.message(str(claims.baseline_run)), pytrace=False)
        if case.expected is not None:
            return
        if verdict.verdict == "refuted" and (match is None or not match.compared):
            paper = case.claim.paper_text
            pytest.fail(f"{quote}\n  paper ({case.claim.paper_ref}): {paper}\n  measured: {verdict.measured}",
                        pytrace=False)
        if verdict.verdict == "inconclusive" and claims.option("strict_claims"):
            pytest.fail(f"{quote} (--strict-claims)", pytrace=False)

    return conclude


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report = yield
    case = _case(item)
    if case is not None and report.when == "call":
        verdict = item.stash.get(VERDICT, None)
        report.user_properties.append(("claim_verdict", verdict or "error"))
        if verdict is None and call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception):
            session: ClaimsSession = item.config.stash[STATE]
            record = session.record(case, None, call.duration, error=f"{call.excinfo.typename}: {call.excinfo.value}")
            session.compare(record)
            item.stash[RECORD] = record
        record = item.stash.get(RECORD, None)
        if record is not None:  # finished in any order (pytest-xdist), shown in the run's order
            record["position"] = item.stash.get(POSITION, None)
        # the record rides on the report: pytest-xdist serializes it to the controller with the report's attributes
        report.claim_record = record  # type: ignore[attr-defined]  # extra attributes are part of a report's state
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    if report.when == "call" and report.passed and ("claim_verdict", "inconclusive") in report.user_properties:
        return "inconclusive", "I", ("INCONCLUSIVE", {"yellow": True})
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    model = config.getoption("model")
    lines = []
    if not model:
        lines.append("neuron-claims: tiny tier (planted models, CPU); -m full --model NAME for a real model")
    else:
        state: ClaimsSession = config.stash[STATE]
        base = config.getoption("base_model") or "from registry"
        scale = config.getoption("scale_model") or "from registry"
        lines.append(f"neuron-claims: model {model} (base {base}, other size {scale}), dtype "
                     f"{config.getoption('dtype') or 'auto'}, device {state.device}, site {config.getoption('site')}, "
                     f"threshold {config.getoption('threshold')}")
    if config.getoption("baseline"):
        lines.append(f"neuron-claims: comparing with baseline {config.getoption('baseline')}")
    return lines


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    session: ClaimsSession = config.stash[STATE]
    if not session.records:
        return
    terminalreporter.section("claims")
    claim_width = max(len(r["claim"]) for r in session.records)
    width = max(len(r["instance"]) for r in session.records)
    for r in sorted(session.records, key=lambda r: r.get("position") if isinstance(r.get("position"), int) else 0):
        planted = f" (planted: {r['expected']})" if r["expected"] else ""
        since = (r.get("baseline") or {}).get("status")
        since = f" [{since} since baseline]" if since and since != "unchanged" else ""
        terminalreporter.write_line(f"{r['claim']:<{claim_width}}  {r['instance']:<{width}}  {r['verdict']}"
                                    f"{planted}{since}")
    for entry in session.damaged:
        terminalreporter.write_line(warning_line(entry), yellow=True)
    if session.baseline_comparison is not None:
        _write_baseline_summary(terminalreporter, session)
    if session.writer is not None:
        terminalreporter.write_line(f"report: {session.writer.dir / 'index.html'}")


def _write_baseline_summary(terminalreporter: Any, session: ClaimsSession) -> None:
    comparison = session.baseline_comparison
    assert comparison is not None
    counts = ", ".join(f"{n} {status}" for status, n in comparison["counts"].items())
    terminalreporter.write_line(f"baseline {comparison['path']} (run {comparison['run_id']}): {counts}")
    for line in comparison["lines"]:
        terminalreporter.write_line(f"  {line}")
    if comparison.get("updated"):
        terminalreporter.write_line(f"baseline updated: {comparison['path']}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state: ClaimsSession | None = config.stash.get(STATE, None)
    if state is None:
        return
    if state.preparer is not None:
        state.prepared = state.preparer.stop()
    if distributed.is_worker(config):
        distributed.send_work(config, state.work())
        return
    state.controller.cleanup()
    if state.writer is None:
        return
    if state.baseline is not None:
        state.baseline_comparison = state.compare_run()
    work = state.controller.work or state.work()
    state.damaged = [entry["damaged"] for entry in work if "damaged" in entry]
    state.writer.finish(exitstatus=int(exitstatus), work=work,
                        **({"baseline": state.baseline_comparison} if state.baseline_comparison else {}))
    from harness.report import render_report, write_summary

    try:
        render_report(state.writer.dir)
        write_summary(state.writer.dir)
    except Exception as error:  # noqa: BLE001 - a report failure must not hide the claims' own outcome
        print(f"neuron-claims: could not render the report: {error}", file=sys.stderr)
        return
    if state.option("baseline_update"):
        update_baseline(state.writer.dir, Path(state.option("baseline")))
        if state.baseline_comparison is not None:
            state.baseline_comparison["updated"] = True
        else:
            state.baseline_comparison = {"path": state.option("baseline"), "run_id": None, "counts": {},
                                         "lines": [], "updated": True}
