"""Decision rules of the further type-share findings of issue 15 (pure functions of measured arrays, as in
harness.rules, which holds the first ones)."""

from __future__ import annotations

import numpy as np

from harness.stats import bootstrap_interval
from harness.verdict import Verdict, decide


def non_activated_majority_rule(non_activated: np.ndarray, *, min_share: float = 0.5, min_examples: int = 5,
                                seed: int = 0) -> Verdict:
    """Over half of the neurons are non-activated (§5.1.4: "more than 50% of neurons having a zero or negative
    activation value across layers", Figs 2-4 left).

    non_activated: (examples, layers) share of a layer's neurons inactive in every language of the example.
    Statistic: the mean over layers and examples, with a bootstrap interval over examples; supported when the
    interval lies above ``min_share``, refuted when it lies below. The layers under ``min_share`` are recorded.
    """
    params = {"min_share": min_share, "min_examples": min_examples, "seed": seed,
              "share of": "a layer's neurons, mean over layers and examples"}
    n_examples, n_layers = non_activated.shape
    share = float(non_activated.mean()) if non_activated.size else float("nan")
    ci = bootstrap_interval(lambda idx: float(non_activated[idx].mean()), n_examples, seed=seed) \
        if n_examples else (share, share)
    per_layer = non_activated.mean(axis=0) if n_examples else np.zeros(n_layers)
    below = [int(i) for i in np.flatnonzero(per_layer <= min_share)]
    measured = {"non-activated % (mean over layers)": 100 * share,
                "non-activated % (lowest layer)": 100 * float(per_layer[0]) if n_layers else None,
                "layers at or under the limit": len(below), "layers": n_layers}
    reason = (f"{100 * share:.1f}% [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}] of the neurons are non-activated (mean "
              f"over layers); {len(below)} of {n_layers} layers at or under {100 * min_share:.0f}%; must exceed "
              f"{100 * min_share:.0f}%")
    if n_examples < min_examples:
        return Verdict("inconclusive", f"only {n_examples} examples (< {min_examples}); {reason}",
                       "non-activated share", share, ci, measured, params)
    verdict = decide(share > min_share, ci[0] > min_share, ci[1] < min_share)
    return Verdict(verdict, reason, "non-activated share", share, ci, measured, params)
