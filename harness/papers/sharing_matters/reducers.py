"""Device-side accumulators over all rows of a run: attribution summaries and dead-across-tokens.

Attribution (site ``down_proj_input`` only; see harness.core.attribution) keeps, besides the paper's summaries (which
types the top-5% contributors are, per-type contribution sums, per-type max/min/mean effective scores), what the
base-rate controls need:
- per row and layer, how many of the top-k contributors are active and how many all-shared, with the row's active
  and all-shared counts: under the null that types are shuffled among a row's active neurons, the all-shared
  count among the active top contributors is hypergeometric, so its expectation and distribution follow;
- per row and type, the expected span (max - min) of the effective scores of ``span_sample`` neurons of that type
  drawn at random (NaN where the row has fewer), so that types of different sizes are compared at one size;
- per row, layer and type, the neurons, those active in the row, and their summed contribution scores and positive
  effective scores (all of the type's neurons, and its neurons active in the row): averages per neuron, shares of
  the push toward the reference token, and the activity-matched controls of §6.1 follow (``TYPE_ROW_FIELDS``);
- per language, type and layer the largest effective score (Fig. 10), and per row and layer the expected maximum
  of ``span_sample`` all-shared neurons drawn at random (NaN where fewer), so that layers with different numbers
  of all-shared neurons are compared at one size.

The summaries of §6.1-6.2's contribution claims (``READING_FIELDS``) come in two readings: the paper's, of A as it
is, and ours, of A centred on each neuron's mean over the task's inputs (``means``): (A_i - mean A_i) v_i is what
setting neuron i to its mean would take out of its layer's output, so a neuron whose output is the same for every
input (an always-on neuron, or a pair whose outputs cancel) is credited with nothing.
"""

from __future__ import annotations

import math

import torch

from harness.core.attribution import (
    contribution_scores,
    contribution_weights,
    deviations,
    effective_scores,
    value_norms,
    value_projections,
)
from harness.core.models import LoadedModel
from harness.papers.sharing_matters.neurons import ALL, TYPES

N_TYPES = len(TYPES)
# last axis of the per-row type summaries (Measurement.type_rows)
TYPE_ROW_FIELDS = ("neurons", "active", "contribution", "active contribution", "push", "active push")
NEURONS, ACTIVE, CONTRIBUTION, ACTIVE_CONTRIBUTION, PUSH, ACTIVE_PUSH = range(len(TYPE_ROW_FIELDS))


def _expected_extreme(ranked: torch.Tensor, member: torch.Tensor, rank: torch.Tensor, size: int,
                      log_gamma: torch.Tensor) -> torch.Tensor:
    """Expected extreme of ``size`` members drawn without replacement, where a member of ``rank`` (1-based, among
    the n members, counted from the extreme's end) is the draw's extreme with probability C(rank - 1, size - 1) /
    C(n, size); NaN where n < size. ranked, member, rank (..., N) -> (...); log_gamma[k] = lgamma(k)."""
    n = member.sum(dim=-1, keepdim=True)  # (..., 1)
    usable = member & (rank >= size)
    r, m = rank.clamp(min=size), n.clamp(min=size)
    log_weight = (log_gamma[r] - log_gamma[r - size + 1] - log_gamma[m + 1] + log_gamma[m - size + 1]
                  + math.log(size))
    expected = torch.where(usable, log_weight.exp() * ranked, 0.0).sum(dim=-1)
    return expected.masked_fill(n[..., 0] < size, torch.nan)


def _log_gamma(n: int, size: int, device: torch.device) -> torch.Tensor:
    """lgamma(k) for k = 0 .. max(n, size) + 1 (float64): every rank and count an expected extreme of ``size`` of n
    values reads (ranks and counts are clamped to at least ``size``)."""
    return torch.lgamma(torch.arange(max(n, size) + 2, device=device, dtype=torch.float64))


def expected_subset_max(values: torch.Tensor, member: torch.Tensor, size: int) -> torch.Tensor:
    """Expected maximum of ``size`` members of ``values`` drawn at random without replacement (exact, from the
    order statistics); NaN where there are fewer than ``size`` members. values, member (..., N) -> (...)."""
    ranked, order = values.double().sort(dim=-1)  # rising
    member = member.gather(-1, order)
    log_gamma = _log_gamma(values.shape[-1], size, values.device)
    return _expected_extreme(ranked, member, member.cumsum(dim=-1), size, log_gamma)


def expected_subset_spans(values: torch.Tensor, codes: torch.Tensor, n_codes: int, size: int) -> torch.Tensor:
    """Expected max - min of ``size`` values of each code drawn at random without replacement, computed exactly
    from the order statistics (no sampling noise; one sort serves every code and both ends); NaN where a code has
    fewer than ``size`` members. values (..., N), codes (..., N) in [0, n_codes) -> (..., n_codes)."""
    ranked, order = values.double().sort(dim=-1)  # rising
    ranked_codes = codes.gather(-1, order)
    del order
    log_gamma = _log_gamma(values.shape[-1], size, values.device)
    spans = []
    for code in range(n_codes):
        member = ranked_codes == code
        rising = member.cumsum(dim=-1)  # a member's rank from the bottom: the maximum's end
        falling = rising[..., -1:] + 1 - rising  # from the top: the minimum's end
        spans.append(_expected_extreme(ranked, member, rising, size, log_gamma)
                     - _expected_extreme(ranked, member, falling, size, log_gamma))
    return torch.stack(spans, dim=-1)


