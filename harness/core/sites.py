"""Where each model family keeps its FFN neurons: the one table of architecture adapters.

A neuron is a coordinate of the FFN hidden vector A that multiplies a value vector (paper eq. 1-2), i.e. the
input of the down projection. Gated MLPs also offer the site ``gate``: act(gate) alone (LAPE/Kojima convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from accelerate.utils import align_module_device
from torch import nn

SITES = ("down_proj_input", "gate")


@dataclass(frozen=True)
class FamilyLayout:
    """Attribute paths, relative to the model, a layer and its MLP, that locate one family's FFN neurons."""

    stacks: tuple[str, ...]  # module lists holding the layers, in forward order (encoder before decoder)
    mlp: str  # from a layer to its FFN block ("" when the layer itself holds the projections)
    down: str  # from the FFN block to the down projection; its input is A
    gate_act: str | None = None  # from the FFN block to the activation applied to the gate projection
    weight_is_in_by_out: bool = False  # GPT-2's Conv1D stores (d_ff, d_model) instead of nn.Linear's (d_model, d_ff)
    flat_tokens: bool = False  # OPT reshapes (batch, seq, d) to (batch * seq, d) before its FFN


_LLAMA = FamilyLayout(("model.layers",), "mlp", "down_proj", gate_act="act_fn")
_T5 = FamilyLayout(("encoder.block", "decoder.block"), "layer.-1.DenseReluDense", "wo", gate_act="act")

FAMILIES: dict[str, FamilyLayout] = {
    "bloom": FamilyLayout(("transformer.h",), "mlp", "dense_4h_to_h"),
    "llama": _LLAMA,
    "mistral": _LLAMA,
    "qwen2": _LLAMA,
    "xglm": FamilyLayout(("model.layers",), "", "fc2"),
    "opt": FamilyLayout(("model.decoder.layers",), "", "fc2", flat_tokens=True),
    "gpt2": FamilyLayout(("transformer.h",), "mlp", "c_proj", weight_is_in_by_out=True),
    "gpt_neox": FamilyLayout(("gpt_neox.layers",), "mlp", "dense_4h_to_h"),
    "mt5": _T5,
    "t5": _T5,
}


class UnsupportedModelError(ValueError):
    """The model's family is not in FAMILIES, or it cannot offer the requested site."""


def _resolve(root: nn.Module, path: str) -> nn.Module:
    module = root
    for part in filter(None, path.split(".")):
        # numbered parts index a ModuleList, which nn.Module's type does not promise
        module = module[int(part)] if part.lstrip("-").isdigit() else getattr(module, part)  # type: ignore[index]
    return module


@dataclass(frozen=True)
class NeuronSite:
    """The FFN neurons of one loaded model at one site, layer by layer (encoder layers first)."""

    name: str  # one of SITES
    layer_names: tuple[str, ...]
    layers: tuple[nn.Module, ...]
    hooked: tuple[nn.Module, ...]  # down projection (its input is A) or gate activation (its output is act(gate))
    down_projs: tuple[nn.Module, ...]
    weight_is_in_by_out: bool
    flat_tokens: bool
    # (stack, first layer, end) in forward order: ("encoder", 0, 24), ("decoder", 24, 48) for an encoder-decoder;
    # one ("decoder", 0, n) for a decoder-only model
    stacks: tuple[tuple[str, int, int], ...] = ()

    @property
    def n_layers(self) -> int:
        return len(self.hooked)

    @property
    def hooks_output(self) -> bool:
        """True when A is the hooked module's output (site ``gate``), False when it is its input."""
        return self.name == "gate"

    def value_vectors(self, layer: int) -> torch.Tensor:
        """The value vectors v_i of one layer as rows, (d_ff, d_model).

        Weights that accelerate keeps offloaded (on the meta device until the layer runs) are fetched first.
        """
        down = self.down_projs[layer]
        if down.weight.device.type == "meta":
            with align_module_device(down):
                weight = down.weight.detach().clone()
        else:
            weight = down.weight
        return weight if self.weight_is_in_by_out else weight.T


def neuron_site(model: nn.Module, site: str = "down_proj_input") -> NeuronSite:
    """Locate the FFN neurons of ``model`` at ``site`` through the family table."""
    model_type = getattr(model.config, "model_type", type(model).__name__)
    layout = FAMILIES.get(model_type)
    if layout is None:
        raise UnsupportedModelError(
            f"unsupported architecture {type(model).__name__} (model_type {model_type!r}); "
            f"supported model types: {', '.join(sorted(FAMILIES))}"
        )
    if site not in SITES:
        raise UnsupportedModelError(f"unknown neuron site {site!r}; choose one of {', '.join(SITES)}")
    if getattr(model.config, "slow_but_exact", False) and getattr(model.config, "pretraining_tp", 1) > 1:
        raise UnsupportedModelError("BLOOM with slow_but_exact=True bypasses dense_4h_to_h; load it with "
                                    "slow_but_exact=False")
    if site == "gate" and (layout.gate_act is None or not getattr(model.config, "is_gated_act", True)):
        raise UnsupportedModelError(f"site 'gate' needs a gated MLP; {type(model).__name__} has none")
    names, layers, hooked, downs, stacks = [], [], [], [], []
    for stack_path in layout.stacks:
        stack_name = stack_path.split(".")[0] if len(layout.stacks) > 1 else ""
        stack = list(_resolve(model, stack_path))
        stacks.append((stack_name or "decoder", len(layers), len(layers) + len(stack)))
        for index, layer in enumerate(stack):
            mlp = _resolve(layer, layout.mlp)
            down = _resolve(mlp, layout.down)
            names.append(f"{stack_name}.{index}" if stack_name else str(index))
            layers.append(layer)
            downs.append(down)
            # gate_act is not None here: the gate site is refused above for families without one
            hooked.append(_resolve(mlp, layout.gate_act) if site == "gate" else down)  # type: ignore[arg-type]
    return NeuronSite(site, tuple(names), tuple(layers), tuple(hooked), tuple(downs), layout.weight_is_in_by_out,
                      layout.flat_tokens, tuple(stacks))
