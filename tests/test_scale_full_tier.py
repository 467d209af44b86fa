"""The scale claims (App. A.3.5) in the full tier: a family at two sizes saved to disk and loaded by path, given
either way round (the larger is found by its FFN neurons), a missing pair skipped with the reason, and a pair that
is not two sizes of one family refused with one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import transformers
from transformers import ByT5Tokenizer

from harness.core.models import TINY_VOCAB, build_tiny
from harness.tasks import FIXTURE_DATA

SHARING = Path(__file__).resolve().parents[1] / "claims" / "sharing_matters"
SCALE_CLAIMS = [str(SHARING / f"test_{name}.py") for name in ("types_independent_of_scale",
                                                             "larger_model_sparser_upper")]


def _save_bloom(path: Path, hidden: int, layers: int) -> Path:
    tokenizer = ByT5Tokenizer()
    config = transformers.BloomConfig(vocab_size=TINY_VOCAB, hidden_size=hidden, n_layer=layers, n_head=4,
                                      pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                                      bos_token_id=tokenizer.eos_token_id)
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def sizes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sizes")
    llama, tokenizer = build_tiny("tiny-llama", seed=1)
    llama.save_pretrained(root / "llama")
    tokenizer.save_pretrained(root / "llama")
    return {"small": _save_bloom(root / "small", 32, 3), "large": _save_bloom(root / "large", 48, 5),
            "small-twin": _save_bloom(root / "small-twin", 32, 3), "llama": root / "llama"}


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, list[dict]]:
    report = pytester.path / f"r{len(list(pytester.path.glob('r*')))}"
    result = pytester.runpytest_subprocess(
        *SCALE_CLAIMS, "-m", "full", *args, "--languages", "en,de,ru", "--limit", "6", "--data-dir",
        str(FIXTURE_DATA), "--report", str(report), "--no-cache", "-p", "no:randomly", "-rs")
    runs = [p for p in report.iterdir() if p.is_dir()] if report.exists() else []
    records = [json.loads(line) for run in runs for line in (run / "results.jsonl").read_text().splitlines()]
    return result, records


@pytest.mark.slow
def test_two_sizes_by_path_either_way_round(pytester: pytest.Pytester, sizes: dict[str, Path]) -> None:
    _, forward = _run(pytester, "--model", str(sizes["large"]), "--scale-model", str(sizes["small"]))
    _, backward = _run(pytester, "--model", str(sizes["small"]), "--scale-model", str(sizes["large"]))
    assert [r["reason"] for r in forward + backward if r["verdict"] == "error"] == []
    assert {r["claim"] for r in forward} == {"types-independent-of-scale", "larger-model-sparser-upper"}
    assert all(r["scale_model"] == str(sizes["small"]) for r in forward)
    for one, other in zip(sorted(forward, key=lambda r: r["claim"]), sorted(backward, key=lambda r: r["claim"]),
                          strict=True):
        assert (one["verdict"], one["effect"]) == (other["verdict"], other["effect"])
        assert one["measured"]["upper layers (larger, smaller)" if "upper" in one["claim"] else
                               "layers (larger, smaller)"] in ("5, 3", "2, 1")
    plots = [p for r in forward for p in r["plots"]]
    assert plots and all(p["x_label"] == "relative depth" and len(p["x"]) == 3 for p in plots)


@pytest.mark.slow
def test_a_missing_pair_is_skipped_and_a_wrong_one_refused(pytester: pytest.Pytester,
                                                            sizes: dict[str, Path]) -> None:
    skipped, records = _run(pytester, "--model", str(sizes["small"]))
    assert records == [] and skipped.parseoutcomes().get("skipped") == 2
    skipped.stdout.fnmatch_lines(["*no model of another size is registered for *; pass --scale-model*"])
    _, same = _run(pytester, "--model", str(sizes["small"]), "--scale-model", str(sizes["small-twin"]))
    assert {r["verdict"] for r in same} == {"error"}
    assert all("have the same size (384 FFN neurons)" in r["reason"] for r in same)
    _, mixed = _run(pytester, "--model", str(sizes["large"]), "--scale-model", str(sizes["llama"]))
    assert {r["verdict"] for r in mixed} == {"error"}
    assert all("one family at two sizes" in r["reason"] for r in mixed)
