"""Mask noise for training: the front end's masks are not the renderer's clean ones.

Measured on the phantom video set: the demo model trained on clean rendered masks
scored 65.6% on the videos' true masks but 44.7% on the front end's masks of the
same videos, calling most of them positive.  Two kinds of difference, two kinds of
noise, each off by default:

- `ragged_outlines`: each chosen frame has the pixels of its one-pixel boundary
  band (dilation minus erosion, 3x3) set at random to person or background.
- `segmenter_smoothing`: what the front end's masks look like side by side with the
  true ones (five front-view videos): 5-14% wider, the gaps between legs and
  between arm and body closed, outlines rounded.  That is a mask seen at a lower
  resolution and thresholded below one half: each chosen SEQUENCE (a segmenter
  smooths a whole video alike) is shrunk by a factor of 1.5-3.5, enlarged back and
  thresholded at 0.35-0.5, one draw per sequence.

Every draw comes from the training generator, and none is made when a noise is off,
so a run without it is unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

KERNEL = np.ones((3, 3), np.uint8)


def ragged_outlines(stored: np.ndarray, share: float, generator: torch.Generator) -> np.ndarray:
    """A copy of `stored` [n, 64, 64] uint8 with `share` of its frames' outlines jittered."""
    if share <= 0:
        return stored
    noisy = stored.copy()
    chosen = (torch.rand(len(stored), generator=generator) < share).tolist()
    for index in [i for i, picked in enumerate(chosen) if picked]:
        person = (stored[index] > 127).astype(np.uint8)
        band = (cv2.dilate(person, KERNEL) - cv2.erode(person, KERNEL)).astype(bool)
        coin = torch.rand(stored.shape[1:], generator=generator).numpy() < 0.5
        noisy[index][band] = np.where(coin[band], 255, 0).astype(np.uint8)
    return noisy


#: Ranges of the smoothing: shrink factor and threshold (see the module's docstring).
SMOOTHING_FACTOR = (1.5, 3.5)
SMOOTHING_THRESHOLD = (0.35, 0.5)


def _uniform(bounds: tuple[float, float], generator: torch.Generator) -> float:
    low, high = bounds
    return low + (high - low) * float(torch.rand((), generator=generator))


def segmenter_smoothing(stored: np.ndarray, share: float, generator: torch.Generator) -> np.ndarray:
    """`stored` [n, 64, 64] uint8 of ONE sequence, smoothed as a whole with chance `share`."""
    if share <= 0 or float(torch.rand((), generator=generator)) >= share:
        return stored
    factor = _uniform(SMOOTHING_FACTOR, generator)
    threshold = _uniform(SMOOTHING_THRESHOLD, generator)
    height, width = stored.shape[1:]
    small = (max(1, round(width / factor)), max(1, round(height / factor)))
    smoothed = np.empty_like(stored)
    for index, frame in enumerate(stored):
        shrunk = cv2.resize(frame.astype(np.float32) / 255, small, interpolation=cv2.INTER_AREA)
        grown = cv2.resize(shrunk, (width, height), interpolation=cv2.INTER_LINEAR)
        smoothed[index] = np.where(grown >= threshold, 255, 0)
    return smoothed
