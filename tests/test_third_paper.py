"""A third paper added from a folder of its own with one registration line (docs/design.md, "How to add a paper"):
one kind of measurement, one claim and a planted pair, run as ``pytest claims`` runs the built-in papers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PAPER_MODULE = '''
"""A toy paper: "the first FFN neuron of the first layer is active at the last token of every prompt"."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import transformers
from transformers import ByT5Tokenizer

from harness.core.capture import last_token_activations
from harness.core.models import wrap_model
from harness.core.papers import Kind, Paper
from harness.core.provenance import Provenance
from harness.planted.building import FAMILY_CONFIGS, FAMILY_FFNS
from harness.tasks import data_fingerprint


@dataclass(frozen=True)
class FirstSettings:
    batch_size: int = 16


@dataclass(kw_only=True)
class FirstNeuron(Provenance):
    activation: torch.Tensor  # (rows,) A of layer 0's neuron 0 at each prompt's last token


def measure_first(lm, examples, spec, settings, *, conditions=(), progress=False):
    languages = list(examples[0].prompts)
    texts = [ex.prompts[lang] for ex in examples for lang in languages]
    acts = last_token_activations(lm, texts, batch_size=settings.batch_size)  # (rows, layers, d_ff)
    return FirstNeuron(model=lm.provenance(), task=spec.name, languages=languages,
                       example_ids=[ex.id for ex in examples], config=asdict(settings),
                       data_hash=data_fingerprint(examples), activation=acts[:, 0, 0].clone())


@dataclass(frozen=True)
class ForcedNeuron:
    """A 2-layer BLOOM whose first neuron has a zero key and bias ``bias``: active everywhere, or dead."""

    name: str
    bias: float
    tasks: tuple[str, ...] = ("xnli",)

    def build(self, examples_by_task):
        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_config(FAMILY_CONFIGS["bloom"](2))
        lm = wrap_model(model, ByT5Tokenizer(), name=self.name, model_id=f"planted:{self.name}")
        with torch.no_grad():
            FAMILY_FFNS["bloom"](lm.site.layers[0].mlp).set_neurons(0, 0.0, self.bias)
        return lm


PAPER = Paper("third", kinds=(Kind("first_neuron", lambda options: FirstSettings(options.batch_size), measure_first,
                                   (), FirstNeuron.from_state),),
              planted=(ForcedNeuron("planted-first-on", 6.0), ForcedNeuron("planted-first-off", -6.0)))
'''

CLAIM_MODULE = '''
from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict

CLAIM = Claim(id="first-neuron-always-on", title="The first neuron is active on every prompt", paper_ref="Toy §1",
              paper_text="neuron 0 of layer 0 fires on every input", tasks=("xnli",), per_language=False,
              planted=(Planted("planted-first-on", "supported"), Planted("planted-first-off", "refuted")))


def test_first_neuron(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case, kind="first_neuron")
    share = float((m.activation > 0).float().mean())
    judge(Verdict("supported" if share == 1.0 else "refuted", f"active on {share:.0%} of the prompts",
                  "share active", share, (share, share), {"share active": share}))
'''


def _tree(root: Path) -> dict[str, int]:
    """Every file of the repository but caches and the environment, with its modification time."""
    skip = {".git", ".venv", "__pycache__", ".hypothesis", ".cache", "reports", ".benchmarks", "mutants"}
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(root).parts)}


def test_a_third_paper_from_its_own_folder_runs_with_one_registration_line(pytester: pytest.Pytester) -> None:
    before = _tree(REPO)
    pytester.makepyfile(thirdpaper=PAPER_MODULE)
    (pytester.path / "claims" / "thirdpaper").mkdir(parents=True)
    (pytester.path / "claims" / "thirdpaper" / "test_first_neuron.py").write_text(CLAIM_MODULE)
    pytester.makeini("[pytest]\nneuron_claims_papers = thirdpaper\n")  # the one registration line
    result = pytester.runpytest_subprocess("claims", "-p", "no:randomly", "--cache-dir", str(pytester.path / "c"),
                                           "--report", str(pytester.path / "r"))
    result.assert_outcomes(passed=2)  # each verdict equals its planted truth
    (run,) = (pytester.path / "r").iterdir()
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert {r["model"]: (r["verdict"], r["expected"]) for r in records} == {
        "planted-first-on": ("supported", "supported"), "planted-first-off": ("refuted", "refuted")}
    assert all(r["provenance"]["model_id"].startswith("planted:planted-first-") for r in records)
    built = {w["planted"] for w in json.loads((run / "run.json").read_text())["work"] if "planted" in w}
    assert built == {"planted-first-on", "planted-first-off"}
    assert _tree(REPO) == before  # nothing outside the paper's folder changed


def test_a_paper_module_without_a_paper_is_one_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(notapaper="X = 1\n")
    pytester.makeini("[pytest]\nneuron_claims_papers = notapaper\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*neuron-claims: paper module 'notapaper' defines no PAPER*"])
    assert not (pytester.path / "reports").exists()


def test_the_store_plugin_and_report_import_no_paper() -> None:
    """The papers come in through the registry only (a fresh interpreter: this one has imported them)."""
    code = ("import sys, harness.core.store, harness.core.shared_store, harness.plugin.hooks, harness.report; "
            "print([m for m in sys.modules if m.startswith('harness.papers.')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
