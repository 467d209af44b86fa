"""The pytest plugin (entry point ``pytest11``): options, tiers, parametrization of claims, verdicts, records.

A claim module defines ``CLAIM`` (a harness.claim.Claim) and a test taking ``case``, ``claims`` and ``judge``.
The tiny tier (default) runs each claim on its planted models and asserts the planted verdict; the full tier
(``-m full --model X``) runs it on real models. Inconclusive verdicts get their own outcome ("I").
"""

from __future__ import annotations

import json
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from harness import distributed
from harness.baseline import BaselineIndex, Match, compare, update_baseline
from harness.claim import Claim, ClaimCase
from harness.instances import instance_of, load_snapshot
from harness.measure import MeasureConfig, Measurement
from harness.models import base_model_for, load_model, registry_identity
from harness.options import option_problems
from harness.results import RunWriter, git_state, new_run_id, package_versions
from harness.shared_store import SharedStore
from harness.store import MeasurementStore
from harness.tasks import TASK_FOLDERS, TASKS, MissingDataError, TaskDataError, load_task
from harness.verdict import Verdict

STATE = pytest.StashKey["ClaimsSession"]()
VERDICT = pytest.StashKey[str]()
RECORD = pytest.StashKey[dict[str, Any]]()  # the item's run record, sent to the controller on its call report
POSITION = pytest.StashKey[int]()  # the item's place in the run's order (the same in every pytest-xdist worker)
TINY_TASK = "xnli"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("neuron-claims", "claims about multilingual neurons")
    group.addoption("--model", help="full tier: alias (e.g. bloomz-7b1), hub id or local directory")
    group.addoption("--base-model", help="full tier: foundation model of --model (default: the registry pair)")
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tiny: claim checked on planted tiny models (default tier, CPU, offline)")
    config.addinivalue_line("markers", "full: claim checked on a real model (-m full --model NAME)")
    if "full" in (config.option.markexpr or "") and not config.getoption("model"):
        raise pytest.UsageError("-m full needs a model: pass --model with an alias (e.g. bloomz-7b1), a hub id or "
                                "a local directory")
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
        self.run_id = distributed.controller_run_id(config) or new_run_id()  # one id, known to every worker
        self.controller = distributed.Controller(self.run_id)  # pytest-xdist: hooks of the controller's side
        self.planted: Any = None  # fixtures.planted_cache.PlantedCache, made with the tiny store
        self.preparer: Any = None  # fixtures.prepare.Preparer, when background processes prepare measurements
        self.prepared: list[dict[str, Any]] = []  # what they measured and built (run.json's work)
        self.baseline: BaselineIndex | None = None
        self.baseline_run: str | None = None
        self.baseline_comparison: dict[str, Any] | None = None  # the run's comparison, for run.json and the summary
        path = self.option("baseline")
        if path and Path(path).exists():
            snapshot = load_snapshot(Path(path))
            self.baseline = BaselineIndex(snapshot.instances, _split(self.option("baseline_ignore")) or ())
            self.baseline_run = snapshot.run_id

    def option(self, name: str) -> Any:
        return self.config.getoption(name)

    # -- parametrization -------------------------------------------------------------------------------------
    def cases(self, claim: Claim) -> list[ClaimCase]:
        cases = [ClaimCase(claim, "tiny", p.model, TINY_TASK, lang, p.base_model, p.expected_for(lang),
                           p.controls)
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

    def task_data_problem(self) -> str | None:
        """The first selected task (--tasks, or all) whose data does not load, in words; None when all load."""
        for task in _split(self.option("tasks")) or TASKS:
            try:
                self.full_languages(task)
            except (TaskDataError, MissingDataError) as error:
                return f"{error} (with -n, every selected task's data is checked before the workers start; " \
                       "--tasks selects the tasks)"
        return None

    # -- measurements ------------------------------------------------------------------------------------------
    def store(self, tier: str) -> MeasurementStore:
        if tier not in self._stores:
            self._stores[tier] = self._tiny_store() if tier == "tiny" else self._full_store()
        return self._stores[tier]

    def _tiny_store(self) -> MeasurementStore:
        from fixtures.prepare import tiny_store  # planted models are test fixtures, not library code

        store, self.planted = tiny_store(self.tiny_settings())
        return store

    def tiny_settings(self) -> Any:
        from fixtures.prepare import TinySettings

        return TinySettings(seed=self.option("seed"), scoring=self.option("scoring"),
                            cache_dir=None if self.option("no_cache") else Path(self.option("cache_dir")),
                            shared_dir=distributed.shared_dir(self.config))

    def prepare(self, cases: list[ClaimCase]) -> None:
        """Start background processes that take the tiny tier's measurements ahead of ``cases`` (in run order),
        when the machine has cores to spare (fixtures.prepare)."""
        from fixtures.prepare import Preparer, Request, available_cores, measurement_kind

        processes = self.option("prepare_processes")
        processes = available_cores() - 1 if processes is None else processes
        tiny = [case for case in cases if case.tier == "tiny"]
        if processes < 1 or not tiny or self.option("no_cache"):
            return
        requests = []
        for case in tiny:
            for model in filter(None, (case.model, case.base_model)):
                kind = measurement_kind(model)
                if case.claim.versus:
                    languages = tuple(self.common_languages(case, case.claim.versus))
                    requests += [Request(kind, model, task, languages) for task in (case.task, case.claim.versus)]
                else:
                    requests.append(Request(kind, model, case.task))
        self.preparer = Preparer(self.tiny_settings(), self.store("tiny"), requests, processes)

    @property
    def device(self) -> str:
        device = self.option("device")
        return distributed.auto_device(self.config) if device in (None, "auto") else device

    def _full_store(self) -> MeasurementStore:
        data_dir = self.option("data_dir")
        config = MeasureConfig(threshold=self.option("threshold"), epsilon=self.option("epsilon"),
                               positions=self.option("positions"), batch_size=self.option("batch_size"),
                               seed=self.option("seed"), scoring=self.option("scoring"))

        def examples(task: str) -> list:
            folder = Path(data_dir) / TASK_FOLDERS[task] if data_dir else None
            return load_task(task, languages=_split(self.option("languages")), limit=self.option("limit"),
                             data_dir=folder)

        def model(name: str) -> Any:
            return load_model(name, dtype=self.option("dtype"), device=self.device,
                              site=self.option("site"), device_map=self.option("device_map"), data_dir=data_dir)

        def identity(name: str) -> dict[str, object]:
            path = Path(name)
            stamp = max((f.stat().st_mtime for f in path.iterdir()), default=0) if path.is_dir() else None
            return {"name": name, "local_mtime": stamp, "dtype": self.option("dtype"), "site": self.option("site"),
                    "device": self.option("device"), **registry_identity(name, data_dir)}

        # --no-cache under pytest-xdist: the workers still share the run's own measurement directory
        cache = distributed.shared_dir(self.config) if self.option("no_cache") else Path(self.option("cache_dir"))
        return SharedStore(model, examples, config, identity=identity, cache_dir=cache, progress=True)

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
    def run_info(self) -> dict[str, Any]:
        """What run.json says about the run's settings (instances read their limit and languages from it)."""
        return {"run_id": self.run_id,
                "seeds": {"bootstrap": self.option("seed"), "controls": self.option("seed")},
                "options": {name: self.option(name) for name in (
                    "model", "base_model", "dtype", "device", "threshold", "site", "scoring", "positions",
                    "epsilon", "limit", "tasks", "languages", "batch_size")}}

    def run_writer(self) -> RunWriter:
        if self.writer is None:
            root = Path(self.option("report"))
            info = self.run_info()
            run_id = info.pop("run_id")
            self.writer = RunWriter(root, {
                "command": " ".join(["pytest", *map(shlex.quote, self.config.invocation_params.args)]),
                "tier": "full" if self.option("model") else "tiny", "git": git_state(Path(self.config.rootpath)),
                "packages": package_versions(), **info}, run_id=run_id)
        return self.writer

    def add(self, record: dict[str, Any]) -> None:
        """Keep and write one record (the controller, or a serial run)."""
        self.records.append(record)
        self.run_writer().append(record)

    def compare(self, record: dict[str, Any]) -> Match | None:
        """Compare a record with its baseline instance (None without --baseline); the record keeps the outcome."""
        if self.baseline is None:
            return None
        match = self.baseline.match(instance_of(record, self.run_info()))
        record["baseline"] = match.to_record(str(self.baseline_run))
        return match

    def compare_run(self) -> dict[str, Any]:
        """The whole run against the baseline, for run.json and the terminal: counts, and the instances that
        regressed, are new, changed settings or are missing."""
        assert self.baseline is not None
        info = self.run_info()
        comparison = compare([instance_of(r, info) for r in self.records], self.baseline.instances,
                             self.baseline.ignore)
        lines = [f"{m.status:<16}  {m.current.claim} [{m.current.instance}]: {'; '.join(m.changes)}".rstrip(": ")
                 for m in comparison.matches if m.status != "unchanged"]
        missing = [f"{i.claim} [{i.instance}]" for i in comparison.missing]
        lines += [f"{'missing':<16}  {name}" for name in missing]
        return {"path": self.option("baseline"), "run_id": self.baseline_run, "ignore": self.baseline.ignore,
                "counts": comparison.counts(), "lines": lines, "missing": missing}

    def work(self) -> list[dict[str, Any]]:
        """What this process measured and which planted models it built or loaded (run.json's ``work``)."""
        worker = distributed.worker_id(self.config)
        done = [{"worker": worker, "measured": m} for store in self._stores.values()
                for m in getattr(store, "measured", [])]
        if self.planted is not None:
            done += [{"worker": worker, "planted": name, "source": source}
                     for source, names in (("built", self.planted.built), ("cache", self.planted.loaded))
                     for name in names]
        return done + self.prepared

    def record(self, case: ClaimCase, verdict: Verdict | None, seconds: float,
               error: str | None = None) -> dict[str, Any]:
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
            "controls": verdict.controls if verdict else {},
            "timings": timings, "error": error}
        return json.loads(json.dumps(_finite(record), default=str, allow_nan=False))  # as results.jsonl has it


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null. NumPy scalars become Python numbers (records cross process
    boundaries under pytest-xdist, whose serializer knows only plain types)."""
    if isinstance(value, np.generic):
        value = value.item()
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
    metafunc.parametrize("case", [pytest.param(c, id=c.id, marks=[getattr(pytest.mark, c.tier),
                                                                  distributed.group_mark(c.model, c.task)])
                                  for c in cases])


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
    for position, item in enumerate(items):
        item.stash[POSITION] = position
        case = _case(item)
        if case is not None:
            store = state.store(case.tier)
            for model in filter(None, (case.model, case.base_model)):
                store.conditions.setdefault((model, case.task), set()).update(case.claim.conditions)
                if case.claim.versus:
                    store.conditions.setdefault((model, case.claim.versus), set())
    if not (distributed.is_worker(config) or distributed.distributing(config) or config.option.collectonly):
        state.prepare(list(filter(None, map(_case, items))))


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
            assert measured == expected, f"planted truth at the {control} is {expected!r}, measured {measured!r}: {quote}"
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


class RecordWriter:
    """Writes the records arriving on call reports, whichever process measured them (the controller, or a serial
    run; registered there only)."""

    def __init__(self, state: ClaimsSession) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "claim_record", None)
        if record is not None and report.when == "call":
            self.state.add(record)


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
        lines.append(f"neuron-claims: model {model} (base {base}), dtype {config.getoption('dtype') or 'auto'}, "
                     f"device {state.device}, site {config.getoption('site')}, threshold "
                     f"{config.getoption('threshold')}")
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
    state.writer.finish(exitstatus=int(exitstatus), work=state.controller.work or state.work(),
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
