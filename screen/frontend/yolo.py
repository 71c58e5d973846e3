"""YOLO exported to ONNX: the frame prepared and the output decoded as ultralytics does.

ultralytics' `predict` letterboxes a frame to the smallest multiple of the
stride around `imgsz` (the exported model takes any such shape: it is exported
with a dynamic input), keeps boxes whose best class score passes the threshold
and is the person class, and suppresses overlaps (IoU 0.7, at most 300 boxes).
The same steps here, in NumPy, give the same boxes without importing torch or
ultralytics (tests/test_runtime_parity.py compares them).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..runtime.engines import Network
from ..settings import DetectorSettings
from .frames import Detections, Frame

STRIDE = 32
PAD_VALUE = 114
NMS_IOU = 0.7  #: ultralytics' `iou` default for prediction
MAX_DETECTIONS = 300
MAX_CANDIDATES = 30000


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, tuple[float, float, int, int]]:
    """The network input [1, 3, h, w] (RGB, 0..1) and (gain_x, gain_y, pad_x, pad_y).

    As ultralytics' LetterBox(auto=True): scaled to fit `size`, padded grey (114)
    to the next multiple of the stride, centred.
    """
    height, width = image.shape[:2]
    ratio = min(size / height, size / width)
    new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
    pad_w, pad_h = (size - new_w) % STRIDE / 2, (size - new_h) % STRIDE / 2
    if (width, height) != (new_w, new_h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(pad_h - 0.1), round(pad_h + 0.1)
    left, right = round(pad_w - 0.1), round(pad_w + 0.1)
    padded = cv2.copyMakeBorder(
        image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
    )
    batch = padded[None, :, :, ::-1].transpose(0, 3, 1, 2)  # BGR -> RGB, [1, 3, h, w]
    batch = np.ascontiguousarray(batch, dtype=np.float32) / 255.0
    return batch, (new_w / width, new_h / height, left, top)


def suppress(boxes: np.ndarray, scores: np.ndarray, iou: float, keep_at_most: int) -> np.ndarray:
    """Greedy non-maximum suppression (torchvision's): indices kept, best score first."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    while order.size and len(kept) < keep_at_most:
        best, rest = order[0], order[1:]
        kept.append(best)
        top_left = np.maximum(boxes[best, :2], boxes[rest, :2])
        bottom_right = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        overlap = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        union = areas[best] + areas[rest] - overlap
        order = rest[overlap <= iou * union]
    return np.array(kept, np.int64)


def decode(
    output: np.ndarray,
    placement: tuple[float, float, int, int],
    frame_size: tuple[int, int],
    confidence: float,
    person_class: int,
) -> Detections:
    """Person boxes in frame pixels from one YOLO output [1, 4 + classes, anchors]."""
    predictions = output[0].T  # [anchors, 4 + classes]: cx, cy, w, h, class scores
    classes = predictions[:, 4:]
    best = classes.argmax(axis=1)
    score = classes[np.arange(len(best)), best]
    keep = (score > confidence) & (best == person_class)
    centre, extent, score = predictions[keep, :2], predictions[keep, 2:4], score[keep]
    if len(score) > MAX_CANDIDATES:
        strongest = np.argsort(-score, kind="stable")[:MAX_CANDIDATES]
        centre, extent, score = centre[strongest], extent[strongest], score[strongest]
    boxes = np.concatenate([centre - extent / 2, centre + extent / 2], axis=1)
    kept = suppress(boxes, score, NMS_IOU, MAX_DETECTIONS)
    if not len(kept):
        return Detections.empty()
    gain_x, gain_y, pad_x, pad_y = placement
    boxes = (boxes[kept] - [pad_x, pad_y, pad_x, pad_y]) / [gain_x, gain_y, gain_x, gain_y]
    width, height = frame_size
    boxes = np.clip(boxes, 0, [width, height, width, height])
    return Detections.from_arrays(boxes.astype(np.float32), score[kept].astype(np.float32))


class ExportedYoloDetector:
    """Person boxes from a YOLO network exported to ONNX (see `runtime/convert.py`)."""

    def __init__(
        self,
        network: Network,
        weights: Path,
        settings: DetectorSettings | None = None,
        person_class: int = 0,
    ) -> None:
        self.network = network
        self.weights = weights
        self.settings = settings or DetectorSettings()
        self.person_class = person_class
        self.runtime_note: str | None = None

    @property
    def runtime(self) -> str:
        return self.network.runtime

    def clone(self) -> ExportedYoloDetector:
        """A copy for another thread, sharing the loaded network."""
        twin = object.__new__(ExportedYoloDetector)
        twin.__dict__.update(self.__dict__)
        twin.network = self.network.clone()
        return twin

    def detect(self, frame: Frame) -> Detections:
        batch, placement = letterbox(frame.image, self.settings.imgsz)
        output = self.network.run(batch)
        return decode(output, placement, frame.size, self.settings.confidence, self.person_class)
