"""Decision rule of the finding on an encoder-decoder's two stacks (App. A.3.2: mT0's encoder has more all-shared
neurons than its decoder), as a pure function of measured arrays like harness.papers.sharing_matters.rules.

Which layers belong to which stack is the measurement's own record (``Measurement.model["stacks"]``, from
harness.core.sites), never guessed from layer names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.core.stats import bootstrap_ci, mean_difference
from harness.core.verdict import Verdict, decide, inconclusive

ENCODER, DECODER = "encoder", "decoder"


def stack_shares(shares: np.ndarray, stacks: Sequence[Sequence[object]]) -> dict[str, np.ndarray]:
    """Per stack, the per-example share of the stack's neurons: shares (examples, layers), each a share of its
    layer's d_ff neurons, averaged over the stack's layers (every layer of a model has the same d_ff, so the mean
    over layers is the share of all the stack's neurons, whatever the stacks' depths). stacks: (name, first layer,
    end) as the measurement records them. Returns name -> (examples,)."""
    out = {}
    for name, first, end in stacks:
        if not isinstance(first, int) or not isinstance(end, int) or not 0 <= first < end <= shares.shape[1]:
            raise ValueError(f"stack {name!r} spans layers [{first}, {end}) of a measurement with {shares.shape[1]}")
        out[str(name)] = shares[:, first:end].mean(axis=1)
    return out


def encoder_more_shared_rule(encoder: np.ndarray, decoder: np.ndarray, *, min_difference: float = 0.01,
                             min_examples: int = 5, seed: int = 0) -> Verdict:
    """The encoder has more all-shared neurons than the decoder, as a share of each stack's neurons (App. A.3.2:
    "encoder in mT0 involves more all-shared neurons compared to the proportion in decoder", Figs 14-15).

    encoder, decoder: (examples,) the all-shared share of each stack's neurons per example (``stack_shares``), the
    same examples. Statistic: encoder - decoder, with a paired bootstrap interval over examples; supported when the
    interval lies above ``min_difference`` (a difference one could see in the paper's figures: one point of the
    neurons), refuted when it lies below it. Shares, not counts: a deeper stack holds more all-shared neurons at
    the same share.
    """
    params = {"min_difference": min_difference, "min_examples": min_examples, "seed": seed,
              "share of": "each stack's neurons (mean over its layers), per example"}
    n = len(encoder)
    if n == 0:
        return inconclusive("no examples", "all-shared share difference (encoder - decoder)", params=params)
    difference = float(encoder.mean() - decoder.mean())
    ci = bootstrap_ci(mean_difference, encoder, decoder, seed=seed)
    measured = {"all-shared % (encoder)": 100 * float(encoder.mean()),
                "all-shared % (decoder)": 100 * float(decoder.mean()), "difference (points)": 100 * difference}
    reason = (f"all-shared neurons: encoder {measured['all-shared % (encoder)']:.2f}%, decoder "
              f"{measured['all-shared % (decoder)']:.2f}% of their neurons; encoder - decoder {100 * difference:+.2f} "
              f"points [{100 * ci[0]:+.2f}, "
              f"{100 * ci[1]:+.2f}], must exceed {100 * min_difference:.1f}")
    if n < min_examples:
        return inconclusive(f"only {n} examples (< {min_examples}); {reason}",
                            "all-shared share difference (encoder - decoder)", difference, ci, measured, params)
    verdict = decide(difference > min_difference, ci[0] > min_difference, ci[1] < min_difference)
    return Verdict(verdict, reason, "all-shared share difference (encoder - decoder)", difference, ci, measured,
                   params)
