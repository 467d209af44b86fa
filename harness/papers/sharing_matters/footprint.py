"""Peak memory of a ``types`` measurement (harness.papers.sharing_matters.measurement) per chunk of rows: the
captured activations and what the reducers and the controls derive from them, and the kept prefixes
(harness.core.prefixes), in bytes from the sizes of the tensors allocated."""

from __future__ import annotations

from harness.core.footprint import ModelShape, Terms, forward_activations
from harness.core.prefixes import CPU_BUDGET
from harness.papers.sharing_matters.measurement import CONDITIONS, MeasureConfig, expand_conditions


def types(shape: ModelShape, items: int, languages: int, config: MeasureConfig, *, prompt_tokens: float,
          prefix_budget: int = CPU_BUDGET) -> dict[str, dict[str, Terms]]:
    """Terms of a ``measure`` chunk's peak: ``chunk_rows`` rows (whole examples) of every neuron, and the
    prefixes kept for the intervention passes (each row's prompt but its last token, under ``prefix_budget``)."""
    rows = max(len(chunk) for chunk in config.chunks(items, languages)) * languages
    cells = rows * shape.neurons  # (row, neuron) pairs of one chunk
    kept = min(prefix_budget, int(2 * shape.n_layers * rows * (prompt_tokens - 1) * shape.hidden * shape.dtype_bytes))
    runs = len(expand_conditions(CONDITIONS, config.control_seeds))  # every condition a claim may ask for
    device = {
        "reducers": {  # Reducers.update at its largest moment: the expected spans, at one type's minimum
            "captured A": cells * shape.dtype_bytes, "float32: contribution and one more": 2 * 4 * cells,
            "8 bytes each: row codes (int64), effective scores, their sorted copy and the codes in that order, the "
            "type's ranks from both ends, the clamped rank, log weights (two terms at once), weights and product":
                10 * 8 * cells,
            "masks (bool): active, active at any token, the type's members, the usable ranks and others": 8 * cells,
            "kept prefixes": kept},
        "conditions": {  # a seeded control's draw over the chunk, RowState besides
            "captured A": cells * shape.dtype_bytes, "row state: codes, active, weight": cells * (1 + 1 + 4),
            "random scores and their sort (values, int64 indices)": cells * (4 + 4 + 8 + 8),
            "mask": cells, "kept prefixes": kept,
            "forward of one batch from kept prefixes": forward_activations(shape, config.batch_size, 1)},
    }
    return {"host": {"outcomes": {"correct and edits per condition": rows * runs * 16}}, "device": device}
