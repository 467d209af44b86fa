"""The language-neuron measurement keeps its pooled responses on the host and works one layer at a time on the
device; it must select exactly what the previous route (every response on the device, every neuron sorted at once,
per resample) selected. The previous route is re-implemented here as the reference."""

from __future__ import annotations

import pytest
import torch

from harness.core.models import LoadedModel
from harness.core.responses import pooled_responses
from harness.papers.kojima.expertise import average_precision, class_medians, top_and_bottom
from harness.papers.kojima.language_neurons import (
    LanguageNeuronConfig,
    _by_layer,
    language_texts,
    measure_language_neurons,
)
from harness.papers.kojima.planted import LANGUAGE_PLANTED as PLANTED
from harness.planted.cache import PlantedCache
from harness.tasks import FIXTURE_DATA, load_task, task_spec
from tests.conftest import tiny


def _summaries(ap: torch.Tensor, n: int, n_layers: int, d_ff: int) -> tuple[torch.Tensor, ...]:
    top, bottom = top_and_bottom(ap, n)
    counts = torch.stack([torch.stack([torch.bincount(side[lang] // d_ff, minlength=n_layers)
                                       for side in (top, bottom)]) for lang in range(ap.shape[0])])
    overlap = []
    for side in (top, bottom):
        member = torch.zeros_like(ap, dtype=torch.float32).scatter_(1, side, 1.0)
        overlap.append((member @ member.T).round().long())
    return top, bottom, counts, torch.stack(overlap)


def previous_route(lm: LoadedModel, examples: list, config: LanguageNeuronConfig) -> dict[str, torch.Tensor]:
    """Selection, bootstrap summaries and tampering values as computed before: all responses on the device."""
    texts, labels = language_texts(examples, task_spec("xnli"))
    responses = pooled_responses(lm, texts, pooling=config.pooling, batch_size=config.batch_size)
    n_langs = int(labels.max()) + 1
    ap = average_precision(responses, labels, n_langs).reshape(n_langs, -1)
    n = config.n_selected(ap.shape[1])
    top, bottom, counts, overlap = _summaries(ap, n, lm.n_layers, lm.d_ff)
    generator = torch.Generator().manual_seed(config.seed)
    boot_counts, boot_overlap = [], []
    for _ in range(config.n_bootstrap):
        chosen = torch.randint(len(examples), (len(examples),), generator=generator)
        rows = (chosen[:, None] * n_langs + torch.arange(n_langs)).reshape(-1)
        resampled = torch.cat([average_precision(responses[rows, layer], labels[rows], n_langs)
                               for layer in range(lm.n_layers)], dim=1)
        _, _, c, o = _summaries(resampled, n, lm.n_layers, lm.d_ff)
        boot_counts.append(c)
        boot_overlap.append(o)
    return {"top": top, "bottom": bottom, "layer_counts": counts, "overlap": overlap,
            "boot_layer_counts": torch.stack(boot_counts), "boot_overlap": torch.stack(boot_overlap),
            "top_ap": ap.gather(1, top).float(), "ap": ap,
            "medians": class_medians(responses, labels, n_langs).reshape(n_langs, -1)}


@pytest.fixture(autouse=True)
def _denormals_restored():
    yield
    torch.set_flush_denormal(False)


@pytest.mark.parametrize(("model", "share"), [
    ("planted-lang-edges", 0.002),  # most neurons dead: one AP shared by thousands, ties decide the selection
    ("tiny-bloom", 0.4),  # N = 154 > d_ff = 128: a layer cannot hold all of a side's candidates
    ("tiny-llama", 0.02)])
def test_the_same_selection_as_with_every_response_on_the_device(model: str, share: float) -> None:
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "de", "ru", "zh"], limit=8)
    if model.startswith("planted"):
        lm = PlantedCache(None).get(PLANTED[model], {"xnli": load_task("xnli", data_dir=FIXTURE_DATA / "xnli")})
    else:
        lm = tiny(model)
    config = LanguageNeuronConfig(share=share, n_bootstrap=4, batch_size=4)
    m = measure_language_neurons(lm, examples, task_spec("xnli"), config, conditions=("resamples",))
    expected = previous_route(lm, examples, config)
    for name in ("top", "bottom", "layer_counts", "overlap", "boot_layer_counts", "boot_overlap", "top_ap"):
        assert torch.equal(getattr(m, name), expected[name]), name
    assert (m.boot_layer_counts.sum(dim=-1) == m.n_selected).all()
    texts, labels = language_texts(examples, task_spec("xnli"))
    on_host = pooled_responses(lm, texts, batch_size=config.batch_size, device="cpu")
    ap, levels = _by_layer(on_host, labels, 4, lm.device, levels=True)  # what tampering fixes neurons at
    assert torch.equal(ap, expected["ap"]) and torch.equal(levels.language, expected["medians"])
