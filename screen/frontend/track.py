"""ByteTrack (Ultralytics' BYTETracker as a library): detections in, boxes with track ids out."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np

from ..settings import TrackerSettings
from .frames import Detections


class _BoxesView:
    """The slice of Ultralytics' `Boxes` interface that BYTETracker reads."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray) -> None:
        self.xyxy = xyxy
        self.conf = conf
        self.cls = np.zeros(len(conf), np.float32)  # one class: person

    @property
    def xywh(self) -> np.ndarray:
        centre = (self.xyxy[:, :2] + self.xyxy[:, 2:]) / 2
        return np.concatenate([centre, self.xyxy[:, 2:] - self.xyxy[:, :2]], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, keep: np.ndarray) -> _BoxesView:
        return _BoxesView(self.xyxy[keep], self.conf[keep])


class ByteTracker:
    """Gives each person a track id that persists across frames and short occlusions.

    Feed every analysed frame in order, with or without detections.  The boxes
    returned are the detector's own (not the Kalman-smoothed ones), so a
    segmenter crops what was actually seen.
    """

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        from ultralytics.trackers.byte_tracker import BYTETracker

        self.settings = settings or TrackerSettings()
        self._tracker = BYTETracker(SimpleNamespace(**dataclasses.asdict(self.settings)))

    def update(self, detections: Detections) -> Detections:
        """The detections that belong to a confirmed track, with `track_id` filled in."""
        view = _BoxesView(detections.xyxy.astype(np.float32), detections.confidence)
        tracked = self._tracker.update(view)  # [m, 8]: x1, y1, x2, y2, id, score, cls, index
        if len(tracked) == 0:
            return Detections.from_arrays(np.zeros((0, 4)), np.zeros(0), np.zeros(0))
        index = tracked[:, 7].astype(np.int64)
        return Detections(
            detections.xyxy[index], detections.confidence[index], tracked[:, 4].astype(np.int64)
        )
