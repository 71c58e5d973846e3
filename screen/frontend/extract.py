"""The video front end: a video file in, the walking participant's silhouettes out.

Two passes over the video, both streaming:
1. decode -> detect -> track, keeping only boxes per frame (a few bytes each);
2. with the participant chosen from the whole history, decode again and segment
   only that person's box.
Choosing first costs a second decode (cheap next to the networks) but means the
segmenter runs once per frame instead of once per person in view, and no
frames or masks of other people are ever held.  Masks are kept at crop size,
or not at all: a caller may take each silhouette as it comes (`on_silhouette`).

Speed on a few cores: decoding runs in a background thread while the networks
work (OpenCV and torch release the GIL), neural stages run as one copy per
worker thread with results put back in frame order (Paddle holds the GIL, so
its stage is one predictor with several math threads instead), the segmenter
takes crops in batches, and a network detector runs on every other frame
(`detect_every`), the boxes between being interpolated per track.  `Frontend`
keeps the networks loaded across videos.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from queue import Empty, Full, Queue
from typing import TypeVar

import numpy as np
from rich.progress import Progress

from .backends import (
    AUTO,
    WEIGHT_FREE,
    StageChoice,
    StageSettings,
    build_detector,
    build_segmenter,
)
from .background import BACKGROUND_SAMPLES, Scene, estimate_scene, unreliable_share
from .detect import Detector
from .frames import CropMask, Detections
from .participant import ParticipantChoice, SelectionSettings, TrackHistory, select_participant
from .segment import Segmenter, segment_many
from .track import ByteTracker, TrackerSettings
from .video import DEFAULT_FPS, FrameSource, VideoInfo

EMPTY_MASK_SHARE = 0.2  #: more empty masks than this share of participant frames is flagged
AUTO_DETECT_EVERY = 0


def detection_stride(requested: int, detector: StageChoice) -> int:
    """The detection stride: as requested, or for `AUTO_DETECT_EVERY` the backend's own."""
    if requested != AUTO_DETECT_EVERY:
        return requested
    return 1 if detector.backend == WEIGHT_FREE else 2


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
    # Copies of each neural stage, each on its own thread (about one per core); a stage that
    # holds the GIL (Paddle) gets one copy with that many threads instead.
    workers: int = 1
    # Detect on every n-th frame, boxes between interpolated per track; 0 = auto: 2 for a
    # network (its costliest stage; ~25% faster in all), 1 for the cheap background detector
    # (6-7 ms per frame).  With crop-independent masks the interpolated boxes moved the
    # probabilities by 0.002; see the README's performance section.
    detect_every: int = AUTO_DETECT_EVERY
    segment_batch: int = 4  #: participant crops per segmenter call
    overlap: bool = True  #: decode in a background thread while the networks run
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    selection: SelectionSettings = field(default_factory=SelectionSettings)
    background_samples: int = BACKGROUND_SAMPLES


@dataclass(frozen=True)
class Silhouette:
    """The participant in one frame."""

    index: int
    timestamp: float
    box: np.ndarray  #: xyxy in frame pixels
    mask: CropMask | None  #: None where the caller took the masks as they came (keep_masks=False)


class StageClock:
    """Wall time spent per stage, reported as milliseconds per frame."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.frames: dict[str, int] = {}
        self._lock = threading.Lock()  # stages report from their own threads

    def add(self, stage: str, started: float, frames: int = 1) -> None:
        elapsed = time.perf_counter() - started
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed
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


T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")
_PREFETCH = 4  #: decoded frames waiting for the networks (a 720p frame is 2.7 MB)


@dataclass(frozen=True)
class _End:
    error: BaseException | None = None


def prefetch(items: Iterator[T], depth: int = _PREFETCH) -> Iterator[T]:
    """`items` produced by a background thread, at most `depth` ahead of the consumer.

    Decoding then overlaps the networks.  Errors (a truncated video) reach the
    consumer in order; stopping early stops and closes the producer.
    """
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_End())
        except BaseException as error:  # handed to the consumer, raised there
            put(_End(error))
        finally:
            close = getattr(items, "close", None)
            if close:
                close()  # in this thread, the one that ran the generator

    thread = threading.Thread(target=produce, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = queue.get(timeout=0.1)
            except Empty:
                if not thread.is_alive() and queue.empty():
                    return
                continue
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join()


def ordered_map(workers: Sequence[S], call: Callable[[S, T], R], items: Iterable[T]) -> Iterator[R]:
    """`call(worker, item)` for every item on one thread per worker; results in input order.

    Each worker (a stage copy) serves one call at a time.  At most two calls per
    worker wait in line, so frames in flight stay few.
    """
    if len(workers) <= 1:
        for item in items:
            yield call(workers[0], item)
        return
    free: Queue = Queue()
    for worker in workers:
        free.put(worker)

    def run(item: T) -> R:
        worker = free.get()
        try:
            return call(worker, item)
        finally:
            free.put(worker)

    pending: deque = deque()
    with ThreadPoolExecutor(len(workers), thread_name_prefix="stage") as pool:
        try:
            for item in items:
                pending.append(pool.submit(run, item))
                if len(pending) > 2 * len(workers):
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


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
) -> TrackHistory:
    """Pass 1: every person's box in every frame, by track id.

    `copies`: more instances of the detector, run on their own threads.  With
    `detect_every` n > 1 the detector sees every n-th frame (the tracker too:
    give it a buffer in those steps) and each track's box in the frames between
    is interpolated from its two neighbours, so the history still has a box per
    frame wherever the person was tracked on both sides.
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
    with contextlib.closing(_frames(source, clock, "decode", overlap)) as frames:
        for frame, detections in ordered_map([detector, *copies], detect, frames):
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
            if on_frame:
                on_frame(frame.index)
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
    detect_every: int  #: the detection stride used

    @property
    def masks(self) -> list[np.ndarray]:
        """Crop-sized 0/255 masks, in frame order (`normalize_sequence` takes them as they are).

        Only when the masks were kept (`keep_masks=True`, the default).
        """
        if any(s.mask is None for s in self.silhouettes):
            raise ValueError("the masks were not kept: extract with keep_masks=True")
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


