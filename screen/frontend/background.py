"""Background subtraction for fixed cameras, shared by the weight-free detector and segmenter.

The background is bootstrapped from the per-pixel median of frames spread over
the whole video: someone who walks through is at any pixel only briefly, so the
median shows the empty scene and the first seconds are usable at once (a
subtractor learning from scratch would miss them).  MOG2, started from that
median, then follows slow lighting changes; its shadow label is excluded.

The subtraction runs on frames shrunk to `WORK_SIDE` pixels: a walker is still
well over 64 pixels tall there (the silhouette ScoNet reads), and it is about 3x
faster than at 720p.  The median is taken there too (4x fewer pixels at 720p).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

BACKGROUND_SAMPLES = 15  #: frames the median is taken over (odd: an exact median)
_SHADOW = 127  # MOG2's label for shadow pixels (foreground is 255)
_MEDIAN_ROWS = 64  # rows per chunk, to bound the memory of the median
WORK_SIDE = 640  #: longer side of the frames the foreground is computed on


def working_size(shape: tuple[int, ...], work_side: int = WORK_SIDE) -> tuple[float, tuple]:
    """(scale, (width, height)) of frames of `shape` shrunk to at most `work_side` pixels."""
    height, width = shape[:2]
    scale = min(1.0, work_side / max(height, width))
    return scale, (max(1, round(width * scale)), max(1, round(height * scale)))


def shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` at `size` (width, height), averaged over the pixels it covers."""
    if image.shape[1::-1] == size:
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class Scene:
    """The empty scene behind the walkers, at working resolution, for frames of `frame_shape`."""

    image: np.ndarray  #: [h, w, 3] uint8 at working resolution
    agreement: np.ndarray  #: [h, w] share of the samples that showed it (see background_agreement)
    frame_shape: tuple[int, ...]  #: the full frames' shape
    scale: float  #: working pixels per frame pixel


def estimate_scene(samples: Sequence[np.ndarray], work_side: int = WORK_SIDE) -> Scene:
    """The scene from full-size frames spread over a video (one clean frame will do)."""
    if not samples:
        raise ValueError("a background needs at least one frame")
    scale, size = working_size(samples[0].shape, work_side)
    small = [shrink(image, size) for image in samples]
    image = estimate_background(small)
    return Scene(image, background_agreement(small, image), samples[0].shape, scale)


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


def unreliable_share(scene: Scene, boxes: Sequence[np.ndarray], floor: float = 0.7) -> float:
    """Mean share of each box's area (frame pixels) where the scene's agreement is below `floor`."""
    shares = []
    height, width = scene.agreement.shape
    for box in boxes:
        x1, y1, x2, y2 = np.asarray(box, np.float64) * scene.scale
        x1, y1 = max(0, int(x1)), max(0, int(y1))
        x2, y2 = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
        if x2 > x1 and y2 > y1:
            shares.append(float((scene.agreement[y1:y2, x1:x2] < floor).mean()))
    return float(np.mean(shares)) if shares else 0.0


class ForegroundModel:
    """Pixels that differ from the background, with shadows left out, at working resolution.

    Frames go in at full size; `shrink` brings them to the scene's working size
    and `foreground` takes the shrunk frame, so a caller
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
        scene: Scene,
        var_threshold: float = 24.0,
        history: int = 500,
        shadow: float = 0.7,
    ) -> None:
        self.frame_shape = scene.frame_shape
        self.scale = scene.scale
        self.size = scene.image.shape[1::-1]  #: (width, height) at working resolution
        self.background = scene.image  #: the empty scene at working resolution
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
        return shrink(image, self.size)

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
