"""Scoliosis screening from a walking video.

A video becomes anonymous binary silhouettes, and the ScoNet-MT gait model
(MICCAI 2024, "Gait Patterns as Biomarkers") turns them into a screening
verdict: positive, neutral or negative, with a confidence.

The library, without the CLI::

    from screen import screen_video

    result = screen_video("walk.mp4", detector="background")
    print(result.verdict, result.confidence, result.note)

`Screener` keeps the networks loaded for many videos; `extract_silhouettes`
runs the front end only.  Settings are the CLI's option names (see
`screen.settings`).  Heavy imports (torch, Paddle) wait until first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Before torch or Paddle start their OpenMP threads: waiting threads sleep instead of spinning.
# Spinning waiters of one library took the cores from the other whenever the machine was busy
# (Paddle ran ~10x slower in a busy process that had torch loaded); on an idle 2-core machine
# passive waiting measured no worse (segmenter 18.6 -> 14.4 ms/crop, classifier 1.33 -> 1.37 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
__all__ = ["Screener", "Settings", "extract_silhouettes", "screen_video", "__version__"]

if TYPE_CHECKING:
    from .frontend.extract import extract_silhouettes
    from .pipeline import Screener
    from .settings import Settings

_LAZY = {
    "Screener": "screen.pipeline",
    "Settings": "screen.settings",
    "extract_silhouettes": "screen.frontend.extract",
}


def screen_video(path: str | Path, **settings: Any):
    """Screen one video with fresh networks; returns its `ScreeningResult`.

    `settings` are flat setting names, e.g. `detector="background", fps=10`.
    """
    from .pipeline import Screener
    from .settings import Settings

    return Screener(Settings.of(**settings)).screen(path).result


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'screen' has no attribute {name!r}")