class Frontend:
    """The front-end stages with fixed options, reused for any number of videos.

    Neural stages (and their per-thread copies) are built on first use and kept,
    so a batch worker loads each network once.  Weight-free stages depend on each
    video's background and are built per video.  `detector` / `segmenter` may
    be given ready-made (benchmarks, tests); they are then used as they are.
    """

    def __init__(
        self,
        options: FrontendOptions | None = None,
        detector: tuple[Detector, StageChoice] | None = None,
        segmenter: tuple[Segmenter, StageChoice] | None = None,
    ) -> None:
        self.options = options or FrontendOptions()
        self._given = {"detector": detector, "segmenter": segmenter}
        self._kept: dict[str, tuple[list, StageChoice]] = {}

    def _settings(self, weights: Path | None) -> StageSettings:
        options = self.options
        return StageSettings(
            weights=weights,
            imgsz=options.imgsz,
            detect_confidence=options.detect_confidence,
            mask_threshold=options.mask_threshold,
            threads=options.threads,
        )

    def _stage(self, kind: str, background: Callable[[], np.ndarray]) -> tuple[list, StageChoice]:
        """[stage, copies...] and the choice, for 'detector' or 'segmenter'."""
        if kind in self._kept:
            return self._kept[kind]
        options = self.options
        given = self._given[kind]
        if given is not None:
            stage, choice = given
        elif kind == "detector":
            settings = self._settings(options.detector_weights)
            stage, choice = build_detector(options.detector, settings, background)
        else:
            settings = self._settings(options.segmenter_weights)
            stage, choice = build_segmenter(options.segmenter, settings, background)
        stages = [stage]
        clone = getattr(stage, "clone", None)
        if getattr(stage, "holds_gil", False):  # copies would take turns: one with all threads
            stage.use_threads(max(options.threads, options.workers))
        elif clone is not None and choice.backend != WEIGHT_FREE:  # weight-free ones keep state
            stages += [clone() for _ in range(options.workers - 1)]
        if choice.backend != WEIGHT_FREE or given is not None:
            self._kept[kind] = (stages, choice)
        return stages, choice

    def extract(
        self,
        video_path: str | Path,
        progress: Progress | None = None,
        keep_masks: bool = True,
        on_silhouette: Callable[[Silhouette, VideoInfo], None] | None = None,
    ) -> FrontendResult:
        """Decode, detect, track, choose the participant and segment them, in two streaming passes.

        `progress`: a rich Progress to show the two passes on (the caller starts and stops it).
        `on_silhouette(silhouette, video)` sees each silhouette as it is made; with
        `keep_masks=False` the result's silhouettes carry no mask (memory stays flat).
        """
        options = self.options
        source = FrameSource(video_path, options.fps, options.rotate, options.max_side)
        clock = StageClock()
        cached: dict[str, Scene] = {}

        def background() -> Scene:
            if not cached:
                started = time.perf_counter()
                cached["scene"] = estimate_scene(source.sample(options.background_samples))
                clock.add("background_once", started)  # one-off: its "per frame" is the total
            return cached["scene"]

        detectors, detector_choice = self._stage("detector", background)
        every = detection_stride(options.detect_every, detector_choice)
        tracker_settings = replace(
            options.tracker, track_buffer=max(1, options.tracker.track_buffer // every)
        )  # the tracker counts the frames it sees
        tracked = _progress_updater(progress, "finding people", source)
        history = track_people(
            source, detectors[0], ByteTracker(tracker_settings), clock, tracked,
            copies=detectors[1:], detect_every=every, overlap=options.overlap,
        )  # fmt: skip
        choice = select_participant(history, options.selection)
        segmenters, segmenter_choice = self._stage("segmenter", background)
        segmented = _progress_updater(progress, "segmenting the participant", source)
        silhouettes: list[Silhouette] = []
        empty = 0
        stream = segment_participant(
            source, segmenters[0], choice, clock, segmented, copies=segmenters[1:],
            batch=max(1, options.segment_batch), overlap=options.overlap,
        )  # fmt: skip
        for silhouette in stream:
            empty += silhouette.mask.area == 0
            if on_silhouette is not None:
                on_silhouette(silhouette, source.info)
            silhouettes.append(silhouette if keep_masks else replace(silhouette, mask=None))
        flags = [*detector_choice.flags, *segmenter_choice.flags, *choice.flags]
        if source.info.source_fps and source.info.source_fps < 0.9 * options.fps:
            flags.append("low_frame_rate")
        if cached and unreliable_share(cached["scene"], list(choice.boxes.values())) > 0.25:
            flags.append("background_uncertain")  # weight-free stages saw no clear background there
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
            detect_every=every,
        )


def extract_silhouettes(
    video_path: str | Path,
    options: FrontendOptions | None = None,
    progress: Progress | None = None,
) -> FrontendResult:
    """One video through a fresh `Frontend` (see `Frontend.extract`); masks kept."""
    return Frontend(options).extract(video_path, progress)
