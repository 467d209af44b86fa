"""Length-sorted batches: every row once, longest first, within the row and attention budgets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.core.batching import length_sorted_batches


@given(st.lists(st.integers(1, 2000), min_size=1, max_size=80), st.integers(1, 40),
       st.none() | st.integers(1, 10 ** 7))
def test_batches_cover_every_row_once_within_their_budgets(lengths: list[int], batch_size: int,
                                                           cells: int | None) -> None:
    batches = list(length_sorted_batches(lengths, batch_size, attention_cells=cells))
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    flat = [lengths[i] for batch in batches for i in batch]
    assert flat == sorted(lengths, reverse=True)
    for batch in batches:
        assert 1 <= len(batch) <= batch_size
        if cells is not None and len(batch) > 1:
            assert len(batch) * lengths[batch[0]] ** 2 <= cells


def test_without_an_attention_budget_batches_are_full() -> None:
    assert [len(b) for b in length_sorted_batches([5] * 10, 4)] == [4, 4, 2]
    assert [len(b) for b in length_sorted_batches([10] * 6, 4, attention_cells=250)] == [2, 2, 2]
