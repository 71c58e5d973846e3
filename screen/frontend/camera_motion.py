"""Whether the camera moved: measured on the background itself, for the flag `camera_moving`.

A phone that follows the walker or shakes in the hand breaks the weight-free
stages (one median background of the whole video) and is worth telling the
screening team about whatever the detector.  Corners are tracked from frame to
frame by pyramidal Lucas-Kanade and a homography is fitted with RANSAC; the
median displacement of the inliers is the camera's motion in that frame.  Corners
inside the detected people's boxes are not used: a walker coming towards a fixed
camera in a plain corridor holds most of the corners, and RANSAC's tolerance took
their sub-pixel growth for the camera's (a tripod flagged moving).  Measured on
grey frames of 320 pixels in pass 1, in frame order: 2-4 ms per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .background import shrink, working_size
from .frames import Frame

CAMERA_MOVING = "camera_moving"  #: quality flag: the camera moved during the video
#: Median background displacement per analysed frame (share of the frame height) above which
#: the camera is called moving.  A tripod measures ~0.0003 (noise, compression); a hand's
#: tremor ~0.003-0.01; a pan more.
MOVING_SHARE = 0.0015
#: How far the camera wandered over the whole video (the range of its path, as a share of the
#: frame height) above which it is called moving too: a slow pan or tilt moves less than
#: MOVING_SHARE per frame but smears the median background all the same.  Measured on 8 s
#: phantom videos: fixed cameras 0.0005-0.0025, slow pans 0.029-0.091, shakes 0.076.
DRIFT_SHARE = 0.015
MOTION_SIDE = 320  #: longer side of the grey frames the motion is measured on
MAX_CORNERS = 300
MIN_INLIERS = 12  #: fewer background points than this (a blank wall, a blur): not measured


UNMEASURED = np.zeros((0, 2))


def background_shift(
    previous: np.ndarray, points: np.ndarray | None, gray: np.ndarray
) -> np.ndarray:
    """Displacements [n, 2] (px) of the background's `points` from `previous` to `gray`: the
    RANSAC inliers of one homography.  Empty where it cannot be measured: too few corners,
    tracked or agreeing on one motion."""
    if points is None or len(points) < MIN_INLIERS:
        return UNMEASURED
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        previous, gray, points, None, winSize=(21, 21), maxLevel=3
    )
    good = status.reshape(-1) == 1
    if good.sum() < MIN_INLIERS:
        return UNMEASURED
    source, target = points[good].reshape(-1, 2), moved[good].reshape(-1, 2)
    homography, inliers = cv2.findHomography(source, target, cv2.RANSAC, 1.5)
    if homography is None or inliers is None or inliers.sum() < MIN_INLIERS:
        return UNMEASURED
    kept = inliers.reshape(-1).astype(bool)
    return target[kept] - source[kept]


@dataclass
class CameraMotion:
    """The camera's displacement frame by frame, fed the frames in order (`observe`)."""

    displacement: list[float] = field(default_factory=list)  #: frame px per frame, NaN: unmeasured
    height: int = 0  #: frame height, to judge displacement against
    #: frame index -> the background's total shift [dx, dy] since the first frame (frame px):
    #: subtracted from a box, it says where the person is in the scene, not in the picture
    path: dict[int, np.ndarray] = field(default_factory=dict)
    _previous: np.ndarray | None = field(default=None, repr=False)
    _points: np.ndarray | None = field(default=None, repr=False)

    def observe(self, frame: Frame, people: np.ndarray | None = None) -> None:
        """Measure the motion since the previous frame observed (the first has none).

        `people`: [n, 4] xyxy boxes of the people in this frame, whose corners are left out.
        """
        scale, size = working_size(frame.image.shape, MOTION_SIDE)
        gray = cv2.cvtColor(shrink(frame.image, size), cv2.COLOR_BGR2GRAY)
        background = np.full(gray.shape, 255, np.uint8)
        for x1, y1, x2, y2 in np.asarray(people if people is not None else []).reshape(-1, 4):
            grow = 0.1 * (x2 - x1)  # a swinging arm just outside the box
            left, right = int((x1 - grow) * scale), int(np.ceil((x2 + grow) * scale))
            background[max(0, int(y1 * scale)) : int(np.ceil(y2 * scale)), max(0, left) : right] = 0
        total = self.path[max(self.path)] if self.path else np.zeros(2)
        if self._previous is not None:
            moved = background_shift(self._previous, self._points, gray) / scale
            if len(moved):  # the median length says how much; the median vector, where to
                self.displacement.append(float(np.median(np.linalg.norm(moved, axis=1))))
                total = total + np.median(moved, axis=0)
            else:  # unmeasured: the path assumes the camera stood still
                self.displacement.append(float("nan"))
        self.path[frame.index] = total
        self.height = frame.image.shape[0]
        self._previous = gray
        self._points = cv2.goodFeaturesToTrack(
            gray, MAX_CORNERS, 0.01, max(4, gray.shape[0] // 40), mask=background, blockSize=5
        )

    @property
    def median_share(self) -> float:
        """Median displacement per frame as a share of the frame height (0 when unmeasured)."""
        measured = [d for d in self.displacement if np.isfinite(d)]
        if not measured or not self.height:
            return 0.0
        return float(np.median(measured)) / self.height

    @property
    def drift_share(self) -> float:
        """The range of the camera's path over the video, as a share of the frame height."""
        if len(self.path) < 2 or not self.height:
            return 0.0
        path = np.array(list(self.path.values()))
        return float(np.linalg.norm(np.ptp(path, axis=0))) / self.height

    @property
    def moving(self) -> bool:
        return self.median_share > MOVING_SHARE or self.drift_share > DRIFT_SHARE