READING_FIELDS = ("top_contribution", "contribution_sum", "base_rate", "type_rows", "layer_effective_max",
                  "layer_sample_max")  # Measurement fields kept in both readings (Measurement.centred)


class _Reading:
    """The contribution claims' summaries of one reading of A over all rows of a run (``READING_FIELDS``)."""

    def __init__(self, n_langs: int, layers: int, top_k: int, span_sample: int, device: torch.device) -> None:
        self.top_k, self.span_sample = top_k, span_sample
        self.top = torch.zeros(N_TYPES, layers, device=device, dtype=torch.float64)
        self.contribution = torch.zeros(N_TYPES, layers, device=device, dtype=torch.float64)
        self.base_rate: list[torch.Tensor] = []  # per chunk (ex, langs, layers, 4): top shared/active, active, shared
        self.type_rows: list[torch.Tensor] = []  # per chunk (ex, langs, T, layers, fields)
        self.layer_max = torch.full((n_langs, N_TYPES, layers), -torch.inf, device=device, dtype=torch.float64)
        self.layer_sample_max: list[torch.Tensor] = []  # per chunk (ex, langs, layers)

    def update(self, contribution: torch.Tensor, effective: torch.Tensor, row_codes: torch.Tensor,
               active: torch.Tensor) -> None:
        """contribution (float32), effective (float64), row_codes (int64), active: (ex, langs, layers, d_ff)."""
        top = contribution.topk(self.top_k, dim=-1).indices  # (ex, langs, layers, k)
        top_types = row_codes.gather(-1, top)
        for t in range(N_TYPES):
            self.top[t] += (top_types == t).double().sum(dim=(0, 1, 3)) / self.top_k
            self.contribution[t] += (contribution * (row_codes == t)).double().sum(dim=(0, 1, 3))
        top_active = active.gather(-1, top)
        self.base_rate.append(torch.stack([
            (top_active & (top_types == ALL)).sum(dim=-1), top_active.sum(dim=-1), active.sum(dim=-1),
            (row_codes == ALL).sum(dim=-1)], dim=-1).to(torch.int32).cpu())  # (ex, langs, layers, 4)
        self.type_rows.append(self._type_rows(contribution.double(), effective, row_codes, active).float().cpu())
        for t in range(N_TYPES):
            self.layer_max[:, t] = torch.maximum(self.layer_max[:, t], effective.masked_fill(
                row_codes != t, -torch.inf).amax(dim=(0, 3)))
        self.layer_sample_max.append(expected_subset_max(effective, row_codes == ALL, self.span_sample).cpu())

    @staticmethod
    def _type_rows(contribution: torch.Tensor, effective: torch.Tensor, codes: torch.Tensor,
                   active: torch.Tensor) -> torch.Tensor:
        """(ex, langs, T, layers, fields) in TYPE_ROW_FIELDS order: per row, layer and type, its neurons, those
        active in the row, and their summed contribution scores and positive effective scores (all of them, and
        the active ones). contribution, effective, codes, active (ex, langs, layers, d_ff)."""
        group = codes * 2 + active  # (ex, langs, layers, d_ff): type x (inactive, active in the row)
        values = torch.stack([torch.ones_like(effective), contribution, effective.clamp_min(0)])  # (3, ..., d_ff)
        sums = torch.zeros(*values.shape[:-1], 2 * N_TYPES, dtype=values.dtype, device=values.device)
        sums.scatter_add_(-1, group.expand_as(values), values)  # (3, ex, langs, layers, T x 2)
        sums = sums.unflatten(-1, (N_TYPES, 2))  # (3, ex, langs, layers, T, 2)
        fields = [part for value in sums for part in (value.sum(dim=-1), value[..., 1])]  # all, then active ones
        return torch.stack(fields, dim=-1).transpose(2, 3)  # (ex, langs, T, layers, fields)

    def summaries(self, rows: int) -> dict[str, torch.Tensor]:
        """The ``READING_FIELDS`` on the CPU, after ``rows`` rows (examples x languages)."""
        return {"top_contribution": (self.top / rows).cpu(), "contribution_sum": (self.contribution / rows).cpu(),
                "base_rate": torch.cat(self.base_rate), "type_rows": torch.cat(self.type_rows),
                "layer_effective_max": self.layer_max.masked_fill(self.layer_max == -torch.inf, torch.nan).cpu(),
                "layer_sample_max": torch.cat(self.layer_sample_max)}


