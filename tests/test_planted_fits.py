"""Keys fitted by linear programming are shared between processes through a directory: a fit read back is the fit
solved (a file that is not a fit is solved again, never used: tests/test_cache_damage.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from harness.planted import building
from harness.planted.building import fit_key, share_fits


@pytest.fixture()
def shared(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    monkeypatch.setattr(building, "_FITS", {})  # this process's own fits: as in a fresh process
    share_fits(tmp_path)
    yield tmp_path
    share_fits(None)


def _problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 8))
    return x, x[:, 0] > 0.5


def test_a_fit_from_another_process_is_the_solved_fit(shared: Path, monkeypatch) -> None:
    x, on = _problem()
    w, b = fit_key(x, on)
    (file,) = shared.glob("*.npy")
    monkeypatch.setattr(building, "_FITS", {})  # another process: nothing solved in it yet
    monkeypatch.setattr(building, "_solve_key", lambda *args: pytest.fail("solved again"))
    w_read, b_read = fit_key(x, on)
    assert np.array_equal(w_read, w) and b_read == b and w.shape == (8,)
    score = x @ w + b
    assert (score[on] >= building.ON_MARGIN - 1e-6).all() and (score[~on] <= building.OFF_MARGIN + 1e-6).all()
    assert file.exists()
