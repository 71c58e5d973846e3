"""glibc's malloc settings: training reuses its large buffers, screening returns them."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

#: A child process mallocs, fills and frees 200 MB five times (as torch's CPU allocator
#: does with a training step's activations) and prints the page faults of the last four.
ROUNDS = """
import ctypes, resource, sys
from screen.memory import keep_large_buffers
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "keep":
    assert keep_large_buffers()
size, faults = 200 << 20, []
for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)  # every page touched
    libc.free(block)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sum(faults[1:]))
"""


def _faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip())


def test_kept_large_buffers_are_not_faulted_in_again_each_round():
    fresh = _faults("default")  # glibc maps 200 MB afresh each time: ~49,000 pages a round
    kept = _faults("keep")
    assert fresh > 100_000
    assert kept < fresh / 20
