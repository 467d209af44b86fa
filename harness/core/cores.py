"""How many cores this process may run on (its CPU affinity where the OS has one), for sizing process pools."""

from __future__ import annotations

import os


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
