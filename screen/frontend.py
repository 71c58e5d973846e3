"""The video front end: a video file in, the walking participant's silhouettes out.

Two passes over the video, both streaming:
1. decode -> detect -> track, keeping only boxes per frame (a few bytes each);
2. with the participant chosen from the whole history, decode again and segment
   only that person's box.
Choosing first costs a second decode (cheap next to the networks) but means the
segmenter runs once per frame instead of once per person in view, and no
frames or masks of other people are ever held.  Masks are kept at crop size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.progress import Progress

from .backends import AUTO, StageChoice, StageSettings, build_detector, build_segmenter
from .background import (
    BACKGROUND_SAMPLES,
    background_agreement,
    estimate_background,
    unreliable_share,
)
from .detect import Detector
from .frames import CropMask
from .participant import ParticipantChoice, SelectionSettings, TrackHistory, select_participant
from .segment import Segmenter
from .track import ByteTracker, TrackerSettings
from .video import DEFAULT_FPS, FrameSource, VideoInfo

EMPTY_MASK_SHARE = 0.2  #: more empty masks than this share of participant frames is flagged


@dataclass(frozen=True)
class FrontendOptions:
    """Settings of every front-end stage; the defaults suit a phone video of one walker."""

    fps: float = DEFAULT_FPS  #: analysis rate (ScoNet was trained at 15 fps)
    rotate: int | None = None  #: clockwise degrees, replacing the file's rotation tag
    max_side: int | None = 1280  #: larger frames are shrunk to this longer side
    detector: str = AUTO  #: 'auto', 'yolo11n', 'yolov8n' or 'background'
    segmenter: str = AUTO  #: 'auto', 'pp-humanseg-v2-mobile', 'pp-humanseg-v2-lite', 'background'
    detector_weights: Path | None = None
    segmenter_weights: Path | None = None
    imgsz: int = 640
    detect_confidence: float = 0.1
    mask_threshold: float = 0.5
    # CPU threads per network.  More than the cores actually free makes torch far slower
    # (measured 150x on a busy 2-core machine), and ultralytics drops to one thread after
    # each prediction anyway; raise it on an idle machine, or run videos side by side.
    threads: int = 1
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    selection: SelectionSettings = field(default_factory=SelectionSettings)
    background_samples: int = BACKGROUND_SAMPLES


@dataclass(frozen=True)
class Silhouette:
    """The participant in one frame."""

    index: int
    timestamp: float
    box: np.ndarray  #: xyxy in frame pixels
    mask: CropMask


class StageClock:
    """Wall time spent per stage, reported as milliseconds per frame."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.frames: dict[str, int] = {}

    def add(self, stage: str, started: float, frames: int = 1) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
        self.frames[stage] = self.frames.get(stage, 0) + frames

    def ms_per_frame(self) -> dict[str, float]:
        return {s: round(1000 * t / max(self.frames[s], 1), 2) for s, t in self.seconds.items()}


def _timed_frames(source: FrameSource, clock: StageClock, stage: str) -> Iterator:
    frames = source.frames()
    while True:
        started = time.perf_counter()
        frame = next(frames, None)
        if frame is None:
            return
        clock.add(stage, started)
        yield frame


