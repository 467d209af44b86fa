"""Usage errors: every option of the plugin with its bad values, one line each, before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import transformers

from harness.plugin import hooks as plugin

REPO = Path(__file__).resolve().parents[1]
NO_CUDA = not torch.cuda.is_available()
BAD_CUDA = "cuda" if NO_CUDA else f"cuda:{torch.cuda.device_count()}"  # a CUDA device this machine lacks
CUDA_PROBLEM = "CUDA is not available on this machine; valid: auto, cpu" if NO_CUDA else "CUDA device(s); valid: auto"


class OptionList:
    """Stands in for pytest's parser: lists what ``pytest_addoption`` declares."""

    def __init__(self) -> None:
        self.options: dict[str, dict[str, Any]] = {}

    def getgroup(self, *_args: Any) -> OptionList:
        return self

    def addoption(self, flag: str, **kwargs: Any) -> None:
        self.options[flag.removeprefix("--").replace("-", "_")] = kwargs

    def addini(self, *_args: Any, **_kwargs: Any) -> None:
        """Ini settings (the paper registry's) are not command-line options."""


def plugin_options() -> dict[str, dict[str, Any]]:
    declared = OptionList()
    plugin.pytest_addoption(declared)  # type: ignore[arg-type]  # it records what a parser is told
    return declared.options


def _model_dir(tmp: Path, config: transformers.PretrainedConfig | None) -> str:
    path = tmp / ("model" if config is None else config.model_type)
    path.mkdir()
    if config is not None:
        config.save_pretrained(path)
    return str(path)


def _file(tmp: Path) -> str:
    (tmp / "a-file").write_text("")
    return str(tmp / "a-file")


def _no_run(tmp: Path) -> str:
    (tmp / "empty-dir").mkdir()
    return str(tmp / "empty-dir")


# option dest -> [(arguments, the problem the one line states)]; a lambda builds a path under the test's directory.
# Values argparse rejects (not an integer, a value for a flag) give argparse's own usage error.
BAD_VALUES: dict[str, list[tuple[tuple[Any, ...], str]]] = {
    "model": [(("--model", "bloomz-7b"), "unknown model 'bloomz-7b': known aliases are bloom-1b1"),
              (("--model", lambda t: _model_dir(t, None)), "cannot read its configuration"),
              (("--model", lambda t: _model_dir(t, transformers.BertConfig())),
               "unsupported model type 'bert'; supported: bloom")],
    "base_model": [(("--base-model", "tiny-bloom"), "needs --model"),
                   (("--model", "tiny-bloom", "--base-model", "nope"), "unknown model 'nope'")],
    "scale_model": [(("--scale-model", "tiny-bloom"), "needs --model"),
                    (("--model", "tiny-bloom", "--scale-model", "tiny-bloom"), "names --model itself"),
                    (("--model", "tiny-bloom", "--scale-model", "nope"), "unknown model 'nope'")],
    "tasks": [(("--tasks", "nope"), "unknown 'nope'; valid: xnli, facts, editing, editing-all-en"),
              (("--tasks", "xnli,,facts"), "unknown ''; valid: xnli")],
    "languages": [(("--languages", "en,klingon"), "unknown 'klingon'; valid: en, de, es, fr, pt, ru, th, tr, vi, zh")],
    "limit": [(("--limit", "0"), "must be at least 1"), (("--limit", "ten"), "argument --limit: invalid int value")],
    "dtype": [(("--dtype", "float7"), "choose one of float32, bfloat16, float16")],
    "device": [(("--device", BAD_CUDA), CUDA_PROBLEM),
               (("--device", "toaster"), "not a device; valid: auto, cpu")],
    "device_map": [(("--device-map", "everywhere"), "choose one of auto, balanced, balanced_low_0, sequential"),
                   (("--device-map", "auto", "-n", "2"), "spreads one model over every device")],
    "batch_size": [(("--batch-size", "0"), "must be at least 1"),
                   (("--batch-size", "1.5"), "argument --batch-size: invalid int value")],
    "threshold": [(("--threshold", "nan"), "must be a finite number"),
                  (("--threshold", "low"), "argument --threshold: invalid float value")],
    "epsilon": [(("--epsilon", "0"), "must be a positive number"), (("--epsilon", "inf"), "must be a positive number")],
    "positions": [(("--positions", "middle"), "choose one of last, all")],
    "scoring": [(("--scoring", "vibes"), "choose one of generate, choice")],
    "site": [(("--site", "attention"), "choose one of down_proj_input, gate")],
    "data_dir": [(("--data-dir", "nowhere"), "is not a directory")],
    "report": [(("--report", _file), "exists and is not a directory")],
    "cache_dir": [(("--cache-dir", _file), "exists and is not a directory")],
    "no_cache": [(("--no-cache=yes",), "argument --no-cache: ignored explicit argument 'yes'")],
    "strict_claims": [(("--strict-claims=1",), "argument --strict-claims: ignored explicit argument '1'")],
    "seed": [(("--seed", "-1"), "must be at least 0"), (("--seed", "x"), "argument --seed: invalid int value")],
    "prepare_processes": [(("--prepare-processes", "-1"), "must be at least 0"),
                          (("--prepare-processes", "two"), "argument --prepare-processes: invalid int value")],
    "baseline": [(("--baseline", "nowhere"), "no run directory or summary.json at nowhere"),
                 (("--baseline", _no_run), "run.json not found")],
    "baseline_ignore": [(("--baseline-ignore", "colour"),
                         "unknown identity field(s) 'colour'; valid: model, base_model")],
    "baseline_update": [(("--baseline-update",), "--baseline-update: needs --baseline PATH")],
}
CASES = [pytest.param(dest, args, problem, id=f"{dest}-{n}") for dest, cases in BAD_VALUES.items()
         for n, (args, problem) in enumerate(cases)]


