"""One pytest session of claims: its options, the claim instances (cases) of each tier, the measurement stores
that serve every registered kind of measurement, the run directory and the baseline comparison."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.core.cache_damage import take_damaged
from harness.core.claim import Claim, ClaimCase
from harness.core.cores import available_cores
from harness.core.models import base_model_for, load_model, registry_identity, scale_model_for
from harness.core.papers import registered
from harness.core.shared_store import SharedStore
from harness.core.store import MeasurementStore, MeasureOptions
from harness.core.verdict import Verdict
from harness.planted.cache import PlantedCache
from harness.planted.prepare import (
    Preparer,
    Request,
    TinySettings,
    measurement_kind,
    tiny_store,
)
from harness.plugin import distributed
from harness.plugin.baseline import BaselineIndex, Match, compare
from harness.plugin.instances import instance_of, load_snapshot
from harness.plugin.records import build_record
from harness.plugin.results import RunWriter, git_state, new_run_id, package_versions
from harness.tasks import TASKS, MissingDataError, TaskDataError, load_task, task_spec

TINY_TASK = "xnli"  # the task the tiny tier's planted models answer


def _registered(pair_of: Callable[[str], str], model: str) -> str | None:
    """The registry's pair of ``model`` (base_model_for, scale_model_for), or None (the claim then skips)."""
    try:
        return pair_of(model)
    except ValueError:
        return None


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
        self.planted: PlantedCache | None = None  # made with the tiny store
        self.preparer: Preparer | None = None  # when background processes prepare the tiny tier's measurements
        self.prepared: list[dict[str, Any]] = []  # what they measured and built (run.json's work)
        self.damaged: list[dict[str, str]] = []  # the damaged cache entries the run's processes found and rebuilt
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
        cases = [ClaimCase(claim, "tiny", p.model, p.task or TINY_TASK, lang, p.base_model, p.scale_model,
                           p.expected_for(lang), p.controls)
                 for p in claim.planted
                 for lang in (self.tiny_languages(p.task or TINY_TASK) if claim.per_language else [None])]
        model = self.option("model")
        if model:
            base = (self.option("base_model") or _registered(base_model_for, model)) if claim.needs_base else None
            scale = (self.option("scale_model") or _registered(scale_model_for, model)) if claim.needs_scale else None
            selected = _split(self.option("tasks"))
            tasks = [t for t in claim.tasks if selected is None or t in selected]
            if claim.versus and selected is not None and claim.versus not in selected:
                tasks = []  # the comparison needs its second task
            for task in tasks:
                languages = self.full_languages(task) if claim.per_language else [None]
                cases += [ClaimCase(claim, "full", model, task, lang, base, scale) for lang in languages]
        return cases

    def tiny_languages(self, task: str = TINY_TASK) -> list[str]:
        return self.store("tiny").languages(task)

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
        store, self.planted = tiny_store(self.tiny_settings())
        return store

    def tiny_settings(self) -> TinySettings:
        return TinySettings(seed=self.option("seed"), scoring=self.option("scoring"),
                            cache_dir=None if self.option("no_cache") else Path(self.option("cache_dir")),
                            shared_dir=distributed.shared_dir(self.config), papers=registered())

    def prepare(self, cases: list[ClaimCase]) -> None:
        """Start background processes that take the tiny tier's measurements ahead of ``cases`` (in run order),
        when the machine has cores to spare (harness.planted.prepare)."""
        processes = self.option("prepare_processes")
        processes = available_cores() - 1 if processes is None else processes
        tiny = [case for case in cases if case.tier == "tiny"]
        if processes < 1 or not tiny or self.option("no_cache"):
            return
        requests = []
        for case in tiny:
            for model in case.models:
                kind = measurement_kind(model)
                if case.claim.versus:
                    languages = tuple(self.common_languages(case, case.claim.versus))
                    requests += [Request(kind, model, task, languages) for task in (case.task, case.claim.versus)]
                else:
                    languages = case.claim.tiny_languages
                    requests += [Request(kind, model, case.task, languages, shots) for shots in case.claim.shots]
        self.preparer = Preparer(self.tiny_settings(), self.store("tiny"), requests, processes)

    @property
    def device(self) -> str:
        device = self.option("device")
        return distributed.auto_device(self.config) if device in (None, "auto") else device

    def _full_store(self) -> MeasurementStore:
        data_dir = self.option("data_dir")
        config = MeasureOptions(threshold=self.option("threshold"), epsilon=self.option("epsilon"),
                                positions=self.option("positions"), batch_size=self.option("batch_size"),
                                seed=self.option("seed"), scoring=self.option("scoring"))

        def examples(task: str, shots: int) -> list:
            folder = Path(data_dir) / task_spec(task).folder if data_dir else None
            return load_task(task, languages=_split(self.option("languages")), limit=self.option("limit"),
                             data_dir=folder, shots=shots)

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
                    languages: list[str] | None = None, kind: str = "types", shots: int = 0) -> Any:
        """The case's measurement of ``kind`` (any registered kind), or another model's / task's; on ``languages``
        only when given; after ``shots`` in-context demonstrations when given (editing tasks)."""
        return self.store(case.tier).get(model or case.model, task or case.task,
                                         None if languages is None else tuple(languages), kind=kind, shots=shots)

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
                    "model", "base_model", "scale_model", "dtype", "device", "threshold", "site", "scoring",
                    "positions", "epsilon", "limit", "tasks", "languages", "batch_size")}}

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
        """What this process measured, which planted models it built or loaded and which damaged cache entries it
        found and rebuilt (run.json's ``work``)."""
        worker = distributed.worker_id(self.config)
        done = [{"worker": worker, "measured": m} for store in self._stores.values()
                for m in getattr(store, "measured", [])]
        if self.planted is not None:
            done += [{"worker": worker, "planted": name, "source": source}
                     for source, names in (("built", self.planted.built), ("cache", self.planted.loaded))
                     for name in names]
        done += [{"worker": worker, "damaged": entry} for entry in take_damaged()]
        return done + self.prepared

    def record(self, case: ClaimCase, verdict: Verdict | None, seconds: float,
               error: str | None = None) -> dict[str, Any]:
        """The run record of one claim instance (its provenance from the measurement it read last)."""
        return build_record(case, verdict, self.store(case.tier).peek(case.model, case.task), seconds, error)
