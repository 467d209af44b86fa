"""Peak host memory of ``measure`` does not grow with the number of examples (target in bench/README.md:
64 vs 512 examples < 50 MB apart).

Each size runs in a fresh subprocess (``python bench/test_memory.py N`` prints JSON) so one cannot pollute the
other; RSS is sampled in a thread, since tracemalloc does not see torch's allocations.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

SIZES = (64, 512)
LIMIT_MB = 50.0


def probe(n_examples: int) -> dict[str, float]:
    """RSS (MB) before and at the sampled peak of one measure run on ``n_examples`` (small BLOOM, 16 tokens,
    3 languages)."""
    import psutil
    from common import SMALL, build_bloom, synthetic_examples

    from harness.papers.sharing_matters.measurement import MeasureConfig, measure
    from harness.tasks import task_spec

    lm = build_bloom(SMALL)
    examples = synthetic_examples(n_examples, ("en", "de", "zh"), n_tokens=16)
    process, peak, done = psutil.Process(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    measure(lm, examples[:2], task_spec("xnli"), MeasureConfig())  # warm-up: lazy imports, allocator
    before = process.memory_info().rss
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tic = time.perf_counter()
    result = measure(lm, examples, task_spec("xnli"), MeasureConfig())
    seconds = time.perf_counter() - tic
    done.set()
    sampler.join()
    assert result.correct["baseline"].shape == (n_examples, 3)
    mb = 1024 * 1024
    return {"before_mb": before / mb, "peak_mb": max(peak[0], before) / mb, "growth_mb": (peak[0] - before) / mb,
            "process_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "seconds": seconds}


def run_probe(n_examples: int) -> dict[str, float]:
    here = Path(__file__).resolve()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(here.parent), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, str(here), str(n_examples)], capture_output=True, text=True, env=env,
                         check=True, cwd=here.parents[1], timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_peak_memory_flat(benchmark, report_ratio) -> None:
    results: dict[int, dict[str, float]] = {}
    benchmark.pedantic(lambda: results.update({n: run_probe(n) for n in SIZES}), rounds=1, iterations=1)
    small, large = (results[n] for n in SIZES)
    apart = max(large[k] - small[k] for k in ("peak_mb", "process_peak_mb"))  # sampled, and the kernel's peak
    report_ratio(f"peak RSS {SIZES[1]} vs {SIZES[0]} examples (must be < {LIMIT_MB:.0f} MB apart)", {
        "peak_apart_mb": apart, **{f"{k}_{n}": v for n, r in results.items() for k, v in r.items()}})
    assert abs(apart) < LIMIT_MB, f"peak RSS grows with the examples: {results}"


if __name__ == "__main__":
    print(json.dumps(probe(int(sys.argv[1]))))