class Reducers:
    MAX_CACHED_TOKENS = 512

    def __init__(self, lm: LoadedModel, n_langs: int, top_share: float, span_sample: int,
                 means: torch.Tensor | None = None) -> None:
        """``means`` (layers, d_ff): each neuron's mean A over the task's inputs, for the centred reading (None:
        the paper's reading only)."""
        self.attribution = lm.site.name == "down_proj_input"
        self.norms = value_norms(lm) if self.attribution else None  # (layers, d_ff)
        self.means = means
        self.span_sample = span_sample
        layers, dev, f64 = lm.n_layers, lm.device, torch.float64
        top_k = max(1, round(top_share * lm.d_ff))
        self.readings = {name: _Reading(n_langs, layers, top_k, span_sample, dev)
                         for name in ("paper", *(("centred",) if means is not None else ()))}
        self.eff_max = torch.full((n_langs, N_TYPES), -torch.inf, device=dev, dtype=f64)
        self.eff_min = torch.full((n_langs, N_TYPES), torch.inf, device=dev, dtype=f64)
        self.eff_sum = torch.zeros(n_langs, N_TYPES, device=dev, dtype=f64)
        self.eff_count = torch.zeros(n_langs, N_TYPES, device=dev, dtype=f64)
        self.dead = torch.zeros(layers, device=dev, dtype=f64)
        self.rows = 0
        self.spans: list[torch.Tensor] = []  # per chunk (ex, langs, T)
        self._projections: dict[int, torch.Tensor] = {}  # token id -> (layers, d_ff)

    def weight(self, acts: torch.Tensor) -> torch.Tensor | None:
        """|A| ||v|| for acts (..., layers, d_ff), or None without value vectors."""
        return None if self.norms is None else contribution_weights(acts, self.norms)

    def update(self, lm: LoadedModel, acts: torch.Tensor, codes: torch.Tensor, active: torch.Tensor,
               ever: torch.Tensor | None, tokens: torch.Tensor) -> None:
        """acts (ex, langs, layers, d_ff); codes (ex, layers, d_ff); active and ever like acts; tokens (ex, langs)."""
        n_ex, n_langs = acts.shape[:2]
        row_codes = codes[:, None].expand(-1, n_langs, -1, -1).long()  # (ex, langs, layers, d_ff)
        self.rows += n_ex * n_langs
        if ever is not None:
            self.dead += (~ever).double().mean(dim=-1).sum(dim=(0, 1))
        if not self.attribution:
            return
        contribution = contribution_scores(lm, acts, self.norms)  # (ex, langs, layers, d_ff)
        flat_tokens = tokens.reshape(-1)
        effective = self._effective(lm, acts, flat_tokens).double()  # (ex, langs, layers, d_ff)
        for t in range(N_TYPES):
            is_t = row_codes == t
            self.eff_max[:, t] = torch.maximum(self.eff_max[:, t],
                                               effective.masked_fill(~is_t, -torch.inf).amax(dim=(0, 2, 3)))
            self.eff_min[:, t] = torch.minimum(self.eff_min[:, t],
                                               effective.masked_fill(~is_t, torch.inf).amin(dim=(0, 2, 3)))
            self.eff_sum[:, t] += (effective * is_t).sum(dim=(0, 2, 3))
            self.eff_count[:, t] += is_t.sum(dim=(0, 2, 3))
        self.spans.append(expected_subset_spans(effective.flatten(2), row_codes.flatten(2), N_TYPES,
                                                self.span_sample).cpu())  # (ex, langs, T)
        self.readings["paper"].update(contribution, effective, row_codes, active)
        del contribution, effective
        if self.means is not None:
            centred = deviations(acts, self.means)  # (ex, langs, layers, d_ff)
            self.readings["centred"].update(contribution_scores(lm, centred, self.norms),
                                            self._effective(lm, centred, flat_tokens).double(), row_codes, active)

    def summaries(self) -> dict[str, dict[str, torch.Tensor]]:
        """Each reading's ``READING_FIELDS`` (empty without value vectors)."""
        return {name: reading.summaries(self.rows) if self.attribution else {}
                for name, reading in self.readings.items()}

    def _effective(self, lm: LoadedModel, acts: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """E_r . (A_i v_i) with each row's reference token: acts (ex, langs, layers, d_ff), tokens (ex x langs,)."""
        return effective_scores(lm, acts, tokens, self.projections(lm, tokens).reshape(acts.shape))

    def projections(self, lm: LoadedModel, tokens: torch.Tensor) -> torch.Tensor:
        """E_r . v_i for each row's token, (rows, layers, d_ff), computed once per distinct token and kept
        (XNLI has three; generation tasks repeat answers across languages). The cache is bounded."""
        missing = sorted(set(tokens.tolist()) - set(self._projections))
        if missing:
            if len(self._projections) + len(missing) > self.MAX_CACHED_TOKENS:
                self._projections.clear()
            self._projections.update(zip(missing, value_projections(lm, torch.tensor(missing)), strict=True))
        return torch.stack([self._projections[t] for t in tokens.tolist()])

    def effective(self) -> torch.Tensor:
        """(langs, T, 3) max, min, mean effective score of each type; NaN where a type had no neuron."""
        mean = self.eff_sum / self.eff_count.clamp_min(1)
        stats = torch.stack([self.eff_max, self.eff_min, mean], dim=-1)
        return stats.masked_fill((self.eff_count == 0)[..., None], torch.nan)
