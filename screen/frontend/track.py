"""ByteTrack (Ultralytics' BYTETracker as a library): detections in, boxes with track ids out."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .frames import Detections


@dataclass(frozen=True)
class TrackerSettings:
    """ByteTrack thresholds (Ultralytics' bytetrack.yaml names and defaults)."""

    track_high_thresh: float = 0.25  #: first association uses boxes at least this confident
    track_low_thresh: float = 0.1  #: the second association also uses boxes above this
    new_track_thresh: float = 0.25  #: an unmatched box this confident starts a track
    track_buffer: int = 30  #: frames a lost track is kept (2 s at 15 fps) to bridge occlusions
    match_thresh: float = 0.8  #: largest IoU cost accepted for a match
    fuse_score: bool = True  #: weigh IoU by detection confidence


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
        self._tracker = BYTETracker(SimpleNamespace(**vars(self.settings)))

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