def track_people(
    source: FrameSource,
    detector: Detector,
    tracker: ByteTracker,
    clock: StageClock | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> TrackHistory:
    """Pass 1: every person's box in every frame, by track id."""
    clock = clock or StageClock()
    history = TrackHistory()
    for frame in _timed_frames(source, clock, "decode"):
        started = time.perf_counter()
        detections = detector.detect(frame)
        clock.add("detect", started)
        started = time.perf_counter()
        history.add(frame.index, frame.timestamp, tracker.update(detections))
        clock.add("track", started)
        if on_frame:
            on_frame(frame.index)
    return history


def segment_participant(
    source: FrameSource,
    segmenter: Segmenter,
    choice: ParticipantChoice,
    clock: StageClock | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> Iterator[Silhouette]:
    """Pass 2: the participant's mask in each frame where they were tracked, as a stream."""
    clock = clock or StageClock()
    if not choice.boxes:
        return
    last = max(choice.boxes)
    for frame in _timed_frames(source, clock, "decode_again"):
        box = choice.box(frame.index)
        if box is not None:
            started = time.perf_counter()
            mask = segmenter.segment(frame, box)
            clock.add("segment", started)
            yield Silhouette(frame.index, frame.timestamp, box, mask)
        if on_frame:
            on_frame(frame.index)
        if frame.index >= last:
            return


@dataclass(frozen=True)
class FrontendResult:
    """Everything the front end found, ready for normalisation and the classifier."""

    video: VideoInfo
    participant: ParticipantChoice
    silhouettes: list[Silhouette]
    detector: StageChoice
    segmenter: StageChoice
    flags: tuple[str, ...]
    ms_per_frame: dict[str, float]

    @property
    def masks(self) -> list[np.ndarray]:
        """Crop-sized 0/255 masks, in frame order (`normalize_sequence` takes them as they are)."""
        return [s.mask.mask for s in self.silhouettes]

    @property
    def timestamps(self) -> list[float]:
        return [s.timestamp for s in self.silhouettes]

    def to_dict(self) -> dict:
        """Plain JSON types: no images, no masks."""
        video = self.video
        return {
            "video": {
                "path": str(video.path),
                "width": video.width,
                "height": video.height,
                "source_fps": round(video.source_fps, 4),
                "frames_declared": video.frame_count,
                "rotation": video.rotation,
                "rotation_from": video.rotation_from,
                "codec": video.codec,
            },
            "detector": {"backend": self.detector.backend, "model": self.detector.model},
            "segmenter": {"backend": self.segmenter.backend, "model": self.segmenter.model},
            "participant_track": self.participant.track_id,
            "coverage": self.participant.coverage,
            "flags": list(self.flags),
            "ms_per_frame": self.ms_per_frame,
        }


def _progress_updater(progress: Progress | None, label: str, source: FrameSource):
    """A callback advancing a rich progress bar to a frame index, or None."""
    if progress is None:
        return None
    info = source.info
    slots = info.frame_count / info.source_fps * source.fps if info.source_fps else None
    task = progress.add_task(label, total=round(slots) if slots else None)
    return lambda index: progress.update(task, completed=index + 1)


def extract_silhouettes(
    video_path: str | Path,
    options: FrontendOptions | None = None,
    progress: Progress | None = None,
) -> FrontendResult:
    """Decode, detect, track, choose the participant and segment them, in two streaming passes.

    `progress`: a rich Progress to show the two passes on (the caller starts and stops it).
    """
    options = options or FrontendOptions()
    source = FrameSource(video_path, options.fps, options.rotate, options.max_side)
    clock = StageClock()
    cached: dict[str, np.ndarray] = {}

    def background() -> np.ndarray:
        if not cached:
            started = time.perf_counter()
            samples = source.sample(options.background_samples)
            cached["image"] = estimate_background(samples)
            cached["agreement"] = background_agreement(samples, cached["image"])
            clock.add("background_once", started)  # one-off: its "per frame" is the total
        return cached["image"]

    def settings(weights: Path | None) -> StageSettings:
        return StageSettings(
            weights=weights,
            imgsz=options.imgsz,
            detect_confidence=options.detect_confidence,
            mask_threshold=options.mask_threshold,
            threads=options.threads,
        )

    detector, detector_choice = build_detector(
        options.detector, settings(options.detector_weights), background
    )
    tracked = _progress_updater(progress, "finding people", source)
    history = track_people(source, detector, ByteTracker(options.tracker), clock, tracked)
    del detector  # free the network before the next one loads
    choice = select_participant(history, options.selection)
    segmenter, segmenter_choice = build_segmenter(
        options.segmenter, settings(options.segmenter_weights), background
    )
    segmented = _progress_updater(progress, "segmenting the participant", source)
    silhouettes = list(segment_participant(source, segmenter, choice, clock, segmented))
    flags = [*detector_choice.flags, *segmenter_choice.flags, *choice.flags]
    if source.info.source_fps and source.info.source_fps < 0.9 * options.fps:
        flags.append("low_frame_rate")
    if cached and unreliable_share(cached["agreement"], list(choice.boxes.values())) > 0.25:
        flags.append("background_uncertain")  # weight-free stages saw no clear background there
    empty = sum(1 for s in silhouettes if s.mask.area == 0)
    if silhouettes and empty > EMPTY_MASK_SHARE * len(silhouettes):
        flags.append("empty_masks")
    return FrontendResult(
        video=source.info,
        participant=choice,
        silhouettes=silhouettes,
        detector=detector_choice,
        segmenter=segmenter_choice,
        flags=tuple(flags),
        ms_per_frame=clock.ms_per_frame(),
    )
