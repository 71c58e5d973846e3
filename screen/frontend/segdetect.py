"""People found by the person segmenter run over the whole frame: boxes for the tracker.

A trained segmenter (PP-HumanSeg, 192x192) knows what a person looks like, so
unlike background subtraction it needs no empty scene and does not care how the
camera moves: on phantoms filmed by a pan or a shaking hand it kept the walker in
95-100% of frames where background subtraction kept 0-25%.  The frame is padded to
a square and segmented once; each person-shaped region of the probability map
becomes a box.  It runs on every frame: boxes interpolated between every other
frame lag a shaking camera (shake: 45% kept at stride 2).
"""

from __future__ import annotations

import cv2
import numpy as np

from .detect import blob_detections
from .frames import Detections, Frame
from .segment import HumanSegmenter

THRESHOLD = 0.6  #: person probability of a detected region (above the mask's 0.5: fewer joins)


class SegmenterDetector:
    """Boxes of the person regions PP-HumanSeg finds in the whole frame.

    `segmenter` may be the very one that segments the participant in pass 2 (the
    passes run one after the other, so they can share its predictor).
    """

    def __init__(
        self,
        segmenter: HumanSegmenter,
        threshold: float = THRESHOLD,
        min_height: float = 0.08,
        aspect: tuple[float, float] = (0.8, 8.0),
        min_fill: float = 0.12,
    ) -> None:
        self.segmenter = segmenter
        self.threshold = threshold
        self.min_height, self.aspect, self.min_fill = min_height, aspect, min_fill
        self._open = np.ones((3, 3), np.uint8)

    @property
    def holds_gil(self) -> bool:
        """Paddle: one predictor with more math threads instead of copies (see Frontend)."""
        return self.segmenter.holds_gil

    def use_threads(self, threads: int) -> None:
        self.segmenter.use_threads(threads)

    def clone(self) -> SegmenterDetector:
        """A copy for another thread (ONNX Runtime / OpenVINO: the network is shared)."""
        twin = SegmenterDetector(self.segmenter.clone(), self.threshold, self.min_height,
                                 self.aspect, self.min_fill)  # fmt: skip
        return twin

    def detect(self, frame: Frame) -> Detections:
        probability = self.segmenter.frame_probability([frame.image])[0]
        mask = np.where(probability >= self.threshold, np.uint8(255), np.uint8(0))
        # Opening cuts the faint lines (a wall's edge) that would join a person to the room.
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        scale = mask.shape[0] / frame.size[1]
        return blob_detections(
            mask, frame.size, scale, self.min_height, self.aspect, self.min_fill, merge=False
        )
