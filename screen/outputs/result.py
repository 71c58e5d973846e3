"""One typed screening result, and its JSON form.

`ScreeningResult` is what `screen VIDEO` and `screen classify` produce and what
batch stores, writes as CSV and reports on.  `to_dict()` gives the documented
JSON (README, the `--json` field table): its keys, their order and the rounding
are part of the interface, so they are fixed here and nowhere else;
`from_dict()` reads it back (batch keeps results as JSON in its state file).

A result of `screen classify` (silhouettes, no video) is the same type with the
video-only parts left None: no `video`, `pipeline` or `timing`, clips without
times, quality without front-end counts; its JSON names the `input` and keeps
the `frames` count instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..model.calibration import UNCALIBRATED_NOTE
from ..model.classes import LABELS, Label
from .verdict import ACTION_FOR_VERDICT, Action, Verdict, honesty_note

if TYPE_CHECKING:  # torch is imported only where a model runs
    from ..model.classify import Classifier, ClipPrediction, SequencePrediction

PROBABILITY_NOTE = UNCALIBRATED_NOTE  #: of results stored before the note followed the model
DIGITS = 6  #: probabilities and confidence are rounded to this many decimals


def _present(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A dict of the pairs whose value is not None: optional parts leave no key behind."""
    return {key: value for key, value in pairs if value is not None}


@dataclass(frozen=True)
class Probabilities:
    """One probability per class, in the fixed class order of the JSON."""

    negative: float
    neutral: float
    positive: float

    @classmethod
    def of(cls, probabilities: Mapping[Label, float]) -> Probabilities:
        """The classifier's {label: probability}, rounded as the JSON keeps them."""
        return cls(*(round(float(probabilities[label]), DIGITS) for label in LABELS))

    @classmethod
    def uniform(cls) -> Probabilities:
        """No evidence for any class (nothing was classified)."""
        return cls.of({label: 1 / 3 for label in LABELS})

    def __getitem__(self, label: str) -> float:
        return getattr(self, Label(label).value)

    def to_dict(self) -> dict[str, float]:
        return {label.value: self[label] for label in LABELS}

    @classmethod
    def from_dict(cls, data: Mapping[str, float]) -> Probabilities:
        return cls(*(float(data[label.value]) for label in LABELS))


