"""Mask noise for training: ragged outlines, drawn from the training generator."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from screen.training.augment import KERNEL, ragged_outlines


def _walkers(count: int = 6) -> np.ndarray:
    frames = np.zeros((count, 64, 64), np.uint8)
    for index in range(count):
        cv2.ellipse(frames[index], (32, 32), (10 + index, 28), 0, 0, 360, 255, -1)
    return frames


def test_off_changes_nothing_and_draws_nothing():
    generator = torch.Generator().manual_seed(3)
    before = generator.get_state()
    frames = _walkers()
    assert ragged_outlines(frames, 0.0, generator) is frames
    assert torch.equal(generator.get_state(), before)  # a run without noise is unchanged


def test_only_the_outline_changes_and_the_same_seed_gives_the_same_noise():
    frames = _walkers()
    noisy = ragged_outlines(frames, 1.0, torch.Generator().manual_seed(3))
    again = ragged_outlines(frames, 1.0, torch.Generator().manual_seed(3))
    assert np.array_equal(noisy, again)
    for clean, jittered in zip(frames, noisy, strict=True):
        person = (clean > 127).astype(np.uint8)
        band = (cv2.dilate(person, KERNEL) - cv2.erode(person, KERNEL)).astype(bool)
        changed = clean != jittered
        assert changed.any() and not (changed & ~band).any()  # the outline, nothing else
        assert changed.sum() < 0.2 * person.sum()  # the body keeps its shape


def test_a_share_picks_about_that_many_frames():
    frames = _walkers(200)
    noisy = ragged_outlines(frames, 0.25, torch.Generator().manual_seed(0))
    touched = sum(not np.array_equal(a, b) for a, b in zip(frames, noisy, strict=True))
    assert 30 <= touched <= 70
