"""Peak memory of both measurements for bloomz-7b1's shape at ``--limit 1000`` (9 XNLI languages), from
harness.footprint: ``python bench/footprint_table.py [--items 1000] [--device-gib 80]``. Prints every phase's
terms and the peaks; the weights (bf16) come on top of the device's."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from xnli_shaped import CONTENT_TOKENS_EN, PREMIUM, PROMPT_TOKENS

from harness import footprint
from harness.language_neurons import LanguageNeuronConfig
from harness.measure import MeasureConfig
from harness.prefixes import CUDA_SHARE

GIB = 2 ** 30


def report(items: int, device_gib: float) -> str:
    shape = footprint.ModelShape.bloom(4096, 30, 32, 250880, 2)
    languages = len(PROMPT_TOKENS)
    longest_text = round(CONTENT_TOKENS_EN * max(PREMIUM.values()))  # premise and hypothesis, no template
    mean_prompt = sum(PROMPT_TOKENS.values()) / languages
    parts = {
        "language_neurons": footprint.language_neurons(shape, items * languages, languages, LanguageNeuronConfig(),
                                                       text_tokens=longest_text),
        "types": footprint.types(shape, items, languages, MeasureConfig(), prompt_tokens=mean_prompt,
                                 prefix_budget=int(CUDA_SHARE * device_gib * GIB)),
    }
    lines = [(f"bloomz-7b1 shape: {shape.parameters:,} parameters, weights {shape.weights / GIB:.1f} GiB (bf16); "
             f"{items} items x {languages} languages; prompts {mean_prompt:.0f} tokens on average; a "
             f"{device_gib:g} GiB device (kept prefixes up to {CUDA_SHARE:.0%} of it)")]
    for kind, terms in parts.items():
        for where in ("device", "host"):
            for phase, phase_terms in terms[where].items():
                total = sum(phase_terms.values())
                shown = "; ".join(f"{name} {value / GIB:.2f}" for name, value in phase_terms.items())
                lines.append(f"{kind:<17} {where:<6} {phase:<10} {total / GIB:7.2f} GiB = {shown}")
            name, value = footprint.peak(terms[where])
            extra = shape.weights if where == "device" else 0
            lines.append(f"{kind:<17} {where:<6} PEAK       {(value + extra) / GIB:7.2f} GiB ({name}"
                         f"{' + weights' if extra else ''})")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--device-gib", type=float, default=80.0)
    args = parser.parse_args()
    print(report(args.items, args.device_gib))
