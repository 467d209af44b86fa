"""What the attribution claims share: attribution needs the value vectors of the site ``down_proj_input``."""

from __future__ import annotations

from harness.core.verdict import Verdict, inconclusive
from harness.papers.sharing_matters.measurement import Measurement


def unavailable(m: Measurement, effect_name: str) -> Verdict | None:
    """An inconclusive verdict when the measurement has no attribution (the site ``gate``), else None."""
    if m.attribution:
        return None
    return inconclusive(f"attribution needs |A| ||v|| of the down projection's input; the site "
                        f"{m.model['site']!r} has no value vectors of its own", effect_name,
                        params={"site": m.model["site"]})