@dataclass(frozen=True)
class ClipResult:
    """One 30-frame clip.  Frames are source-video frame indices for a video (stop: one past
    the clip's last frame), stored-sequence indices for `screen classify`, which has no times."""

    start_frame: int
    stop_frame: int
    probabilities: Probabilities
    start_time: float | None = None  #: seconds into the video
    stop_time: float | None = None
    silhouettes: int | None = None  #: silhouettes in the clip

    @classmethod
    def of(cls, clip: ClipPrediction) -> ClipResult:
        """A clip of a stored sequence, indexed by its stored frames."""
        return cls(clip.start, clip.stop, Probabilities.of(clip.probabilities))

    def to_dict(self) -> dict[str, Any]:
        return _present(
            [
                ("start_frame", self.start_frame),
                ("stop_frame", self.stop_frame),
                ("start_time", self.start_time),
                ("stop_time", self.stop_time),
                ("silhouettes", self.silhouettes),
                ("probabilities", self.probabilities.to_dict()),
            ]
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClipResult:
        return cls(
            start_frame=data["start_frame"],
            stop_frame=data["stop_frame"],
            probabilities=Probabilities.from_dict(data["probabilities"]),
            start_time=data.get("start_time"),
            stop_time=data.get("stop_time"),
            silhouettes=data.get("silhouettes"),
        )


@dataclass(frozen=True)
class Quality:
    """Quality flags and the counts behind them (front-end counts: videos only)."""

    flags: tuple[str, ...]
    silhouettes_used: int  #: silhouettes the classifier saw
    frames_read: int | None = None  #: analysed frames
    participant_frames: int | None = None  #: frames with the participant's silhouette
    silhouettes_cut_by_edge: int | None = None  #: left out: the frame edge cut them
    track_coverage: dict[str, Any] | None = None  #: the participant tracker's own summary

    def to_dict(self) -> dict[str, Any]:
        return _present(
            [
                ("flags", list(self.flags)),
                ("frames_read", self.frames_read),
                ("participant_frames", self.participant_frames),
                ("silhouettes_cut_by_edge", self.silhouettes_cut_by_edge),
                ("silhouettes_used", self.silhouettes_used),
                ("track_coverage", self.track_coverage),
            ]
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Quality:
        return cls(**{**data, "flags": tuple(data["flags"])})  # the keys are the field names


@dataclass(frozen=True)
class ModelInfo:
    """The model facts every result carries."""

    name: str
    sha256: str
    class_order: tuple[str, ...]  #: the checkpoint's output order
    clinical: bool
    trained_on: str

    @classmethod
    def of(cls, classifier: Classifier) -> ModelInfo:
        """From a loaded `Classifier` (its `describe()`, the one place these are read)."""
        return cls.from_dict(classifier.describe())

    @property
    def note(self) -> str:
        """The honesty note for this model."""
        return honesty_note(self.name, self.clinical, self.trained_on)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "class_order": list(self.class_order),
            "clinical": self.clinical,
            "trained_on": self.trained_on,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInfo:
        return cls(
            name=data["name"],
            sha256=data["sha256"],
            class_order=tuple(data["class_order"]),
            clinical=bool(data["clinical"]),
            trained_on=data["trained_on"],
        )


@dataclass(frozen=True)
class StageInfo:
    """A front-end stage: the backend asked for and the one that ran."""

    requested: str
    backend: str
    model: dict[str, Any] | None = None  #: weights used (path, sha256, checksum state)

    def to_dict(self) -> dict[str, Any]:
        return {"requested": self.requested, "backend": self.backend, "model": self.model}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageInfo:
        return cls(data["requested"], data["backend"], data.get("model"))


@dataclass(frozen=True)
class RotationInfo:
    """The clockwise turn that made the frames upright, who chose it and why."""

    degrees: int  #: 0, 90, 180 or 270, applied to every frame
    source: str  #: 'tag' (the file's rotation tag), 'user' (`--rotate`) or 'auto' (the check)
    reason: str  #: one line for a person

    def to_dict(self) -> dict[str, Any]:
        return {"degrees": self.degrees, "source": self.source, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RotationInfo:
        return cls(data["degrees"], data["source"], data["reason"])


@dataclass(frozen=True)
class PipelineInfo:
    """The settings that shaped a video's result, with the stages that actually ran."""

    detector: StageInfo
    tracker: str
    segmenter: StageInfo
    fps: float | None
    clip_length: int
    clip_stride: int
    precision: str
    detect_every: int
    segment_batch: int
    workers: int
    thresholds: dict[str, float]  #: {setting name: value}, as the settings name them
    rotation: RotationInfo | None = None  #: None only in results stored before it was recorded
    clip_sampling: str = "consecutive"  #: what results stored before it was recorded used
    #: where ScoNet's backbone ran: {"runtime": ..., "runtime_fallback": why (if it fell back)}
    classifier: dict[str, str] = field(default_factory=lambda: {"runtime": "native"})

    def to_dict(self) -> dict[str, Any]:
        """Keys in their documented order; `rotation` follows the stages (absent when None)."""
        rotation = {"rotation": self.rotation.to_dict()} if self.rotation else {}
        return {
            "detector": self.detector.to_dict(),
            "tracker": self.tracker,
            "segmenter": self.segmenter.to_dict(),
            "classifier": dict(self.classifier),
            **rotation,
            "fps": self.fps,
            "clip_length": self.clip_length,
            "clip_sampling": self.clip_sampling,
            "clip_stride": self.clip_stride,
            "precision": self.precision,
            "detect_every": self.detect_every,
            "segment_batch": self.segment_batch,
            "workers": self.workers,
            "thresholds": dict(self.thresholds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineInfo:
        rotation = data.get("rotation")
        return cls(
            detector=StageInfo.from_dict(data["detector"]),
            tracker=data["tracker"],
            segmenter=StageInfo.from_dict(data["segmenter"]),
            classifier=dict(data.get("classifier", {"runtime": "native"})),
            fps=data["fps"],
            clip_length=data["clip_length"],
            clip_sampling=data.get("clip_sampling", "consecutive"),
            clip_stride=data["clip_stride"],
            precision=data["precision"],
            detect_every=data["detect_every"],
            segment_batch=data["segment_batch"],
            workers=data["workers"],
            thresholds=dict(data["thresholds"]),
            rotation=RotationInfo.from_dict(rotation) if rotation else None,
        )


@dataclass(frozen=True)
class Timing:
    """Where the time went (seconds rounded to ms)."""

    total_s: float
    frontend_s: float
    classify_s: float
    video_s: float  #: the video's duration
    realtime_factor: float  #: video seconds per processing second
    ms_per_frame: dict[str, float]  #: {front-end stage: ms of work per analysed frame}

    @classmethod
    def of(
        cls,
        total: float,
        frontend: float,
        classify: float,
        video: float,
        ms_per_frame: Mapping[str, float],
    ) -> Timing:
        """From unrounded seconds, rounded as the JSON keeps them."""
        return cls(
            round(total, 3),
            round(frontend, 3),
            round(classify, 3),
            round(video, 3),
            round(video / max(total, 1e-9), 2),
            dict(ms_per_frame),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_s": self.total_s,
            "frontend_s": self.frontend_s,
            "classify_s": self.classify_s,
            "video_s": self.video_s,
            "realtime_factor": self.realtime_factor,
            "ms_per_frame": dict(self.ms_per_frame),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timing:
        return cls(**{**data, "ms_per_frame": dict(data["ms_per_frame"])})  # keys: field names


@dataclass(frozen=True)
class ScreeningResult:
    """One verdict with its evidence: of a video (`video` set) or of stored silhouettes
    (`input` set; `screen classify`)."""

    verdict: Verdict
    confidence: float  #: probability of the predicted class (0 when nothing was classified)
    probabilities: Probabilities  #: mean over clips: the verdict protocol
    whole_sequence_probabilities: Probabilities | None  #: all silhouettes pooled at once
    clips: tuple[ClipResult, ...]
    quality: Quality
    model: ModelInfo
    note: str  #: the honesty note, as it was said when the result was made
    video: str | None = None
    input: str | None = None  #: the silhouette file of `screen classify`
    pipeline: PipelineInfo | None = None
    timing: Timing | None = None
    probability_note: str = PROBABILITY_NOTE
    advice: tuple[str, ...] = ()  #: how to record again, a sentence per reason (`advise`)

    @property
    def action(self) -> Action:
        return ACTION_FOR_VERDICT[self.verdict]

    @property
    def clinical(self) -> bool:
        return self.model.clinical

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON, keys in their documented order."""
        whole = self.whole_sequence_probabilities
        head = _present([("video", self.video), ("input", self.input)])
        body = {
            "verdict": self.verdict.value,
            "action": self.action.value,
            "advice": list(self.advice),
            "confidence": self.confidence,
            "probabilities": self.probabilities.to_dict(),
            "whole_sequence_probabilities": whole.to_dict() if whole is not None else None,
            "clips": [clip.to_dict() for clip in self.clips],
        }
        if self.video is None:  # silhouettes only: the sequence length, as before
            body["frames"] = self.quality.silhouettes_used
        tail = {
            "quality": self.quality.to_dict(),
            "model": self.model.to_dict(),
            "note": self.note,
            "probability_note": self.probability_note,
        }
        video_only = _present(
            [
                ("pipeline", self.pipeline.to_dict() if self.pipeline else None),
                ("timing", self.timing.to_dict() if self.timing else None),
            ]
        )
        return {**head, **body, **tail, **video_only}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScreeningResult:
        """Read back `to_dict()`'s JSON (`action` and `frames` follow from the rest)."""
        whole = data.get("whole_sequence_probabilities")
        pipeline, timing = data.get("pipeline"), data.get("timing")
        return cls(
            verdict=Verdict(data["verdict"]),
            confidence=data["confidence"],
            probabilities=Probabilities.from_dict(data["probabilities"]),
            whole_sequence_probabilities=Probabilities.from_dict(whole) if whole else None,
            clips=tuple(ClipResult.from_dict(clip) for clip in data["clips"]),
            quality=Quality.from_dict(data["quality"]),
            model=ModelInfo.from_dict(data["model"]),
            note=data["note"],
            video=data.get("video"),
            input=data.get("input"),
            pipeline=PipelineInfo.from_dict(pipeline) if pipeline else None,
            timing=Timing.from_dict(timing) if timing else None,
            probability_note=data.get("probability_note", PROBABILITY_NOTE),
            advice=tuple(data.get("advice", ())),  # results stored before advice: none
        )


def classification_result(
    prediction: SequencePrediction,
    model: ModelInfo,
    source: str,
    probability_note: str = PROBABILITY_NOTE,
) -> ScreeningResult:
    """The result of `screen classify`: the classifier's label is the verdict (no video, so
    no front-end quality rules); a sequence shorter than one clip is flagged."""
    return ScreeningResult(
        verdict=Verdict.from_label(prediction.label),
        confidence=round(prediction.confidence, DIGITS),
        probabilities=Probabilities.of(prediction.probabilities),
        whole_sequence_probabilities=Probabilities.of(prediction.whole_sequence),
        clips=tuple(ClipResult.of(clip) for clip in prediction.clips),
        quality=Quality(("short_sequence",) if prediction.short else (), prediction.frames),
        model=model,
        note=model.note,
        input=source,
        probability_note=probability_note,
    )
