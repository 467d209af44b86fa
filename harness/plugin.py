"""The pytest plugin (entry point ``pytest11``): options, tiers, parametrization of claims, verdicts, records.

A claim module defines ``CLAIM`` (a harness.claim.Claim) and a test taking ``case``, ``claims`` and ``judge``.
The tiny tier (default) runs each claim on its planted models and asserts the planted verdict; the full tier
(``-m full --model X``) runs it on real models. Inconclusive verdicts get their own outcome ("I").
"""

from __future__ import annotations

import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.claim import Claim, ClaimCase
from harness.measure import MeasureConfig, Measurement
from harness.models import base_model_for, load_model, registry_identity
from harness.results import RunWriter, git_state, package_versions
from harness.store import MeasurementStore
from harness.tasks import FIXTURE_DATA, MissingDataError, TaskDataError, load_task
from harness.verdict import Verdict

STATE = pytest.StashKey["ClaimsSession"]()
VERDICT = pytest.StashKey[str]()
TASK_FOLDERS = {"xnli": "xnli", "facts": "mpararel", "editing": "mzsre"}
TINY_TASK = "xnli"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("neuron-claims", "claims about multilingual neurons")
    group.addoption("--model", help="full tier: alias (e.g. bloomz-7b1), hub id or local directory")
    group.addoption("--base-model", help="full tier: foundation model of --model (default: the registry pair)")
    group.addoption("--tasks", help="comma-separated tasks (xnli,facts,editing); default: each claim's tasks")
    group.addoption("--languages", help="comma-separated language codes (default: the task's languages)")
    group.addoption("--limit", type=int, help="first N items of each task (paper notebooks: 1000)")
    group.addoption("--dtype", help="float32, bfloat16, float16 (default: bfloat16 on CUDA, float32 on CPU)")
    group.addoption("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    group.addoption("--device-map", help="accelerate device map for models larger than one device, e.g. auto")
    group.addoption("--batch-size", type=int, default=16, help="rows per forward pass; halves on out-of-memory")
    group.addoption("--threshold", type=float, default=0.0, help="activation threshold (a neuron is active if A > t)")
    group.addoption("--epsilon", type=float, default=1e-3, help="conversion sets A <= t to t + epsilon")
    group.addoption("--positions", default="last", choices=("last", "all"), help="positions edited by interventions")
    group.addoption("--site", default="down_proj_input", choices=("down_proj_input", "gate"), help="neuron site")
    group.addoption("--data-dir", help="folder holding xnli/, mpararel/, mzsre/ in the hub/paper schemas")
    group.addoption("--report", default="reports", help="where run directories are written (default: reports)")
    group.addoption("--cache-dir", default=".cache/neuron-claims", help="measurement cache for resumable runs")
    group.addoption("--no-cache", action="store_true", help="ignore and do not write the measurement cache")
    group.addoption("--strict-claims", action="store_true", help="inconclusive verdicts fail")
    group.addoption("--seed", type=int, default=0, help="seed of the random control and the bootstrap")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tiny: claim checked on planted tiny models (default tier, CPU, offline)")
    config.addinivalue_line("markers", "full: claim checked on a real model (-m full --model NAME)")
    if "full" in (config.option.markexpr or "") and not config.getoption("model"):
        raise pytest.UsageError("-m full needs a model: pass --model with an alias (e.g. bloomz-7b1), a hub id or "
                                "a local directory")
    problems = _option_problems(config)
    if problems:
        raise pytest.UsageError("; ".join(problems))
    config.stash[STATE] = ClaimsSession(config)


def _option_problems(config: pytest.Config) -> list[str]:
    threshold, epsilon = config.getoption("threshold"), config.getoption("epsilon")
    limit, batch_size = config.getoption("limit"), config.getoption("batch_size")
    return [message for bad, message in (
        (not math.isfinite(threshold), f"--threshold must be a finite number, got {threshold}"),
        (not (math.isfinite(epsilon) and epsilon > 0), f"--epsilon must be a positive number, got {epsilon}"),
        (limit is not None and limit < 1, f"--limit must be at least 1, got {limit}"),
        (batch_size < 1, f"--batch-size must be at least 1, got {batch_size}"),
    ) if bad]


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


class ClaimsSession:
    """State of one pytest session: the two tiers' measurement stores and the run directory."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.writer: RunWriter | None = None
        self.records: list[dict[str, Any]] = []
        self._stores: dict[str, MeasurementStore] = {}
        self.data_error: str | None = None  # the first task data that could not be loaded while collecting

    def option(self, name: str) -> Any:
        return self.config.getoption(name)

    # -- parametrization -------------------------------------------------------------------------------------
    def cases(self, claim: Claim) -> list[ClaimCase]:
        cases = [ClaimCase(claim, "tiny", p.model, TINY_TASK, lang, p.base_model, p.expected)
                 for p in claim.planted
                 for lang in (self.tiny_languages() if claim.per_language else [None])]
        model = self.option("model")
        if model:
            base = self.option("base_model") or (self._registry_base(model) if claim.needs_base else None)
            selected = _split(self.option("tasks"))
            tasks = [t for t in claim.tasks if selected is None or t in selected]
            if claim.versus and selected is not None and claim.versus not in selected:
                tasks = []  # the comparison needs its second task
            for task in tasks:
                languages = self.full_languages(task) if claim.per_language else [None]
                cases += [ClaimCase(claim, "full", model, task, lang, base if claim.needs_base else None)
                          for lang in languages]
        return cases

    @staticmethod
    def _registry_base(model: str) -> str | None:
        try:
            return base_model_for(model)
        except ValueError:
            return None

    def tiny_languages(self) -> list[str]:
        return self.store("tiny").languages(TINY_TASK)

    def full_languages(self, task: str) -> list[str]:
        return self.store("full").languages(task)

    # -- measurements ------------------------------------------------------------------------------------------
    def store(self, tier: str) -> MeasurementStore:
        if tier not in self._stores:
            self._stores[tier] = self._tiny_store() if tier == "tiny" else self._full_store()
        return self._stores[tier]

    def _tiny_store(self) -> MeasurementStore:
        from fixtures.planted import (  # planted models are test fixtures, not library code
            PLANTED,
            build_planted,
        )

        store = MeasurementStore(
            lambda name: build_planted(PLANTED[name], {task: store.examples(task) for task in PLANTED[name].tasks}),
            lambda task: load_task(task, data_dir=FIXTURE_DATA / TASK_FOLDERS[task]),
            MeasureConfig(seed=self.option("seed")),
            identity=lambda name: {"planted": repr(PLANTED[name])}, cache_dir=None)
        return store

    def _full_store(self) -> MeasurementStore:
        data_dir = self.option("data_dir")
        config = MeasureConfig(threshold=self.option("threshold"), epsilon=self.option("epsilon"),
                               positions=self.option("positions"), batch_size=self.option("batch_size"),
                               seed=self.option("seed"))

        def examples(task: str) -> list:
            folder = Path(data_dir) / TASK_FOLDERS[task] if data_dir else None
            return load_task(task, languages=_split(self.option("languages")), limit=self.option("limit"),
                             data_dir=folder)

        def model(name: str) -> Any:
            return load_model(name, dtype=self.option("dtype"), device=self.option("device"),
                              site=self.option("site"), device_map=self.option("device_map"), data_dir=data_dir)

        def identity(name: str) -> dict[str, object]:
            path = Path(name)
            stamp = max((f.stat().st_mtime for f in path.iterdir()), default=0) if path.is_dir() else None
            return {"name": name, "local_mtime": stamp, "dtype": self.option("dtype"), "site": self.option("site"),
                    "device": self.option("device"), **registry_identity(name, data_dir)}

        cache = None if self.option("no_cache") else Path(self.option("cache_dir"))
        return MeasurementStore(model, examples, config, identity=identity, cache_dir=cache, progress=True)

    def measurement(self, case: ClaimCase, model: str | None = None, task: str | None = None,
                    languages: list[str] | None = None) -> Measurement:
        """The case's measurement, or another model's / task's; on ``languages`` only when given."""
        return self.store(case.tier).get(model or case.model, task or case.task,
                                         None if languages is None else tuple(languages))

    def common_languages(self, case: ClaimCase, *tasks: str) -> list[str]:
        """The case task's languages that ``tasks`` have too, in its order."""
        store = self.store(case.tier)
        return [lang for lang in store.languages(case.task) if all(lang in store.languages(t) for t in tasks)]

    # -- records -----------------------------------------------------------------------------------------------
    def run_writer(self) -> RunWriter:
        if self.writer is None:
            root = Path(self.option("report"))
            self.writer = RunWriter(root, {
                "command": " ".join(["pytest", *map(shlex.quote, self.config.invocation_params.args)]),
                "tier": "full" if self.option("model") else "tiny", "git": git_state(Path(self.config.rootpath)),
                "packages": package_versions(), "seeds": {"bootstrap": self.option("seed"),
                                                         "random_control": self.option("seed")},
                "options": {name: self.option(name) for name in (
                    "model", "base_model", "dtype", "device", "threshold", "site", "positions", "epsilon",
                    "limit", "tasks", "languages", "batch_size")}})
        return self.writer

    def record(self, case: ClaimCase, verdict: Verdict | None, seconds: float, error: str | None = None) -> None:
        claim = case.claim
        m = self.store(case.tier).peek(case.model, case.task)
        provenance: dict[str, Any] = {"model": case.model}
        params = dict(verdict.params) if verdict else {}
        timings = {"seconds": round(seconds, 3)}
        if m is not None:  # measurement choices go with the rule's parameters; the model's facts to provenance
            # (a kind of measurement without a threshold or epsilon, e.g. Kojima's language neurons, records None)
            provenance = {**m.model, "data_hash": m.data_hash,
                          **{name: m.config.get(name) for name in ("threshold", "positions", "epsilon")}}
            params |= {**m.config, **m.scoring}
            timings |= m.timings
        record = {
            "claim": claim.id, "title": claim.title, "instance": case.id, "tier": case.tier, "model": case.model,
            "base_model": case.base_model, "task": case.task, "language": case.language,
            "verdict": verdict.verdict if verdict else "error", "expected": case.expected,
            "reason": verdict.reason if verdict else error,
            "effect": {"name": verdict.effect_name, "value": verdict.effect, "ci": list(verdict.ci)} if verdict else None,
            "paper": {"ref": claim.paper_ref, "text": claim.paper_text,
                      "numbers": claim.paper_numbers(str(provenance.get("model_id", case.model)), case.task,
                                                     case.language)},
            "measured": verdict.measured if verdict else {}, "params": params, "provenance": provenance,
            "plots": verdict.plots if verdict else [], "tables": verdict.tables if verdict else [],
            "timings": timings, "error": error}
        record = _finite(record)
        self.records.append(record)
        self.run_writer().append(record)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


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
    metafunc.parametrize("case", [pytest.param(c, id=c.id, marks=getattr(pytest.mark, c.tier)) for c in cases])


def _case(item: pytest.Item) -> ClaimCase | None:
    case = getattr(item, "callspec", None) and item.callspec.params.get("case")
    return case if isinstance(case, ClaimCase) else None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Measure each model only under the intervention conditions its selected claims read, and run the claims
    that compare two models (IFT against base) last: every measurement of a model is then taken while it is
    loaded, and each model is loaded once (``-m full``: the model, then its base)."""
    state: ClaimsSession = config.stash[STATE]
    if state.data_error is not None:  # one clear message, not one collection error per claim module
        raise pytest.UsageError(f"neuron-claims: {state.data_error}")
    items.sort(key=lambda item: getattr(_case(item), "base_model", None) is not None)
    for item in items:
        case = _case(item)
        if case is not None:
            store = state.store(case.tier)
            for model in filter(None, (case.model, case.base_model)):
                store.conditions.setdefault((model, case.task), set()).update(case.claim.conditions)
                if case.claim.versus:
                    store.conditions.setdefault((model, case.claim.versus), set())


@pytest.fixture(scope="session")
def claims(request: pytest.FixtureRequest) -> ClaimsSession:
    return request.config.stash[STATE]


@pytest.fixture
def judge(request: pytest.FixtureRequest, claims: ClaimsSession, case: ClaimCase):
    """Record a verdict, then pass or fail: planted truth in the tiny tier, the verdict in the full tier."""
    start = time.perf_counter()

    def conclude(verdict: Verdict) -> None:
        claims.record(case, verdict, time.perf_counter() - start)
        request.node.stash[VERDICT] = verdict.verdict
        quote = f"{case.claim.id} [{case.id}]: {verdict.verdict}: {verdict.reason}"
        if case.expected is not None:
            assert verdict.verdict == case.expected, f"planted truth is {case.expected!r}, measured {quote}"
            return
        if verdict.verdict == "refuted":
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
            session.record(case, None, call.duration, error=f"{call.excinfo.typename}: {call.excinfo.value}")
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    if report.when == "call" and report.passed and ("claim_verdict", "inconclusive") in report.user_properties:
        return "inconclusive", "I", ("INCONCLUSIVE", {"yellow": True})
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    model = config.getoption("model")
    if not model:
        return ["neuron-claims: tiny tier (planted models, CPU); -m full --model NAME for a real model"]
    base = config.getoption("base_model") or "from registry"
    return [(f"neuron-claims: model {model} (base {base}), dtype {config.getoption('dtype') or 'auto'}, device "
             f"{config.getoption('device') or 'auto'}, site {config.getoption('site')}, threshold "
             f"{config.getoption('threshold')}")]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    session: ClaimsSession = config.stash[STATE]
    if not session.records:
        return
    terminalreporter.section("claims")
    claim_width = max(len(r["claim"]) for r in session.records)
    width = max(len(r["instance"]) for r in session.records)
    for r in session.records:
        planted = f" (planted: {r['expected']})" if r["expected"] else ""
        terminalreporter.write_line(f"{r['claim']:<{claim_width}}  {r['instance']:<{width}}  {r['verdict']}{planted}")
    if session.writer is not None:
        terminalreporter.write_line(f"report: {session.writer.dir / 'index.html'}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state: ClaimsSession | None = session.config.stash.get(STATE, None)
    if state is None or state.writer is None:
        return
    state.writer.finish(exitstatus=int(exitstatus))
    from harness.report import render_report, write_summary

    try:
        render_report(state.writer.dir)
        write_summary(state.writer.dir)
    except Exception as error:  # noqa: BLE001 - a report failure must not hide the claims' own outcome
        print(f"neuron-claims: could not render the report: {error}", file=sys.stderr)
