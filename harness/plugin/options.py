"""Checks of the plugin's options, run before collection: each bad value is one line naming it and the valid ones.

``CHECKS`` maps an option's dest to a function (value, config) -> the problem in words, or None; checking a new
option is one line there. A flag (store_true) has no value to be wrong and no check.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

Check = Callable[[Any, pytest.Config], str | None]

DTYPES = ("float32", "bfloat16", "float16")
DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")  # accelerate's named strategies
POSITIONS = ("last", "all")
# as harness.papers.sharing_matters.measurement.SCORINGS (which imports the models; this module stays light)
SCORINGS = ("generate", "choice")
SITES = ("down_proj_input", "gate")


def one_of(valid: Iterable[str]) -> Check:
    choices = tuple(valid)
    return lambda value, _config: None if value is None or value in choices else f"choose one of {', '.join(choices)}"


def comma_list(valid: Callable[[], Iterable[str]]) -> Check:
    """A comma-separated list whose every item is in ``valid()`` (read when checked: registries may grow)."""
    def check(value: str | None, _config: pytest.Config) -> str | None:
        if value is None:
            return None
        choices = tuple(valid())
        items = [item.strip() for item in value.split(",")]
        unknown = [item for item in items if item not in choices]
        if not any(items) or unknown:
            return f"unknown {', '.join(map(repr, unknown)) or 'empty list'}; valid: {', '.join(choices)}"
        return None
    return check


def at_least(low: int) -> Check:
    return lambda value, _config: None if value is None or value >= low else f"must be at least {low}"


def finite(value: float, _config: pytest.Config) -> str | None:
    return None if math.isfinite(value) else "must be a finite number"


def positive(value: float, _config: pytest.Config) -> str | None:
    return None if math.isfinite(value) and value > 0 else "must be a positive number"


def existing_dir(value: str | None, _config: pytest.Config) -> str | None:
    return None if value is None or Path(value).is_dir() else "is not a directory"


def dir_or_absent(value: str | None, _config: pytest.Config) -> str | None:
    return None if value is None or not Path(value).exists() or Path(value).is_dir() else \
        "exists and is not a directory"


def model(value: str | None, _config: pytest.Config) -> str | None:
    """An alias, tiny model, local directory or hub id whose configuration loads and whose architecture we know."""
    if value is None:
        return None
    from transformers import AutoConfig

    from harness.core.models import TINY_MODELS, resolve_model_id
    from harness.core.sites import FAMILIES
    from harness.subjects import SUBJECTS

    if value in TINY_MODELS or value in SUBJECTS:  # built here (a subject on first use, from --data-dir)
        return None
    try:
        model_id = resolve_model_id(value)
    except ValueError as error:
        return str(error)
    try:
        with _quiet("huggingface_hub", "transformers"):  # its retries' warnings would break the one line
            config = AutoConfig.from_pretrained(model_id)
    except (OSError, ValueError) as error:
        return f"cannot read its configuration ({_first_line(error)}); valid: an alias, a local model directory " \
               "or a hub id you can download"
    if config.model_type not in FAMILIES:
        return f"unsupported model type {config.model_type!r}; supported: {', '.join(sorted(FAMILIES))}"
    return None


def base_model(value: str | None, config: pytest.Config) -> str | None:
    if value is not None and not config.getoption("model"):
        return "needs --model (the instruction-tuned model it is the base of)"
    return model(value, config)


def scale_model(value: str | None, config: pytest.Config) -> str | None:
    if value is not None and not config.getoption("model"):
        return "needs --model (the model it is another size of)"
    if value is not None and value == config.getoption("model"):
        return "names --model itself; valid: a model of its family at another size"
    return model(value, config)


def device(value: str | None, _config: pytest.Config) -> str | None:
    if value in (None, "auto"):
        return None
    n_cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    valid = ", ".join(["auto", "cpu", *(["cuda", *(f"cuda:{i}" for i in range(n_cuda))] if n_cuda else [])])
    try:
        parsed = torch.device(value)
    except (RuntimeError, ValueError):
        return f"not a device; valid: {valid}"
    if parsed.type == "cuda" and not n_cuda:
        return f"CUDA is not available on this machine; valid: {valid}"
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= n_cuda:
        return f"this machine has {n_cuda} CUDA device(s); valid: {valid}"
    if parsed.type not in ("cpu", "cuda"):
        return f"unsupported device type {parsed.type!r}; valid: {valid}"
    return None


def device_map(value: str | None, config: pytest.Config) -> str | None:
    if value is None:
        return None
    if value not in DEVICE_MAPS:
        return f"choose one of {', '.join(DEVICE_MAPS)}"
    if (config.getoption("numprocesses", None) or 0) > 1:
        return "spreads one model over every device, while -n gives each worker a device of its own: use one of them"
    return None


def baseline(value: str | None, config: pytest.Config) -> str | None:
    if value is None or (config.getoption("baseline_update") and not Path(value).exists()):
        return None
    from harness.plugin.instances import InstanceInputError, load_snapshot

    try:
        load_snapshot(Path(value))
    except InstanceInputError as error:
        return f"{error}; valid: a run directory (reports/<run-id>) or its summary.json"
    return None


def baseline_ignore(value: str | None, _config: pytest.Config) -> str | None:
    from harness.plugin.baseline import check_ignore

    try:
        check_ignore(item.strip() for item in (value or "").split(",") if item.strip())
    except ValueError as error:
        return str(error)
    return None


def baseline_update(value: bool, config: pytest.Config) -> str | None:
    return "needs --baseline PATH (where the new baseline goes)" if value and not config.getoption("baseline") else None


def _tasks() -> Iterable[str]:
    from harness.tasks import TASKS

    return TASKS


def _languages() -> Iterable[str]:
    from harness.tasks import LANGUAGES

    return LANGUAGES


CHECKS: dict[str, Check] = {
    "model": model,
    "base_model": base_model,
    "scale_model": scale_model,
    "tasks": comma_list(_tasks),
    "languages": comma_list(_languages),
    "limit": at_least(1),
    "dtype": one_of(DTYPES),
    "device": device,
    "device_map": device_map,
    "batch_size": at_least(1),
    "threshold": finite,
    "epsilon": positive,
    "positions": one_of(POSITIONS),
    "scoring": one_of(SCORINGS),
    "site": one_of(SITES),
    "data_dir": existing_dir,
    "report": dir_or_absent,
    "cache_dir": dir_or_absent,
    "seed": at_least(0),
    "prepare_processes": at_least(0),
    "baseline": baseline,
    "baseline_ignore": baseline_ignore,
    "baseline_update": baseline_update,
}


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def option_problems(config: pytest.Config) -> list[str]:
    """One line per bad option value: ``--dtype 'float7': choose one of float32, bfloat16, float16``."""
    problems = []
    for name, check in CHECKS.items():
        value = config.getoption(name)
        problem = check(value, config)
        if problem is not None:
            flag = "--" + name.replace("_", "-")
            problems.append(f"{flag}: {problem}" if isinstance(value, bool) else f"{flag} {value!r}: {problem}")
    return problems
