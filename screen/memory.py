"""Keeping a screening's memory flat: large buffers go back to the system when freed.

glibc keeps freed blocks of up to 32 MB in its heaps for reuse (its mmap threshold
grows with each large free) and gives each thread its own heap: the decoded 720p
frames (2.7 MB each), network inputs and feature chunks of a screening's threads
then fragment several heaps, and peak RSS grew by ~250 MB from one video to the
next.  With blocks of 1 MB or more mapped on their own (unmapped when freed) and
two heaps at most, a 20 s 720p screening peaked at 1029 MB instead of 1339 MB,
the same on a second video.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_MMAP_THRESHOLD = -3  #: glibc's mallopt parameters (malloc.h)
_M_ARENA_MAX = -8
LARGE_BLOCK = 1 << 20  #: bytes: blocks this large are mapped on their own
HEAPS = 2


def return_large_buffers() -> bool:
    """Tell glibc's malloc to unmap large blocks when freed and keep few heaps; False where
    that cannot be done (not glibc), which costs memory, never correctness."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)) and bool(mallopt(_M_ARENA_MAX, HEAPS))
