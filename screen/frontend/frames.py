"""The validated data types passed between the video stages.

Each stage takes and returns these, so a stage can be swapped (a neural
detector or a weight-free one) without the others noticing.  Shapes are checked
on construction, with messages that say what was expected and what came.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded, upright frame at the analysis rate."""

    index: int  #: position in the resampled stream, 0, 1, 2, ...
    timestamp: float  #: seconds from the start of the video (the source frame's own time)
    image: np.ndarray  #: [h, w, 3] uint8 BGR

    def __post_init__(self) -> None:
        image = self.image
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"a frame image must be [h, w, 3] uint8, got {image.shape} {image.dtype}"
            )

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]


@dataclass(frozen=True)
class Detections:
    """Person boxes in one frame; `track_id` is filled in by the tracker."""

    xyxy: np.ndarray  #: [n, 4] float32 x1, y1, x2, y2 in frame pixels
    confidence: np.ndarray  #: [n] float32 in 0..1
    track_id: np.ndarray | None = None  #: [n] int64, or None before tracking

    def __post_init__(self) -> None:
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must be [n, 4], got {self.xyxy.shape}")
        n = len(self.xyxy)
        if self.confidence.shape != (n,):
            raise ValueError(f"confidence must be [{n}], got {self.confidence.shape}")
        if self.track_id is not None and self.track_id.shape != (n,):
            raise ValueError(f"track_id must be [{n}], got {self.track_id.shape}")
        if n and np.any(self.xyxy[:, 2:] < self.xyxy[:, :2]):
            raise ValueError("every box needs x2 >= x1 and y2 >= y1")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    @classmethod
    def from_arrays(
        cls, xyxy: np.ndarray, confidence: np.ndarray, track_id: np.ndarray | None = None
    ) -> Detections:
        """Build from any numeric arrays, converting dtypes."""
        xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
        confidence = np.asarray(confidence, np.float32).reshape(-1)
        ids = None if track_id is None else np.asarray(track_id, np.int64).reshape(-1)
        return cls(xyxy, confidence, ids)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, keep: np.ndarray | slice) -> Detections:
        """The detections selected by a boolean mask, index array or slice."""
        ids = None if self.track_id is None else self.track_id[keep]
        return Detections(self.xyxy[keep], self.confidence[keep], ids)


@dataclass(frozen=True)
class CropMask:
    """A binary person mask for a region of a frame; crop-sized keeps it small.

    `normalize_silhouette` accepts it as it is (`mask`): it crops to the rows
    holding the person, so pasting into the full frame first is never needed.
    """

    x: int  #: left of the region in frame pixels
    y: int  #: top of the region in frame pixels
    mask: np.ndarray  #: [h, w] uint8, 0 or 255

    def __post_init__(self) -> None:
        if self.mask.ndim != 2 or self.mask.dtype != np.uint8:
            raise ValueError(
                f"a mask must be [h, w] uint8, got {self.mask.shape} {self.mask.dtype}"
            )

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.mask))

    def to_frame(self, size: tuple[int, int]) -> np.ndarray:
        """The mask pasted into an empty frame of (width, height)."""
        width, height = size
        full = np.zeros((height, width), np.uint8)
        h, w = self.mask.shape
        x0, y0 = max(self.x, 0), max(self.y, 0)
        x1, y1 = min(self.x + w, width), min(self.y + h, height)
        if x1 > x0 and y1 > y0:
            full[y0:y1, x0:x1] = self.mask[y0 - self.y : y1 - self.y, x0 - self.x : x1 - self.x]
        return full


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two xyxy boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
