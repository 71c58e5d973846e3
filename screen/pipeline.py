"""The whole screening pipeline: a video file in, one verdict with its evidence out.

    video -> front end (decode, detect, track, participant, segment)
          -> the one normalisation (64x64 stored form)
          -> ScoNet-MT on 30-frame clips -> verdict, action, quality flags

`Screener` loads the classifier and the front-end networks once and screens
any number of videos, so a batch worker pays for model loading once.  Silhouettes
are normalised as the front end makes them: only the 64x64 stored frames
(4 KB each) accumulate, whatever the length of the video.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .cores import core_share
from .frontend.extract import Frontend, FrontendResult
from .frontend.passes import Silhouette
from .frontend.video import VideoInfo
from .memory import return_large_buffers
from .model.classify import Classifier, load_classifier
from .model.operating_point import rule_description
from .outputs.result import (
    DIGITS,
    ClipResult,
    ModelInfo,
    PipelineInfo,
    Probabilities,
    Quality,
    RotationInfo,
    ScreeningResult,
    StageInfo,
    Timing,
)
from .outputs.verdict import advise, judge
from .progress import ProgressCallback
from .settings import NATIVE, ClassifierSettings, Settings
from .silhouettes.normalize import STORED_SIZE, normalize_silhouette

EDGE_MARGIN_PX = 2  #: a box this close to the frame border is cut by it


def cpu_budget(settings: Settings) -> int:
    """Threads this process may keep busy: `workers`, else its share of the cores.

    Not torch's thread count: importing Paddle sets OMP_NUM_THREADS=1 for child
    processes, whose torch then starts on one thread, and a run quietly used one
    core of two (a bench child screened a 20 s video in 28.8 s instead of 25.6 s).
    """
    return settings.runtime.workers or core_share()


def cut_by_frame_edge(silhouette: Silhouette, width: int, height: int) -> bool:
    """Whether the participant's box touches the frame border (part of the body is missing)."""
    x1, y1, x2, y2 = silhouette.box
    margin = EDGE_MARGIN_PX
    return x1 <= margin or y1 <= margin or x2 >= width - 1 - margin or y2 >= height - 1 - margin


@dataclass(frozen=True)
class ParticipantSequence:
    """The silhouettes the classifier sees, and the frames they came from."""

    silhouettes: list[Silhouette]  #: one per stored frame, in order
    stored: np.ndarray  #: [T, 64, 64] uint8
    cut: int  #: silhouettes left out because the frame edge cut them


class SequenceBuilder:
    """Takes silhouettes one by one: drops those cut by the frame edge, normalises the rest.

    Only the stored 64x64 frames accumulate (and the masks, if `keep_masks`).
    """

    def __init__(self, keep_masks: bool = True) -> None:
        self.keep_masks = keep_masks
        self.silhouettes: list[Silhouette] = []
        self.frames: list[np.ndarray] = []  # [64, 64] uint8 each
        self.cut = 0

    def add(self, silhouette: Silhouette, video: VideoInfo) -> None:
        if cut_by_frame_edge(silhouette, video.width, video.height):
            self.cut += 1
            return
        stored = normalize_silhouette(silhouette.mask.mask)  # the one normalisation
        if stored is not None:
            self.frames.append(stored)
            self.silhouettes.append(
                silhouette if self.keep_masks else replace(silhouette, mask=None)
            )

    def sequence(self) -> ParticipantSequence:
        frames = self.frames
        stack = np.stack(frames) if frames else np.zeros((0, STORED_SIZE, STORED_SIZE), np.uint8)
        return ParticipantSequence(list(self.silhouettes), stack, self.cut)


def participant_sequence(frontend: FrontendResult) -> ParticipantSequence:
    """Drop silhouettes cut by the frame edge, normalise the rest (the one normalisation)."""
    builder = SequenceBuilder()
    for silhouette in frontend.silhouettes:
        builder.add(silhouette, frontend.video)
    return builder.sequence()


@dataclass(frozen=True)
class Screening:
    """One video's result and the stored silhouettes behind it."""

    result: ScreeningResult
    stored: np.ndarray  #: [T, 64, 64] uint8, the silhouettes the classifier saw
    frontend: FrontendResult


def classifier_from_settings(
    settings: Settings | ClassifierSettings, threads: int | None = None
) -> Classifier:
    """The classifier the settings name (default: the demo model), loaded and checked;
    `threads`: its CPU threads, known now so a converted backbone opens once with them."""
    chosen = settings if isinstance(settings, ClassifierSettings) else settings.classifier
    runtime = NATIVE if isinstance(settings, ClassifierSettings) else settings.runtime.engine
    return load_classifier(
        chosen.weights,
        chosen.parsed_class_order,
        device=chosen.device,
        precision=chosen.precision,
        clip_stride=chosen.clip_stride,
        clip_sampling=chosen.clip_sampling,
        operating_point=chosen.operating_point,
        calibrated=chosen.calibrated,
        runtime=runtime,
        threads=threads,
    )


