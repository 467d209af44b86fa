"""Building blocks of the planted tiny models: family configurations, where each family's FFN keys and values are,
orthonormal answer directions, and keys fitted by linear programming to fire exactly on chosen inputs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import transformers
from filelock import FileLock
from scipy.optimize import linprog
from torch import nn

from harness.core.cache_damage import describe, report_damaged
from harness.core.models import TINY_VOCAB
from harness.core.sources import module_sources

HIDDEN, HEADS = 64, 4
ON_MARGIN, OFF_MARGIN = 3.0, -30.0  # act(-30) * alpha is negligible even for silu's longer tail


@dataclass(frozen=True)
class PlantedFfn:
    """Where one family's FFN keeps what planting sets: key rows (+ bias), value columns, residual bias.

    For gated MLPs A = act(gate) * up: planting uses the gate as the key and fixes up to 1 (zero weight, bias 1).
    """

    key: nn.Linear
    down: nn.Linear
    up: nn.Linear | None = None

    def set_neurons(self, idx: torch.Tensor | int, weight: torch.Tensor | float, bias: torch.Tensor | float) -> None:
        self.key.weight[idx] = weight
        self.key.bias[idx] = bias
        if self.up is not None:
            self.up.weight[idx] = 0.0
            self.up.bias[idx] = 1.0


FAMILY_CONFIGS = {
    "bloom": lambda n_layers: transformers.BloomConfig(
        vocab_size=TINY_VOCAB, hidden_size=HIDDEN, n_layer=n_layers, n_head=HEADS, tie_word_embeddings=False),
    "llama": lambda n_layers: transformers.LlamaConfig(
        vocab_size=TINY_VOCAB, hidden_size=HIDDEN, intermediate_size=4 * HIDDEN, num_hidden_layers=n_layers,
        num_attention_heads=HEADS, num_key_value_heads=HEADS, mlp_bias=True, tie_word_embeddings=False,
        max_position_embeddings=1024),
}
FAMILY_FFNS = {
    "bloom": lambda mlp: PlantedFfn(mlp.dense_h_to_4h, mlp.dense_4h_to_h),
    "llama": lambda mlp: PlantedFfn(mlp.gate_proj, mlp.down_proj, mlp.up_proj),
}



def orthonormal_directions(n: int) -> torch.Tensor:
    """n unit vectors with zero mean over hidden units (so LayerNorm's centring leaves them alone): (n, HIDDEN)."""
    d = torch.zeros(n, HIDDEN)
    for i in range(n):
        d[i, 2 * i], d[i, 2 * i + 1] = 2 ** -0.5, -(2 ** -0.5)
    return d


_FITS: dict[bytes, tuple[np.ndarray, float]] = {}  # this process's fitted keys, by a hash of their inputs
_FITS_KEPT = 4096
_shared_fits: Path | None = None  # where every process building planted models keeps its fits too (share_fits)


def share_fits(directory: Path | None) -> None:
    """Keep fitted keys in ``directory`` as well (None: in this process only), so that processes building planted
    models side by side (a tiny-tier run and its background processes) solve each linear programme once."""
    global _shared_fits  # a process-wide setting, like _FITS itself
    _shared_fits = directory


def fit_key(x: np.ndarray, on: np.ndarray, *, on_margin: float = ON_MARGIN, off_margin: float = OFF_MARGIN,
            on_max: float | None = None) -> tuple[np.ndarray, float]:
    """Smallest-L1 key w and bias b with w.x + b >= on_margin on ``on`` rows (and <= ``on_max`` there, when given,
    so that the neuron fires about equally on all of them) and <= off_margin elsewhere.

    Planted models built on the same inputs fit many of the same keys: a fit is kept for this process (and in the
    shared directory, ``share_fits``) under a hash of its inputs and of this module's code, and handed out again
    (a copy) for the same ones."""
    digest = hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=32)
    digest.update(np.ascontiguousarray(on, dtype=bool).tobytes())
    digest.update(repr((x.shape, x.dtype.str, on_margin, off_margin, on_max)).encode())
    digest.update(repr(module_sources((__name__,))).encode())
    key = digest.digest()
    if key not in _FITS:
        _FITS[key] = _kept_or_solved(_fit_path(key), x.shape[1], lambda: _solve_key(x, on, on_margin, off_margin,
                                                                                    on_max))
        if len(_FITS) > _FITS_KEPT:
            del _FITS[next(iter(_FITS))]
    w, b = _FITS[key]
    return w.copy(), b


def _fit_path(key: bytes) -> Path | None:
    return None if _shared_fits is None else _shared_fits / f"{key.hex()}.npy"


def _kept_or_solved(path: Path | None, width: int,
                    solve: Callable[[], tuple[np.ndarray, float]]) -> tuple[np.ndarray, float]:
    """The fit kept in ``path`` by another process, or solved (and kept there). Two processes may solve a missing
    fit side by side (the same fit, written atomically); a file that is not a fit is damaged: the first process to
    take its file lock reports it, solves the fit again and replaces the file, and the others then read that."""
    if path is None or not path.exists():
        return _write_fit(path, solve())
    with suppress(FitFileError):
        return _read_fit(path, width)
    with FileLock(f"{path}.lock"):
        try:
            return _read_fit(path, width)
        except FitFileError as error:
            report_damaged("fitted-key", path, str(error))
            return _write_fit(path, solve())


class FitFileError(Exception):
    """A file of the fits' directory that is not a fit (damaged, foreign or crafted); says why."""


def _read_fit(path: Path, width: int) -> tuple[np.ndarray, float]:
    """The fit in ``path``: ``width`` weights then the bias, float64."""
    try:
        kept = np.load(path, allow_pickle=False)
    except Exception as error:  # any bytes can be in the file, and each part of the reader raises its own errors
        raise FitFileError(f"not a fit ({path.stat().st_size} bytes): {describe(error)}") from error
    if not isinstance(kept, np.ndarray):  # an archive of arrays (np.load reads any zip file as one)
        kept.close()
        raise FitFileError(f"not a fit: an archive ({path.stat().st_size} bytes)")
    if kept.dtype != np.float64 or kept.shape != (width + 1,):
        raise FitFileError(f"not a fit of {width} weights and a bias: {kept.dtype} {kept.shape}")
    return kept[:-1].copy(), float(kept[-1])


def _write_fit(path: Path | None, fit: tuple[np.ndarray, float]) -> tuple[np.ndarray, float]:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as file:
            np.save(file, np.append(fit[0], fit[1]).astype(np.float64), allow_pickle=False)
        os.replace(tmp, path)  # atomic: a reader sees the whole fit or none
    return fit


def _solve_key(x: np.ndarray, on: np.ndarray, on_margin: float, off_margin: float,
               on_max: float | None) -> tuple[np.ndarray, float]:
    d = x.shape[1]
    rows = np.hstack([x, -x, np.ones((len(x), 1))])  # variables: w+ (d), w- (d), b (free)
    a_ub = np.vstack([-rows[on], rows[~on]] + ([rows[on]] if on_max is not None else []))
    b_ub = np.concatenate([np.full(on.sum(), -on_margin), np.full((~on).sum(), off_margin)]
                          + ([np.full(on.sum(), on_max)] if on_max is not None else []))
    cost = np.concatenate([np.ones(2 * d), [0.0]])
    bounds = [(0, None)] * (2 * d) + [(None, None)]
    result = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if result.status != 0:
        raise RuntimeError(f"planted carrier cannot be fitted: {result.message}")
    return result.x[:d] - result.x[d:2 * d], float(result.x[-1])
