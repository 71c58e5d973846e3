"""Phantom walkers: synthetic people walking with a controlled, scoliosis-like posture.

The digital equivalent of a physical test phantom: a known answer to test the
pipeline against, to train a demo checkpoint with, and to self-test a camera set-up.
Phantoms test the machinery; they say nothing about clinical accuracy.
"""

from .camera import VIEW_NAMES
from .dataset import build_dataset
from .params import SEVERITY_BANDS, WalkerParams, label_for_severity, sample_walker
from .render import render_masks
from .video import DISTRACTORS, render_video

__all__ = [
    "DISTRACTORS",
    "SEVERITY_BANDS",
    "VIEW_NAMES",
    "WalkerParams",
    "build_dataset",
    "label_for_severity",
    "render_masks",
    "render_video",
    "sample_walker",
]