class Screener:
    """Screens videos with one loaded classifier and fixed settings."""

    def __init__(
        self,
        settings: Settings,
        classifier: Classifier | None = None,
        frontend: Frontend | None = None,
    ) -> None:
        self.settings = settings
        return_large_buffers()  # memory flat from one video to the next (see memory.py)
        budget = cpu_budget(settings)
        self.classifier = classifier or classifier_from_settings(settings, budget)
        if self.classifier.threads is None:
            self.classifier.threads = budget  # the detector leaves torch on one thread
        self.frontend = frontend or Frontend(settings, budget)

    def screen(
        self,
        video: str | Path,
        on_progress: ProgressCallback | None = None,
        keep_masks: bool = False,
    ) -> Screening:
        """Screen one video.  `keep_masks`: keep the crop masks in `Screening.frontend`
        (for an overlay video); otherwise memory does not grow with the video's length."""
        started = time.perf_counter()
        builder = SequenceBuilder(keep_masks)
        frontend = self.frontend.extract(video, on_progress, keep_masks, on_silhouette=builder.add)
        frontend_seconds = time.perf_counter() - started
        info = frontend.video
        participant = builder.sequence()
        kept, cut = participant.silhouettes, participant.cut

        classify_started = time.perf_counter()
        prediction = self.classifier.predict(participant.stored) if kept else None
        classify_seconds = time.perf_counter() - classify_started
        verdict, flags = judge(
            frontend.flags,
            len(frontend.silhouettes),
            cut,
            len(kept),
            self.settings.verdict.min_silhouettes,
            prediction.label if prediction is not None else None,
        )

        if prediction is None:  # nothing to judge: no evidence for any class
            probabilities, confidence, clips, whole = Probabilities.uniform(), 0.0, (), None
        else:
            probabilities = Probabilities.of(prediction.probabilities)
            confidence = round(prediction.confidence, DIGITS)
            whole = Probabilities.of(prediction.whole_sequence)
            clips = tuple(
                ClipResult(
                    start_frame=kept[clip.start].index,
                    stop_frame=kept[clip.stop - 1].index + 1,
                    start_time=round(kept[clip.start].timestamp, 3),
                    stop_time=round(kept[clip.stop - 1].timestamp, 3),
                    silhouettes=clip.frames,
                    probabilities=Probabilities.of(clip.probabilities),
                )
                for clip in prediction.clips
            )
        total_seconds = time.perf_counter() - started
        coverage = frontend.participant.coverage
        model = ModelInfo.of(self.classifier)
        result = ScreeningResult(
            verdict=verdict,
            confidence=confidence,
            probabilities=probabilities,
            whole_sequence_probabilities=whole,
            clips=clips,
            quality=Quality(
                flags=flags,
                silhouettes_used=len(kept),
                frames_read=coverage.get("frames", 0),
                participant_frames=len(frontend.silhouettes),
                silhouettes_cut_by_edge=cut,
                track_coverage=coverage,
            ),
            model=model,
            note=model.note,
            probability_note=self.classifier.probability_note,
            video=str(video),
            pipeline=self.describe(frontend),
            advice=advise(
                verdict,
                flags,
                len(frontend.silhouettes),
                cut,
                len(kept),
                self.settings.verdict.min_silhouettes,
                self.settings.video.fps,
            ),
            timing=Timing.of(
                total_seconds,
                frontend_seconds,
                classify_seconds,
                info.duration,
                frontend.ms_per_frame,
            ),
        )
        return Screening(result, participant.stored, frontend)

    def describe(self, frontend: FrontendResult) -> PipelineInfo:
        """The settings that shaped a result, with the stages that actually ran."""
        settings = self.settings
        tracker = settings.tracker
        return PipelineInfo(
            detector=StageInfo(settings.detector.model, frontend.detector.backend,
                               frontend.detector.model),
            tracker="bytetrack",
            segmenter=StageInfo(settings.segmenter.model, frontend.segmenter.backend,
                                frontend.segmenter.model),
            classifier=self.classifier.runtime_info(),
            rotation=RotationInfo(frontend.video.rotation, frontend.rotation_source,
                                  frontend.rotation_reason),
            fps=settings.video.fps,
            clip_length=self.classifier.clip_length,
            clip_sampling=self.classifier.clip_sampling,
            clip_stride=self.classifier.clip_stride,
            precision=self.classifier.precision,
            detect_every=frontend.detect_every,
            segment_batch=settings.segmenter.batch,
            workers=self.frontend.workers,
            thresholds={
                "detect_confidence": settings.detector.confidence,
                "mask_threshold": settings.segmenter.mask_threshold,
                "track_high_thresh": tracker.track_high_thresh,
                "track_low_thresh": tracker.track_low_thresh,
                "new_track_thresh": tracker.new_track_thresh,
                "match_thresh": tracker.match_thresh,
                "min_silhouettes": settings.verdict.min_silhouettes,
                **rule_description(self.classifier.point),
            },
        )  # fmt: skip