def test_every_option_of_the_plugin_has_bad_values_tested() -> None:
    assert set(BAD_VALUES) == set(plugin_options())


@pytest.mark.parametrize(("dest", "args", "problem"), CASES)
def test_a_bad_value_is_one_usage_error_line_and_leaves_no_run(pytester: pytest.Pytester, dest: str,
                                                               args: tuple[Any, ...], problem: str) -> None:
    argv = [a(pytester.path) if callable(a) else a for a in args]
    pytester.makepyfile(test_never="def test_never():\n    raise AssertionError('collected')\n")
    result = pytester.runpytest_inprocess(*argv, *([] if "--report" in argv else ["--report", "r"]))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.errlines if line]
    assert any(problem in line for line in lines), lines
    flag = "--" + dest.replace("_", "-")
    if "argument --" not in problem:  # ours: one line naming the option, its value and the problem
        (line,) = lines
        assert line.startswith(f"ERROR: neuron-claims: {flag}"), line
        if plugin_options()[dest].get("action") != "store_true":
            assert argv[argv.index(flag) + 1] in line
    assert not (pytester.path / "r").exists()
    assert "collected" not in result.stdout.str()


@pytest.mark.parametrize(("args", "problem"), [
    (("--model", "bloomz-7b"), "--model 'bloomz-7b': unknown model 'bloomz-7b': known aliases are "),
    (("--dtype", "float7"), "--dtype 'float7': choose one of float32, bfloat16, float16"),
    (("--device", BAD_CUDA), f"--device '{BAD_CUDA}': {CUDA_PROBLEM}"),
    (("--tasks", "nope"), "--tasks 'nope': unknown 'nope'; valid: xnli, facts, editing"),
], ids=["model", "dtype", "device", "tasks"])
def test_the_claims_run_stops_before_collection_with_one_line(pytester: pytest.Pytester, tmp_path: Path,
                                                              args: tuple[str, ...], problem: str) -> None:
    """The whole claims suite in the full tier, as a user runs it: one line, nothing collected, no run directory."""
    model = [] if args[0] == "--model" else ["--model", "tiny-bloom"]
    result = pytester.runpytest_subprocess(str(REPO / "claims"), "-m", "full", *model, *args,
                                           "--report", str(tmp_path / "reports"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = [line for line in result.errlines if line]
    assert line.startswith(f"ERROR: neuron-claims: {problem}")
    assert "collected" not in result.stdout.str() and "Traceback" not in result.stderr.str()
    assert not (tmp_path / "reports").exists()
