"""The template control of the type-share claims: XNLI and KE prompts end with the same English words in every
language, so the last token, where the paper reads the four types, is the same English text everywhere; shares
read there can come from the shared tail rather than from the translated content. Each type-share claim applies
its rule a second time at the last token of the translated content (``Measurement.content_*``, the same forward
pass) and reports both. Supported needs both readings: a finding supported at the last token and not at the content
end holds only on the shared template tail, and is inconclusive, saying so; otherwise the verdict is the paper's
(last token).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from harness.core.verdict import Verdict
from harness.papers.sharing_matters.measurement import Measurement

CONTENT_END = "content end"


def at_content_end(m: Measurement) -> Measurement:
    """The measurement with its type shares (also over non-parallel tuples), activated shares, language counts and
    threshold grid read at the content's last token (everything else as measured at the last prompt token)."""
    return dataclasses.replace(m, example_shares=m.content_shares, example_activated=m.content_activated,
                               count_shares=m.content_count_shares, threshold_shares=m.content_threshold_shares,
                               threshold_density=m.content_threshold_density,
                               nonparallel_shares=m.content_nonparallel_shares)


def at_both_positions(rule: Callable[[Measurement], Verdict], m: Measurement, *, claim: str,
                      instance: str) -> Verdict:
    """``rule`` judged on ``m`` at the last prompt token and at the content end (``with_content_control``)."""
    return with_content_control(rule(m), rule(at_content_end(m)), claim=claim, instance=instance)


def with_content_control(at_last: Verdict, at_content: Verdict, *, claim: str, instance: str) -> Verdict:
    """``at_last`` (the paper's reading) with the rule's verdict at the content end beside it: in ``controls``, in a
    measured number, in the reason and in a table of the report. A finding supported at the last token only is
    inconclusive: it may hold on the template's shared English tail alone."""
    table = control_table(at_last, at_content, claim=claim, instance=instance)
    at_last.controls[CONTENT_END] = {"verdict": at_content.verdict, "reason": at_content.reason,
                                     "effect_name": at_content.effect_name, "effect": at_content.effect,
                                     "ci": list(at_content.ci)}
    at_last.measured[f"{at_content.effect_name} at the content end"] = at_content.effect
    if at_last.verdict == at_content.verdict:
        at_last.reason += f"; survives at the end of the translated content ({at_content.reason})"
    elif at_last.verdict == "supported":
        at_last.verdict = "inconclusive"
        at_last.reason = (f"holds only at the shared English tail: supported at the prompt's last token, "
                          f"{at_content.verdict} at the end of the translated content, and supported needs both; "
                          f"at the last token: {at_last.reason}; at the content end: {at_content.reason}")
    else:
        at_last.reason += f"; at the end of the translated content it is {at_content.verdict} ({at_content.reason})"
    at_last.tables.append(table)
    return at_last


def control_table(at_last: Verdict, at_content: Verdict, *, claim: str, instance: str) -> dict[str, Any]:
    """One row per instance: the verdict and effect at the last prompt token and at the content end."""
    columns = ["verdict at the last prompt token (paper)", "verdict at the content end",
               f"{at_last.effect_name}: last token", f"{at_content.effect_name}: content end"]
    return {"id": f"template-control-{claim}", "columns": columns,
            "title": "Template control: the rule at the prompt's last token (the same English tail in every "
                     "language) and at the last token of the translated content, from the same forward pass",
            "rows": [{"label": instance, "source": "ours",
                      "values": [at_last.verdict, at_content.verdict, at_last.effect, at_content.effect]}]}
