"""§6.3, Table 2's "w/o. partial-shared" row (Tables 5, 6 too): deactivating the active partial-shared neurons alone
also lowers accuracy, less than deactivating the all-shared ones.

The alternative is that the drop is what deactivating any that many active neurons costs: in ``planted-spread``
every answer needs 7 of its row's equal carriers, so deactivating the 3 partial-shared ones loses the examples with
3 all-shared carriers (9 active), exactly as 3 random active neurons of the other types do. The control, as many
active neurons of the other types per row and layer (``random_partial_shared``), refutes it there;
``planted-perturbed``'s partial-shared carriers write answers that its control (the weak all-shared carrier) does
not.
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.type_rows import ablation_conditions, ablation_paper_numbers, ablation_verdict

TYPE = "partial_shared"

CLAIM = Claim(
    id="ablate-partial-shared",
    title="Deactivating partial-shared neurons alone also lowers accuracy, less than all-shared",
    paper_ref="§6.3, Table 2 (w/o. partial-shared; BLOOMZ XNLI), Table 5 (KE ALL->EN), Table 6 (Llama-2 XNLI)",
    paper_text="Deactivating specific and partial-shared neurons also negatively impacts on accuracy, but at a "
               "smaller magnitude when compared to the effect by all-shared neurons. BLOOMZ XNLI w/o partial-shared: "
               "en 53.8 -> 52.9, de 41.8 -> 40.4, ru 47.6 -> 49.2 (up): 0.41 points lower on average, not higher in 7 "
               "of 9 languages (Table 5: 4.1 points lower, en 96.2 -> 68.8; Table 6: 0.84 points higher)",
    tasks=("xnli", "editing", "editing-all-en"), per_language=False,
    conditions=ablation_conditions(TYPE),
    planted=(Planted("planted-perturbed", "supported"), Planted("planted-spread", "refuted")),
    paper_numbers=ablation_paper_numbers(TYPE))


def test_ablate_partial_shared(case: ClaimCase, claims, judge) -> None:
    judge(ablation_verdict(claims.measurement(case), TYPE, claims.option("seed")))
