"""How many CPU cores this process may use: one answer for every stage and command."""

from __future__ import annotations

import os

#: Set by `screen batch` in each worker process: that worker's share of the cores.
CPU_SHARE_VARIABLE = "SCREEN_CPU_SHARE"


def available_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def core_share() -> int:
    """This process's share: what `screen batch` gave its worker, else every available core."""
    share = os.environ.get(CPU_SHARE_VARIABLE, "")
    return max(1, int(share)) if share.isdigit() else available_cores()
