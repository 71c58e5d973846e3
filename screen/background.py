"""Background subtraction for fixed cameras, shared by the weight-free detector and segmenter.

The background is bootstrapped from the per-pixel median of frames spread over
the whole video: someone who walks through is at any pixel only briefly, so the
median shows the empty scene and the first seconds are usable at once (a
subtractor learning from scratch would miss them).  MOG2, started from that
median, then follows slow lighting changes; its shadow label is excluded.

The subtraction runs on frames shrunk to `WORK_SIDE` pixels: a walker is still
well over 64 pixels tall there (the silhouette ScoNet reads), and it is about 3x
faster than at 720p.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

BACKGROUND_SAMPLES = 15  #: frames the median is taken over (odd: an exact median)
_SHADOW = 127  # MOG2's label for shadow pixels (foreground is 255)
_MEDIAN_ROWS = 64  # rows per chunk, to bound the memory of the median
WORK_SIDE = 640  #: longer side of the frames the foreground is computed on


def estimate_background(images: Sequence[np.ndarray]) -> np.ndarray:
    """The per-pixel median of frames: the scene without the people moving through it."""
    if not images:
        raise ValueError("a background needs at least one frame")
    stack = np.stack(images)  # [n, h, w, 3] uint8
    background = np.empty_like(stack[0])
    for top in range(0, stack.shape[1], _MEDIAN_ROWS):
        rows = slice(top, top + _MEDIAN_ROWS)
        background[rows] = np.median(stack[:, rows], axis=0).round().astype(np.uint8)
    return background


def background_agreement(
    images: Sequence[np.ndarray], background: np.ndarray, tolerance: int = 20
) -> np.ndarray:
    """[h, w] share of the frames that show the median's colour at each pixel.

    Low where the background was rarely seen clear: someone stood or walked
    there in most frames (e.g. walking to and from the camera along one line),
    so the median there is partly a person and background subtraction fails.
    """
    agree = np.zeros(background.shape[:2], np.float32)
    reference = background.astype(np.int16)
    for image in images:
        agree += np.abs(image.astype(np.int16) - reference).max(axis=2) <= tolerance
    return agree / max(len(images), 1)


def unreliable_share(
    agreement: np.ndarray, boxes: Sequence[np.ndarray], floor: float = 0.7
) -> float:
    """Mean share of each box's area where the background agreement is below `floor`."""
    shares = []
    height, width = agreement.shape
    for box in boxes:
        x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
        x2, y2 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
        if x2 > x1 and y2 > y1:
            shares.append(float((agreement[y1:y2, x1:x2] < floor).mean()))
    return float(np.mean(shares)) if shares else 0.0


class ForegroundModel:
    """Pixels that differ from the background, with shadows left out, at working resolution.

    Frames go in at full size; `shrink` brings them to the working size (longer
    side at most `work_side`) and `foreground` takes the shrunk frame, so a caller
    that also needs the shrunk pixels shrinks once.  `scale` maps frame pixels to
    working pixels.

    `var_threshold` is MOG2's squared Mahalanobis distance for "foreground".  A
    pixel of the background's colour but darker by a factor between `shadow` and
    1 is a shadow; darker still counts as foreground, since trousers darker than
    a similar-coloured floor were otherwise lost as "shadow".  The learning rate
    is fixed at 1 / `history`: MOG2's own choice is fast in its first frames and
    would soak a slow walker into the background.
    """

    def __init__(
        self,
        background: np.ndarray,
        var_threshold: float = 24.0,
        history: int = 500,
        shadow: float = 0.7,
        work_side: int = WORK_SIDE,
    ) -> None:
        height, width = background.shape[:2]
        self.frame_shape = background.shape
        self.scale = min(1.0, work_side / max(height, width))
        self.size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        self.background = self.shrink(background)  #: the empty scene at working resolution
        self.learning_rate = 1.0 / history
        self._mog = cv2.createBackgroundSubtractorMOG2(history, var_threshold, True)
        self._mog.setShadowThreshold(shadow)
        # Compressed video is noisier than MOG2's default start variance expects.
        self._mog.setVarInit(30.0)
        self._mog.apply(self.background, learningRate=1.0)  # 1.0: start the model from this image

    def shrink(self, image: np.ndarray) -> np.ndarray:
        """A full-size frame at working resolution."""
        if image.shape != self.frame_shape:
            raise ValueError(
                f"frame {image.shape} does not match the background {self.frame_shape}"
            )
        if self.scale == 1.0:
            return image
        return cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)

    def foreground(self, small: np.ndarray) -> np.ndarray:
        """[h, w] uint8 mask of a shrunk frame, 255 where something stands before the background."""
        labels = self._mog.apply(small, learningRate=self.learning_rate)
        return np.where(labels == 255, np.uint8(255), np.uint8(0))


def kernel(size: int, shape: int = cv2.MORPH_ELLIPSE) -> np.ndarray:
    return cv2.getStructuringElement(shape, (max(1, size), max(1, size)))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill regions of a 0/255 mask that the border cannot reach."""
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    reach = padded.copy()
    flood = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8)
    cv2.floodFill(reach, flood, (0, 0), 255)
    holes = cv2.bitwise_not(reach)[1:-1, 1:-1]
    return cv2.bitwise_or(mask, holes)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Only the largest 8-connected region of a 0/255 mask."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return np.zeros_like(mask)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.where(labels == biggest, np.uint8(255), np.uint8(0))
