"""Training mask noise (ragged outlines, segmenter-like smoothing) from the training generator."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from screen.training.augment import KERNEL, ragged_outlines, segmenter_smoothing


def _walkers(count: int = 6) -> np.ndarray:
    frames = np.zeros((count, 64, 64), np.uint8)
    for index in range(count):
        cv2.ellipse(frames[index], (32, 32), (10 + index, 28), 0, 0, 360, 255, -1)
    return frames


@pytest.mark.parametrize("noise", [ragged_outlines, segmenter_smoothing])
def test_off_changes_nothing_and_draws_nothing(noise):
    generator = torch.Generator().manual_seed(3)
    before = generator.get_state()
    frames = _walkers()
    assert noise(frames, 0.0, generator) is frames
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


def _legs(count: int = 4) -> np.ndarray:
    """Walkers with a gap between the legs: two bars under a body."""
    frames = np.zeros((count, 64, 64), np.uint8)
    frames[:, 4:34, 24:38] = 255  # head and trunk
    frames[:, 34:62, 24:30] = 255  # left leg
    frames[:, 34:62, 32:38] = 255  # right leg, a 2-pixel gap as between phantoms' legs
    return frames


def test_smoothing_widens_walkers_closes_gaps_and_treats_a_sequence_alike():
    frames = _legs()
    smoothed = segmenter_smoothing(frames, 1.0, torch.Generator().manual_seed(1))
    again = segmenter_smoothing(frames, 1.0, torch.Generator().manual_seed(1))
    assert np.array_equal(smoothed, again)
    assert set(np.unique(smoothed)) <= {0, 255}  # still a binary mask
    assert all(np.array_equal(smoothed[0], frame) for frame in smoothed)  # one draw per sequence
    widths, closed = [], []
    for seed in range(40):
        one = segmenter_smoothing(frames[:1], 1.0, torch.Generator().manual_seed(seed))[0]
        widths.append((one > 127).sum() / (frames[0] > 127).sum())
        closed.append((one[40:56, 30:32] > 127).mean() > 0.5)
    assert 1.02 < np.mean(widths) < 1.3  # wider on average, as the front end's (5-14%)
    assert 0.2 < np.mean(closed) < 0.9  # the gap between the legs is closed in some draws


def test_smoothing_a_share_picks_about_that_many_sequences():
    generator = torch.Generator().manual_seed(0)
    frames = _legs(1)
    touched = sum(
        not np.array_equal(segmenter_smoothing(frames, 0.3, generator), frames) for _ in range(200)
    )
    assert 35 <= touched <= 85
