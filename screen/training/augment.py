"""Mask noise for training: the front end's masks are not the renderer's clean ones.

Measured on the phantom video set: the demo model trained on clean rendered masks
scored 65.6% on the videos' true masks but 44.7% on the front end's masks of the
same videos, calling most of them positive: ragged edges read as asymmetry.  This
makes training masks ragged in the same place, the outline: each chosen frame has
the pixels of its one-pixel boundary band (dilation minus erosion, 3x3) set at
random to person or background.  Every draw comes from the training generator, and
none is made when the noise is off, so a run without it is unchanged.
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
