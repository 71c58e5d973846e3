"""The video front end: a video file in, the walking participant's silhouettes out.

`Frontend` runs the two streaming passes (see passes.py) with one settings tree
and keeps the networks loaded across videos, so a batch worker loads each once.
Masks are kept at crop size, or not at all: a caller may take each silhouette as
it comes (`on_silhouette`) and memory stays flat.

Speed on a few cores: decoding runs in a background thread while the networks
work, neural stages run as one copy per worker thread with results put back in
frame order (Paddle holds the GIL, so its stage is one predictor with several
math threads instead), the segmenter takes crops in batches, and a network
detector runs on every other frame (`detect_every`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..progress import ProgressCallback
from ..settings import Settings
from .backends import WEIGHT_FREE, WHOLE_FRAME, Loaded, StageChoice, build_detector, build_segmenter
from .background import BACKGROUND_SAMPLES, Scene, estimate_scene, unreliable_share
from .camera_motion import CAMERA_MOVING, CameraMotion
from .concurrency import StageClock
from .detect import Detector
from .orientation import (
    ORIENTATION_SAMPLES,
    OrientationDecision,
    decide_rotation,
    log_decision,
    segmenter_person_probability,
)
from .participant import ParticipantChoice, select_participant
from .passes import Silhouette, segment_participant, track_people
from .segment import Segmenter
from .track import ByteTracker
from .video import FrameSource, VideoInfo

log = logging.getLogger(__name__)

EMPTY_MASK_SHARE = 0.2  #: more empty masks than this share of participant frames is flagged
AUTO_DETECT_EVERY = 0


def detection_stride(requested: int, detector: StageChoice) -> int:
    """The detection stride: as requested, or for `AUTO_DETECT_EVERY` the backend's own.

    Auto: 2 for YOLO (its costliest stage; ~25% faster in all; with
    crop-independent masks the interpolated boxes moved the probabilities by
    0.002), 1 for the cheap background detector (6-7 ms per frame) and for the
    whole-frame segmenter, whose boxes interpolated between every other frame lag
    a shaking camera (walker frames kept: 45% at stride 2, 95-100% at 1).
    """
    if requested != AUTO_DETECT_EVERY:
        return requested
    return 1 if detector.backend in (WEIGHT_FREE, WHOLE_FRAME) else 2


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
    rotation_source: str = "tag"  #: 'tag', 'user' (`rotate`) or 'auto' (see orientation.py)
    orientation: OrientationDecision | None = None  #: the automatic check, where it ran

    @property
    def rotation_reason(self) -> str:
        """Why the frames were turned as they were, in one line."""
        if self.orientation is not None:
            return self.orientation.reason
        if self.rotation_source == "user":
            return "set by --rotate"
        return "the file's rotation tag (automatic check off)"

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
                "rotation_source": self.rotation_source,
                "rotation_reason": self.rotation_reason,
                "orientation": self.orientation.to_dict() if self.orientation else None,
                "codec": video.codec,
            },
            "detector": {"backend": self.detector.backend, "model": self.detector.model},
            "segmenter": {"backend": self.segmenter.backend, "model": self.segmenter.model},
            "participant_track": self.participant.track_id,
            "coverage": self.participant.coverage,
            "flags": list(self.flags),
            "ms_per_frame": self.ms_per_frame,
        }


def _frame_progress(
    on_progress: ProgressCallback | None, task: str, source: FrameSource
) -> Callable[[int], None] | None:
    """A per-frame callback reporting `task` progress in analysed frames, or None."""
    if on_progress is None:
        return None
    info = source.info
    slots = info.frame_count / info.source_fps * source.fps if info.source_fps else None
    total = round(slots) if slots else None
    return lambda index: on_progress(task, index + 1, total)


class Frontend:
    """The front-end stages with fixed settings, reused for any number of videos.

    Neural stages (and their per-thread copies) are built on first use and kept.
    Weight-free stages depend on each video's background and are built per video.
    `detector` / `segmenter` may be given ready-made (benchmarks, tests); they are
    then used as they are.  `workers`: copies of each neural stage on their own
    threads (about one per core).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        workers: int = 1,
        detector: tuple[Detector, StageChoice] | None = None,
        segmenter: tuple[Segmenter, StageChoice] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.workers = max(1, workers)
        # CPU threads per network.  More than the cores actually free makes torch far slower
        # (measured 150x on a busy 2-core machine), and ultralytics drops to one thread after
        # each prediction anyway; raise it on an idle machine, or run videos side by side.
        self.threads = self.settings.runtime.threads or 1
        self._given = {"detector": detector, "segmenter": segmenter}
        self._kept: dict[str, tuple[list, StageChoice]] = {}
        self._loaded: Loaded = {}  # one PP-HumanSeg network for the detector and segmenter

    def _stage(self, kind: str, background: Callable[[], Scene]) -> tuple[list, StageChoice]:
        """[stage, copies...] and the choice, for 'detector' or 'segmenter'."""
        if kind in self._kept:
            return self._kept[kind]
        given = self._given.get(kind)
        if given is not None:
            stage, choice = given
        elif kind in ("detector", "moving_camera_detector"):
            stage, choice = build_detector(
                self.settings.detector, self.threads, background, self._loaded,
                moving_camera=kind == "moving_camera_detector",
                runtime=self.settings.runtime.engine,
            )  # fmt: skip
        else:
            stage, choice = build_segmenter(
                self.settings.segmenter, self.threads, background, self._loaded,
                runtime=self.settings.runtime.engine,
            )  # fmt: skip
        stages = [stage]
        clone = getattr(stage, "clone", None)
        if getattr(stage, "holds_gil", False):  # copies would take turns: one with all threads
            stage.use_threads(max(self.threads, self.workers))
        elif clone is not None and choice.backend != WEIGHT_FREE:  # weight-free ones keep state
            stages += [clone() for _ in range(self.workers - 1)]
        if choice.backend != WEIGHT_FREE or given is not None:
            self._kept[kind] = (stages, choice)
        return stages, choice

    def _orientation(
        self, source: FrameSource, segmenter: Segmenter, clock: StageClock
    ) -> OrientationDecision:
        """The automatic check on frames sampled from `source` (see orientation.py)."""
        started = time.perf_counter()
        probe = segmenter_person_probability(segmenter)  # None: shape only, which never turns
        decision = decide_rotation(source.sample(ORIENTATION_SAMPLES), probe)
        clock.add("orientation_once", started)  # one-off: its "per frame" is the total
        log_decision(decision, source.path)
        return decision

    def extract(
        self,
        video_path: str | Path,
        on_progress: ProgressCallback | None = None,
        keep_masks: bool = True,
        on_silhouette: Callable[[Silhouette, VideoInfo], None] | None = None,
    ) -> FrontendResult:
        """Decode, detect, track, choose the participant and segment them, in two streaming passes.

        `on_progress(task, frames done, frames expected)` follows the two passes.
        `on_silhouette(silhouette, video)` sees each silhouette as it is made; with
        `keep_masks=False` the result's silhouettes carry no mask (memory stays flat).
        """
        settings = self.settings
        video, overlap = settings.video, settings.runtime.overlap
        clock = StageClock()
        source = FrameSource(video_path, video.fps, video.rotate, video.max_side)
        cached: dict[str, Scene] = {}

        def background() -> Scene:  # reads `source` when called: the upright one
            if not cached:
                started = time.perf_counter()
                cached["scene"] = estimate_scene(source.sample(BACKGROUND_SAMPLES))
                clock.add("background_once", started)  # one-off: its "per frame" is the total
            return cached["scene"]

        # Without `rotate`, the orientation is checked before pass 1, with the segmenter
        # built now.  Only a network segmenter can make it turn, and a network needs no
        # scene, so a scene estimated here (weight-free segmenter) is of the final frames.
        segmenter_stage: tuple[list, StageChoice] | None = None
        orientation: OrientationDecision | None = None
        rotation_source = "tag" if video.rotate is None else "user"
        if video.rotate is None and video.orient:
            segmenter_stage = self._stage("segmenter", background)
            orientation = self._orientation(source, segmenter_stage[0][0], clock)
            if orientation.rotation:
                rotation = (source.info.rotation + orientation.rotation) % 360
                source = FrameSource(video_path, video.fps, rotation, video.max_side)
                rotation_source = "auto"
                cached.clear()  # (empty: a network segmenter turned it) never the old frames

        def find_people(kind: str) -> tuple:
            detectors, detector_choice = self._stage(kind, background)
            every = detection_stride(settings.detector.every, detector_choice)
            tracker_settings = replace(
                settings.tracker, track_buffer=max(1, settings.tracker.track_buffer // every)
            )  # the tracker counts the frames it sees
            camera = CameraMotion()
            history = track_people(
                source, detectors[0], ByteTracker(tracker_settings), clock,
                _frame_progress(on_progress, "finding people", source),
                copies=detectors[1:], detect_every=every, overlap=overlap, camera=camera,
            )  # fmt: skip
            return history, camera, detector_choice, every

        history, camera, detector_choice, every = find_people("detector")
        if detector_choice.fixed_camera and camera.moving:
            # Background subtraction was chosen for a fixed camera; this one moves: find
            # people again with a network that looks at each frame on its own.
            log.debug("%s: the camera moves; finding people again", video_path)
            history, camera, detector_choice, every = find_people("moving_camera_detector")
        choice = select_participant(history)
        segmenters, segmenter_choice = segmenter_stage or self._stage("segmenter", background)
        silhouettes: list[Silhouette] = []
        empty = 0
        stream = segment_participant(
            source, segmenters[0], choice, clock,
            _frame_progress(on_progress, "segmenting the participant", source),
            copies=segmenters[1:], batch=settings.segmenter.batch, overlap=overlap,
        )  # fmt: skip
        for silhouette in stream:
            empty += silhouette.mask.area == 0
            if on_silhouette is not None:
                on_silhouette(silhouette, source.info)
            silhouettes.append(silhouette if keep_masks else replace(silhouette, mask=None))
        flags = [*detector_choice.flags, *segmenter_choice.flags, *choice.flags]
        if camera.moving:  # whatever the detector: background subtraction cannot cope
            flags.append(CAMERA_MOVING)
        if source.info.source_fps and source.info.source_fps < 0.9 * video.fps:
            flags.append("low_frame_rate")
        weight_free = WEIGHT_FREE in (detector_choice.backend, segmenter_choice.backend)
        boxes = list(choice.boxes.values())
        if weight_free and cached and unreliable_share(cached["scene"], boxes) > 0.25:
            flags.append("background_uncertain")  # weight-free stages saw no clear background there
        if orientation is not None and orientation.left_sideways:
            flags.append("sideways_video")  # people seem to lie sideways; see rotation_reason
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
            rotation_source=rotation_source,
            orientation=orientation,
        )


def extract_silhouettes(
    video_path: str | Path,
    settings: Settings | None = None,
    on_progress: ProgressCallback | None = None,
) -> FrontendResult:
    """One video through a fresh `Frontend` (see `Frontend.extract`); masks kept."""
    return Frontend(settings).extract(video_path, on_progress)
