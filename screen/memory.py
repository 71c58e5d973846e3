"""Keeping a screening's memory flat: large buffers go back to the system when freed.

glibc keeps freed blocks of up to 32 MB in its heaps for reuse (its mmap threshold
grows with each large free) and gives each thread its own heap: the decoded 720p
frames (2.7 MB each), network inputs and feature chunks of a screening's threads
then fragment several heaps, and peak RSS grew by ~250 MB from one video to the
next.  With blocks of 1 MB or more mapped on their own (unmapped when freed) and
two heaps at most, a 20 s 720p screening peaked at 1029 MB instead of 1339 MB,
the same on a second video.

Training wants the opposite: a step of 8 x 2 x 30 frames allocates and frees
activations of ~350 MB each, which glibc maps and unmaps every time, and the
kernel zeroes every page again (~3 million page faults a step).  Kept in the heap
instead, a step on 2 cores took 33 s instead of 44 s (system time 17 s -> 0).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1  #: glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
LARGE_BLOCK = 1 << 20  #: bytes: blocks this large are mapped on their own
HEAPS = 2


def _mallopt():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return None


def return_large_buffers() -> bool:
    """Tell glibc's malloc to unmap large blocks when freed and keep few heaps; False where
    that cannot be done (not glibc), which costs memory, never correctness."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)) and bool(mallopt(_M_ARENA_MAX, HEAPS))


#: bytes: training's activations up to this size stay in the heap between steps
TRAINING_BLOCK = 1 << 30


def keep_large_buffers() -> bool:
    """Tell glibc's malloc to keep freed blocks up to 1 GB for reuse (training's steps
    allocate the same activations again); False where that cannot be done (not glibc),
    which costs time, never correctness."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, TRAINING_BLOCK)) and bool(
        mallopt(_M_TRIM_THRESHOLD, 2 * TRAINING_BLOCK)
    )
