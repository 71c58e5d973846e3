"""Person detectors: one frame in, person boxes out.

`YoloDetector` runs an Ultralytics YOLO model through PyTorch and keeps the person
class only (the reference; `yolo.py` runs it exported to ONNX).
`BackgroundDetector` needs no weights: it finds person-shaped foreground blobs
in video from a fixed camera.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..errors import WeightsMissing
from ..settings import NATIVE, DetectorSettings
from .background import ForegroundModel, Scene, kernel
from .frames import Detections, Frame


class Detector(Protocol):
    def detect(self, frame: Frame) -> Detections: ...


class YoloDetector:
    """Person boxes from an Ultralytics YOLO model (.pt).

    Ultralytics .pt files are whole pickles, loaded with weights_only=False: pass
    only a file the model registry resolved (checksum checked) or one the user
    named explicitly.  `threads` is re-applied before every call because
    ultralytics leaves torch on one thread after a prediction.
    """

    def __init__(
        self,
        weights: str | Path,
        settings: DetectorSettings | None = None,
        person_class: int = 0,
        threads: int | None = 1,
    ) -> None:
        weights = Path(weights)
        if not weights.is_file():
            raise WeightsMissing(f"{weights}: YOLO weights not found")
        # No update checks or usage events: frames and results stay on this machine.
        os.environ.setdefault("YOLO_OFFLINE", "1")
        from ultralytics import YOLO

        self.weights = weights
        self.settings = settings or DetectorSettings()
        self.person_class = person_class
        self.threads = threads
        self._model = YOLO(str(weights), task="detect")
        self.runtime_note: str | None = None  #: why it runs here, not on the runtime asked for

    runtime = NATIVE  #: PyTorch, through ultralytics

    def clone(self) -> YoloDetector:
        """Another instance of the same model: one per thread (predictors are not shared)."""
        return YoloDetector(self.weights, self.settings, self.person_class, self.threads)

    def detect(self, frame: Frame) -> Detections:
        if self.threads:
            import torch

            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)
        result = self._model.predict(
            frame.image,
            imgsz=self.settings.imgsz,
            conf=self.settings.confidence,
            classes=[self.person_class],
            device="cpu",
            verbose=False,
        )[0]
        boxes = result.boxes.cpu().numpy()
        return Detections.from_arrays(boxes.xyxy, boxes.conf)


class BackgroundDetector:
    """Person-shaped foreground blobs, for a fixed camera; no weights needed.

    Foreground (shadows excluded) is cleaned by morphology; blobs are kept when
    they are taller than wide (`aspect` = height / width) and at least
    `min_height` of the frame height.  The confidence is how well the blob fills
    its box, so ragged noise scores low.
    """

    def __init__(
        self,
        scene: Scene,
        min_height: float = 0.08,
        aspect: tuple[float, float] = (1.0, 8.0),
        min_fill: float = 0.12,
        var_threshold: float = 24.0,
    ) -> None:
        self.foreground = ForegroundModel(scene, var_threshold=var_threshold)
        self.min_height = min_height
        self.aspect = aspect
        self.min_fill = min_fill
        height = self.foreground.background.shape[0]  # kernels work at the working resolution
        self._open = kernel(max(3, height // 160))
        # Tall closing joins a body split where clothes match the floor or wall.
        self._close = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (max(3, height // 80), max(5, height // 30))
        )

    def detect(self, frame: Frame) -> Detections:
        mask = self.foreground.foreground(self.foreground.shrink(frame.image))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)
        return blob_detections(
            mask, frame.size, self.foreground.scale, self.min_height, self.aspect, self.min_fill
        )


def blob_detections(
    mask: np.ndarray,
    size: tuple[int, int],
    scale: float,
    min_height: float = 0.08,
    aspect: tuple[float, float] = (1.0, 8.0),
    min_fill: float = 0.12,
    merge: bool = True,
) -> Detections:
    """Person-shaped blobs of a 0/255 mask (`scale` times the frame's `size`) as frame boxes.

    Kept when tall (`aspect` = height / width), at least `min_height` of the frame and
    filling at least `min_fill` of the box; the confidence grows with the fill, so
    ragged noise scores low.  `merge` joins the parts of one person that background
    subtraction split; a segmenter does not split people, and merging there would
    join two standing side by side.
    """
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    blobs = [[x, y, x + w, y + h, a] for x, y, w, h, a in stats[1:count]]
    blobs = _merge_split_blobs(blobs) if merge else blobs
    boxes, scores = [], []
    min_px = min_height * mask.shape[0]
    for x1, y1, x2, y2, area in blobs:
        w, h = x2 - x1, y2 - y1
        fill = area / float(w * h)
        if h < min_px or not aspect[0] <= h / w <= aspect[1] or fill < min_fill:
            continue
        boxes.append((x1, y1, x2, y2))
        scores.append(min(1.0, 0.3 + fill))
    if not boxes:
        return Detections.empty()
    width, height = size
    xyxy = np.minimum(np.array(boxes) / scale, [width, height, width, height])
    return Detections.from_arrays(xyxy, np.array(scores))


def _merge_split_blobs(blobs: list[list[int]], gap: float = 0.15) -> list[list[int]]:
    """Join the parts of one person that the foreground split in two.

    Side by side (a pole or door frame in front): they overlap vertically by half
    the shorter one.  Stacked (a shirt the colour of the wall behind): they
    overlap horizontally by half the narrower one.  Either way the gap between
    them is under `gap` times the taller one's height.  Each blob is
    [x1, y1, x2, y2, pixel area].
    """

    def one_person(a: list[int], b: list[int]) -> bool:
        taller = max(a[3] - a[1], b[3] - b[1])
        rows = min(a[3], b[3]) - max(a[1], b[1])  # > 0: overlap, < 0: gap
        columns = min(a[2], b[2]) - max(a[0], b[0])
        side_by_side = rows >= 0.5 * min(a[3] - a[1], b[3] - b[1]) and -columns <= gap * taller
        stacked = columns >= 0.5 * min(a[2] - a[0], b[2] - b[0]) and -rows <= gap * taller
        return side_by_side or stacked

    merged = True
    while merged:
        merged = False
        for i, a in enumerate(blobs):
            for j in range(i + 1, len(blobs)):
                b = blobs[j]
                if one_person(a, b):
                    blobs[i] = [
                        min(a[0], b[0]),
                        min(a[1], b[1]),
                        max(a[2], b[2]),
                        max(a[3], b[3]),
                        a[4] + b[4],
                    ]
                    del blobs[j]
                    merged = True
                    break
            if merged:
                break
    return blobs
