"""Shared fixtures; keeps ultralytics and matplotlib off the network and out of $HOME."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

_cache = Path(tempfile.gettempdir()) / "scoliosis-screen-tests"
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(_cache / "ultralytics"))
os.environ.setdefault("MPLCONFIGDIR", str(_cache / "matplotlib"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _warnings_logged():
    """A CLI run with --quiet sets the root logger to ERROR (`set_verbosity`), also inside a
    module-scoped fixture: each test starts at Python's default level, or its caplog would
    see no warning at all."""
    logging.getLogger().setLevel(logging.WARNING)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a clean skip where the project was cloned alone."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test material not found at {SHARED_DATA}")
    return SHARED_DATA


def walker_mask(
    height: int = 400,
    width: int = 300,
    top: int = 50,
    box_h: int = 300,
    box_w: int = 100,
    left: int | None = None,
) -> np.ndarray:
    """A binary frame holding one upright rectangle, a crude stand-in for a person."""
    mask = np.zeros((height, width), np.uint8)
    left = (width - box_w) // 2 if left is None else left
    mask[top : top + box_h, left : left + box_w] = 255
    return mask


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    """Two tiny side-view phantom walkers and a broken file, listed in a labels CSV."""
    from screen.phantom import render_video, sample_walker

    folder = tmp_path_factory.mktemp("labelled")
    for label, seed in (("positive", 1), ("negative", 2)):
        render_video(folder / "videos" / f"{label}.mp4", sample_walker(label, seed), seconds=3,
                     size=(160, 120), view="side")  # fmt: skip
    (folder / "videos" / "broken.mp4").write_text("not a video at all")
    labels = folder / "labels.csv"
    labels.write_text("video,label\nvideos/positive.mp4,positive\nvideos/negative.mp4,negative\n"
                      "videos/broken.mp4,neutral\n")  # fmt: skip
    return labels
