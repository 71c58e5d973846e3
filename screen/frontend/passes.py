"""The front end's two streaming passes over a video.

1. decode -> detect -> track, keeping only boxes per frame (a few bytes each);
2. with the participant chosen from the whole history, decode again and segment
   only that person's box.
Choosing first costs a second decode (cheap next to the networks) but means the
segmenter runs once per frame instead of once per person in view, and no
frames or masks of other people are ever held.

A network detector may run on every n-th frame only (`detect_every`): each
track's box in the frames between is interpolated from its two neighbours.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .camera_motion import CameraMotion
from .concurrency import StageClock, ordered_map, prefetch
from .detect import Detector
from .frames import CropMask, Detections
from .participant import ParticipantChoice, TrackHistory
from .segment import Segmenter, segment_many
from .track import ByteTracker
from .video import FrameSource


@dataclass(frozen=True)
class Silhouette:
    """The participant in one frame."""

    index: int
    timestamp: float
    box: np.ndarray  #: xyxy in frame pixels
    mask: CropMask | None  #: None where the caller took the masks as they came (keep_masks=False)


def _timed_frames(source: FrameSource, clock: StageClock, stage: str) -> Iterator:
    frames = source.frames()
    while True:
        started = time.perf_counter()
        frame = next(frames, None)
        if frame is None:
            return
        clock.add(stage, started)
        yield frame


def _frames(source: FrameSource, clock: StageClock, stage: str, overlap: bool) -> Iterator:
    frames = _timed_frames(source, clock, stage)
    return prefetch(frames) if overlap else frames


def _between(
    before: tuple[int, Detections], after: tuple[int, Detections], index: int
) -> Detections:
    """Boxes at frame `index` of the tracks seen at both neighbouring detected frames."""
    (i0, d0), (i1, d1) = before, after
    if d0.track_id is None or d1.track_id is None:
        return Detections.from_arrays(np.zeros((0, 4)), np.zeros(0), np.zeros(0))
    weight = (index - i0) / (i1 - i0)
    earlier = {int(t): k for k, t in enumerate(d0.track_id)}
    boxes, scores, ids = [], [], []
    for k, track_id in enumerate(d1.track_id):
        j = earlier.get(int(track_id))
        if j is not None:
            boxes.append((1 - weight) * d0.xyxy[j] + weight * d1.xyxy[k])
            scores.append(min(d0.confidence[j], d1.confidence[k]))
            ids.append(track_id)
    return Detections.from_arrays(np.array(boxes).reshape(-1, 4), np.array(scores), np.array(ids))


def track_people(
    source: FrameSource,
    detector: Detector,
    tracker: ByteTracker,
    clock: StageClock | None = None,
    on_frame: Callable[[int], None] | None = None,
    copies: Sequence[Detector] = (),
    detect_every: int = 1,
    overlap: bool = False,
    camera: CameraMotion | None = None,
) -> TrackHistory:
    """Pass 1: every person's box in every frame, by track id.

    `copies`: more instances of the detector, run on their own threads.  With
    `detect_every` n > 1 the detector sees every n-th frame (the tracker too:
    give it a buffer in those steps) and each track's box in the frames between
    is interpolated from its two neighbours, so the history still has a box per
    frame wherever the person was tracked on both sides.  `camera` observes every
    frame, in order, to measure the camera's motion.
    """
    clock = clock or StageClock()
    history = TrackHistory()

    def detect(stage: Detector, frame) -> tuple:
        if frame.index % detect_every:
            return frame, None
        started = time.perf_counter()
        detections = stage.detect(frame)
        clock.add("detect", started)
        return frame, detections

    previous: tuple[int, Detections] | None = None
    skipped: list[tuple[int, float]] = []
    seen: np.ndarray | None = None  # the people in the last detected frame
    with contextlib.closing(_frames(source, clock, "decode", overlap)) as frames:
        for frame, detections in ordered_map([detector, *copies], detect, frames):
            history.size = history.size or (frame.image.shape[1], frame.image.shape[0])
            if detections is None:
                skipped.append((frame.index, frame.timestamp))
            else:
                started = time.perf_counter()
                tracked = tracker.update(detections)
                current = (frame.index, tracked)
                for index, stamp in skipped:
                    between = _between(previous, current, index) if previous else tracked[:0]
                    history.add(index, stamp, between)
                history.add(frame.index, frame.timestamp, tracked)
                previous, skipped = current, []
                clock.add("track", started)
                seen = detections.xyxy
            if camera is not None:  # people's corners left out (the last boxes found)
                started = time.perf_counter()
                camera.observe(frame, seen)
                clock.add("camera_motion", started)
            if on_frame:
                on_frame(frame.index)
    if camera is not None and camera.moving:  # walking is judged in the scene, not the picture
        history.camera_path = camera.path
    empty = Detections.from_arrays(np.zeros((0, 4)), np.zeros(0), np.zeros(0))
    for index, stamp in skipped:  # after the last detection: nothing to interpolate towards
        history.add(index, stamp, empty)
    return history


def segment_participant(
    source: FrameSource,
    segmenter: Segmenter,
    choice: ParticipantChoice,
    clock: StageClock | None = None,
    on_frame: Callable[[int], None] | None = None,
    copies: Sequence[Segmenter] = (),
    batch: int = 1,
    overlap: bool = False,
) -> Iterator[Silhouette]:
    """Pass 2: the participant's mask in each frame where they were tracked, as a stream.

    Crops go to the segmenter `batch` at a time; `copies` run on their own threads.
    """
    clock = clock or StageClock()
    if not choice.boxes:
        return
    last = max(choice.boxes)

    def batches(frames: Iterator) -> Iterator[list]:
        pairs: list = []
        for frame in frames:
            box = choice.box(frame.index)
            if box is not None:
                pairs.append((frame, box))
            if on_frame:
                on_frame(frame.index)
            if pairs and (len(pairs) >= batch or frame.index >= last):
                yield pairs
                pairs = []
            if frame.index >= last:
                return
        if pairs:
            yield pairs

    def segment(stage: Segmenter, pairs: list) -> tuple[list, list[CropMask]]:
        started = time.perf_counter()
        masks = segment_many(stage, pairs)
        clock.add("segment", started, len(pairs))
        return pairs, masks

    with contextlib.closing(_frames(source, clock, "decode_again", overlap)) as frames:
        for pairs, masks in ordered_map([segmenter, *copies], segment, batches(frames)):
            for (frame, box), mask in zip(pairs, masks, strict=True):
                yield Silhouette(frame.index, frame.timestamp, box, mask)
