"""App. A.3.2 runs the paper's type analysis on XGLM, Llama-2 and mT0 too: every claim on neuron types runs in the
full tier on a tiny saved model of each of these families, loaded by path, without an error; the encoder-decoder's
records say which layers are its encoder and which its decoder, and the encoder-versus-decoder claim is skipped,
saying why, on the decoder-only ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.models import build_tiny
from harness.tasks import FIXTURE_DATA

SHARING = Path(__file__).resolve().parents[1] / "claims" / "sharing_matters"
TYPE_CLAIMS = ("task_dependence", "language_consistency", "mid_layer_peak", "ift_raises_all_shared",
               "non_activated_majority", "lowest_layer_non_activated", "activated_early_peak", "language_count",
               "threshold_sweep", "dead_across_tokens", "non_repeating", "encoder_more_shared")
FAMILIES = {"tiny-xglm": "xglm", "tiny-llama": "llama", "tiny-mt5": "mt5"}  # XGLM, Llama-2, mT0's families


@pytest.fixture(scope="session")
def family_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Session-scoped, so that what saving imports is imported before pytester snapshots sys.modules."""
    paths = {}
    for name in FAMILIES:
        path = tmp_path_factory.mktemp("families") / name
        model, tokenizer = build_tiny(name, seed=1)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        paths[name] = path
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_type_claim_runs_on_the_family(pytester: pytest.Pytester, family_models: dict[str, Path],
                                             name: str) -> None:
    path, report = family_models[name], pytester.path / "r"
    result = pytester.runpytest_subprocess(
        *[str(SHARING / f"test_{claim}.py") for claim in TYPE_CLAIMS], "-m", "full", "--model", str(path),
        "--base-model", str(path), "--tasks", "xnli,facts", "--languages", "en,de,ru", "--limit", "6",
        "--data-dir", str(FIXTURE_DATA), "--report", str(report), "--no-cache", "-p", "no:randomly", "-rs")
    (run_dir,) = [p for p in report.iterdir() if p.is_dir()]
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert {r["claim"] for r in records} >= {"task-dependence", "mid-layer-peak", "non-activated-majority"}
    assert [r["reason"] for r in records if r["verdict"] == "error"] == []
    assert {r["provenance"]["model_type"] for r in records} == {FAMILIES[name]}
    stacks = {json.dumps(r["provenance"]["stacks"]) for r in records}
    encoder_decoder = [r for r in records if r["claim"] == "encoder-more-shared"]
    if name == "tiny-mt5":
        assert stacks == {json.dumps([["encoder", 0, 2], ["decoder", 2, 4]])}
        assert len(encoder_decoder) == 1 and encoder_decoder[0]["params"]["stacks"] == \
            "encoder: layers 0-1; decoder: layers 2-3"
    else:
        assert stacks == {json.dumps([["decoder", 0, 3]])}
        assert encoder_decoder == [] and result.parseoutcomes().get("skipped") == 1
        result.stdout.fnmatch_lines(["*encoder-more-shared: not applicable: *has no encoder and decoder to compare "
                                     "(stacks: decoder layers 0-2)*"])
