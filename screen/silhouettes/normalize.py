"""The one silhouette normalisation, used by training, inference and export alike.

A binary mask of any size becomes the 64x64 uint8 *stored* form (OpenGait's
pretreatment, dropping rules included); the stored form becomes the 64x44 float
*model input* (10 columns cut from each side, divided by 255).  Never cut twice:
pickles and PNG exports hold the stored form, only the classifier sees the input form.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

STORED_SIZE = 64  #: height and width of the stored silhouette
INPUT_WIDTH = 44  #: width the classifier sees after the side cut
SIDE_CUT = (STORED_SIZE - INPUT_WIDTH) // 2  #: columns cut from each side
MIN_PIXEL_SUM = 10000  #: frames whose pixel sum is at most this are dropped (OpenGait)
MIN_SEQUENCE_FRAMES = 5  #: OpenGait treats shorter sequences as suspect


def as_uint8_mask(mask: np.ndarray) -> np.ndarray:
    """A bool, 0/1 or 0..255 2-D mask as uint8 0..255 (grey levels kept)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"a silhouette must be a 2-D mask, got shape {mask.shape}")
    if mask.dtype == np.bool_:
        return mask.astype(np.uint8) * 255
    if mask.dtype == np.uint8:
        return mask if mask.max(initial=0) > 1 else mask * 255
    if np.issubdtype(mask.dtype, np.floating) and mask.max(initial=0.0) <= 1.0:
        return np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.clip(mask, 0, 255).astype(np.uint8)


def normalize_silhouette(mask: np.ndarray) -> np.ndarray | None:
    """One mask -> the 64x64 uint8 stored form, or None where OpenGait drops the frame.

    A frame is dropped when it is almost empty (pixel sum <= 10000 on the 0..255
    scale) or when its horizontal centre falls on the first column.
    """
    img = as_uint8_mask(mask)
    if int(img.sum(dtype=np.int64)) <= MIN_PIXEL_SUM:
        return None
    rows = np.flatnonzero(img.sum(axis=1, dtype=np.int64))
    img = img[rows[0] : rows[-1] + 1, :]
    # The person is taller than wide: scale by height, keep the aspect ratio.
    width = max(1, int(STORED_SIZE * img.shape[1] / img.shape[0]))
    img = cv2.resize(img, (width, STORED_SIZE), interpolation=cv2.INTER_CUBIC)
    column_sums = img.sum(axis=0, dtype=np.int64)
    total = int(column_sums.sum())
    if total == 0:
        return None
    # x-centre: the first column where the cumulative mass passes half the total.
    x_center = int(np.argmax(np.cumsum(column_sums) > total / 2))
    if x_center == 0:
        return None
    half = STORED_SIZE // 2
    left, right = x_center - half, x_center + half
    if left <= 0 or right >= img.shape[1]:
        pad = np.zeros((STORED_SIZE, half), dtype=np.uint8)
        img = np.concatenate([pad, img, pad], axis=1)
        left, right = left + half, right + half
    return np.ascontiguousarray(img[:, left:right], dtype=np.uint8)


@dataclass(frozen=True)
class NormalizedSequence:
    """Stored-form silhouettes and which input frames they came from."""

    frames: np.ndarray  #: [T, 64, 64] uint8
    kept: tuple[int, ...]  #: index in the input of each kept frame

    def __post_init__(self) -> None:
        if self.frames.ndim != 3 or self.frames.shape[1:] != (STORED_SIZE, STORED_SIZE):
            raise ValueError(f"expected [T, 64, 64] silhouettes, got {self.frames.shape}")
        if self.frames.dtype != np.uint8:
            raise ValueError(f"expected uint8 silhouettes, got {self.frames.dtype}")
        if len(self.kept) != len(self.frames):
            raise ValueError("one kept index per frame is required")

    @property
    def suspect(self) -> bool:
        """Fewer than five usable frames: OpenGait's own warning sign."""
        return len(self.frames) < MIN_SEQUENCE_FRAMES


def normalize_sequence(masks: Iterable[np.ndarray]) -> NormalizedSequence:
    """Normalise every mask of a sequence, dropping the frames OpenGait drops."""
    frames: list[np.ndarray] = []
    kept: list[int] = []
    for index, mask in enumerate(masks):
        stored = normalize_silhouette(mask)
        if stored is not None:
            frames.append(stored)
            kept.append(index)
    stack = np.stack(frames) if frames else np.zeros((0, STORED_SIZE, STORED_SIZE), np.uint8)
    return NormalizedSequence(stack, tuple(kept))


def to_model_input(stored: np.ndarray) -> np.ndarray:
    """Stored form [..., 64, 64] uint8 -> model input [..., 64, 44] float32 in 0..1."""
    stored = np.asarray(stored)
    if stored.shape[-2:] != (STORED_SIZE, STORED_SIZE):
        raise ValueError(
            f"expected stored 64x64 silhouettes, got {stored.shape[-2:]} "
            "(was the side cut already applied?)"
        )
    return stored[..., SIDE_CUT : STORED_SIZE - SIDE_CUT].astype(np.float32) / 255.0
