"""Every setting of the tool, declared once: a section per stage, one resolver for all commands.

Each field is declared with `setting(default, help, ...)`: its default, its help
text, its command-line flag (or none: config file only) and its range.  The CLI
builds its options from these declarations (help shows the same defaults), and
`resolve()` overlays them: command line > `--config` TOML file > default.

A config file may name settings by their flat key at the top level (or under a
`[screen]` table, the first layout), or per section (`[detector] confidence = 0.2`
or `[detector] detect_confidence = 0.2`).  Unknown names are an error, never
silently ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .declarations import Section, SettingsError, fields_of, plain, resolve, setting
from .model.classes import LOGIT_SCALE, ClassOrder

ANALYSIS_FPS = 15.0  #: the frame rate ScoNet was trained at (Scoliosis1K)
CLIP_LENGTH = 30  #: frames per clip, as in training
CLIP_STRIDE = 15  #: frames between the starts of consecutive clips (half a clip)
#: How a clip's 30 frames are chosen: spread over the whole sequence (as training samples
#: them; the verdict's default) or 30 in a row (the first protocol; see model/classify.py).
CLIP_SAMPLINGS = ("spread", "consecutive")
AUTO = "auto"
#: Where the detector and segmenter networks run (see runtime/): converted to ONNX and run by
#: ONNX Runtime or OpenVINO, or by their own frameworks (PyTorch, Paddle: the reference).
ONNXRUNTIME, OPENVINO, NATIVE = "onnxruntime", "openvino", "native"
RUNTIMES = (AUTO, ONNXRUNTIME, OPENVINO, NATIVE)


def _parse_batch(text: Any) -> tuple[int, int]:
    """'8x8' or [8, 8] -> (P ids, K sequences per id)."""
    try:
        parts = text.lower().split("x") if isinstance(text, str) else list(text)
        ids, sequences = (int(part) for part in parts)
    except (ValueError, TypeError, AttributeError):
        raise SettingsError(
            f"batch must look like 8x8 (ids x sequences per id), got {text!r}"
        ) from None
    if ids < 1 or sequences < 1:
        raise SettingsError(f"batch must be positive, got {text!r}")
    return ids, sequences


def _parse_ints(text: Any) -> tuple[int, ...]:
    """'100,200' or [100, 200] -> (100, 200)."""
    items = [i for i in text.split(",") if i.strip()] if isinstance(text, str) else text
    try:
        return tuple(int(item) for item in items)
    except (ValueError, TypeError):
        raise SettingsError(f"expected a list of integers, got {text!r}") from None


def _parse_rotation(value: Any) -> int:
    return int(value)


# --- the screening pipeline ---------------------------------------------------


@dataclass(frozen=True)
class VideoSettings(Section):
    """Decoding: which frames the stages see."""

    fps: float = setting(ANALYSIS_FPS, "Analysis frame rate (ScoNet was trained at 15 fps).",
                         low=0.1)  # fmt: skip
    rotate: int | None = setting(
        None, "Clockwise rotation 0|90|180|270, overriding the file's tag and the automatic check.",
        parse=_parse_rotation,
    )  # fmt: skip
    orient: bool = setting(
        True, "Turn sideways or upside-down videos upright automatically (when rotate is not "
        "given).", flag=False,
    )  # fmt: skip
    max_side: int = setting(1280, "Larger frames are shrunk to this longer side.", flag=False,
                            low=64)  # fmt: skip

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rotate not in (None, 0, 90, 180, 270):
            raise SettingsError(f"rotate must be 0, 90, 180 or 270, got {self.rotate}")


@dataclass(frozen=True)
class DetectorSettings(Section):
    """Person detection (pass 1)."""

    model: str = setting(
        AUTO,
        "auto (YOLO11n, else humanseg, else background) | yolo11n | yolov8n | humanseg (the "
        "segmenter's best PP-HumanSeg over the whole frame; copes with a moving camera) | "
        "background (fixed camera only).",
        key="detector",
    )
    weights: Path | None = setting(None, "Explicit YOLO .pt file.", key="detector_weights")
    imgsz: int = setting(640, "YOLO input size.", low=32)
    confidence: float = setting(
        0.1, "YOLO box threshold (low on purpose: ByteTrack uses weak boxes).",
        key="detect_confidence", low=0.0, high=1.0,
    )  # fmt: skip
    every: int = setting(
        0, "Detect on every n-th analysed frame; 0 = auto: 2 for YOLO, 1 otherwise.",
        key="detect_every", low=0,
    )  # fmt: skip


@dataclass(frozen=True)
class TrackerSettings(Section):
    """ByteTrack thresholds (Ultralytics' bytetrack.yaml names and defaults); config file only."""

    track_high_thresh: float = setting(
        0.25, "First association uses boxes at least this confident.", flag=False, low=0, high=1
    )
    track_low_thresh: float = setting(
        0.1, "The second association also uses boxes above this.", flag=False, low=0, high=1
    )
    new_track_thresh: float = setting(
        0.25, "An unmatched box this confident starts a track.", flag=False, low=0, high=1
    )
    track_buffer: int = setting(
        30, "Frames a lost track is kept (2 s at 15 fps) to bridge occlusions.", flag=False, low=1
    )
    match_thresh: float = setting(
        0.8, "Largest IoU cost accepted for a match.", flag=False, low=0, high=1
    )
    fuse_score: bool = setting(True, "Weigh IoU by detection confidence.", flag=False)


@dataclass(frozen=True)
class SegmenterSettings(Section):
    """Person segmentation of the participant's crop (pass 2)."""

    model: str = setting(
        AUTO,
        "auto (V2 Mobile, else V2 Lite, else the bundled V1 Lite) | pp-humanseg-v2-mobile | "
        "pp-humanseg-v2-lite | pp-humanseg-v1-lite | background.",
        key="segmenter",
    )
    weights: Path | None = setting(
        None, "Explicit PP-HumanSeg model folder.", key="segmenter_weights"
    )
    mask_threshold: float = setting(0.5, "Person probability threshold.", low=0.0, high=1.0)
    batch: int = setting(4, "Participant crops per segmenter call.", key="segment_batch",
                         flag=False, low=1)  # fmt: skip


@dataclass(frozen=True)
class ClassifierSettings(Section):
    """ScoNet-MT on 30-frame clips."""

    weights: Path | None = setting(None, "Classifier checkpoint (default: the demo model).")
    class_order: str | None = setting(
        None, "For an OpenGait .pt classifier: current | legacy.", choices=("current", "legacy")
    )
    device: str = setting("cpu", "torch device for the classifier.")
    precision: str = setting(
        AUTO, "Classifier precision auto | fp32 | bf16 (auto: bf16 where the CPU has it).",
        choices=(AUTO, "fp32", "bf16"),
    )  # fmt: skip
    clip_sampling: str = setting(
        CLIP_SAMPLINGS[0],
        "spread: each 30-frame clip spans the whole walk, as in training; consecutive: "
        "30 frames in a row.",
        choices=CLIP_SAMPLINGS,
    )
    clip_stride: int = setting(
        CLIP_STRIDE, "Frames between the starts of consecutive clips.", low=1
    )
    calibrated: bool = setting(
        True,
        "Apply the model's stored calibration (false: its raw softmax, as `screen calibrate` "
        "needs).",
        flag=False,
    )
    operating_point: str = setting(
        "argmax",
        "Verdict rule: argmax (the most probable class) or a point stored with the model "
        "by `screen calibrate`, e.g. sensitivity=0.95.",
    )

    @property
    def parsed_class_order(self) -> ClassOrder | None:
        """The stated class order of an OpenGait classifier, or None."""
        return ClassOrder.parse(self.class_order) if self.class_order else None


@dataclass(frozen=True)
class VerdictSettings(Section):
    """When a video can be judged at all."""

    min_silhouettes: int = setting(30, "Fewer usable silhouettes: inconclusive.", low=1)


@dataclass(frozen=True)
class RuntimeSettings(Section):
    """Where the networks run and how the work is spread over the CPU."""

    engine: str = setting(
        AUTO,
        "Runtime of the networks (detector, segmenter, ScoNet's backbone in fp32): auto (ONNX "
        "Runtime, else OpenVINO, "
        "else native) | onnxruntime | openvino | native (PyTorch / Paddle, the reference). "
        "A network that cannot be converted runs natively, with a warning.",
        key="runtime", choices=RUNTIMES,
    )  # fmt: skip

    threads: int = setting(0, "CPU threads per network; 0 = automatic (1 per stage copy).", low=0)
    workers: int = setting(
        0, "Stage copies on their own threads, and classifier threads; 0 = the cores.",
        flag=False, low=0,
    )  # fmt: skip
    overlap: bool = setting(
        True, "Decode in a background thread while the networks run.", flag=False
    )


@dataclass(frozen=True)
class Settings:
    """Everything `screen VIDEO`, `screen batch` and `screen silhouettes` can be told."""

    video: VideoSettings = field(default_factory=VideoSettings)
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    segmenter: SegmenterSettings = field(default_factory=SegmenterSettings)
    classifier: ClassifierSettings = field(default_factory=ClassifierSettings)
    verdict: VerdictSettings = field(default_factory=VerdictSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)

    @classmethod
    def of(cls, **values: Any) -> Settings:
        """Settings from flat keys, checked: `Settings.of(detector="background", fps=10)`."""
        return resolve(cls, values)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain values by section (paths as text)."""
        return {
            name: {s.name: plain(getattr(section, s.name)) for s in fields_of(type(section))}
            for name, section in ((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))
        }


# --- training -------------------------------------------------------------------


MODELS = ("sconet", "sconet-mt")


@dataclass(frozen=True)
class TrainingSettings(Section):
    """Every training hyperparameter; the defaults are the paper's recipe."""

    model: str = setting("sconet-mt", "sconet-mt (CE + triplet) or sconet (CE only).",
                         choices=MODELS)  # fmt: skip
    iterations: int = setting(20_000, "Training iterations.", low=1)
    batch: tuple[int, int] = setting((8, 8), "ids x sequences per id, e.g. 8x8.",
                                     parse=_parse_batch)  # fmt: skip
    frames: int = setting(30, "Random frames per sequence, unordered.", low=1)
    mask_noise: float = setting(
        0.0, "Share of training frames whose outline is jittered (the front end's ragged "
        "masks); 0 = off.", low=0.0, high=1.0,
    )  # fmt: skip
    mask_smoothing: float = setting(
        0.0, "Share of training sequences smoothed as the front end's segmenter smooths "
        "masks (wider, gaps closed); 0 = off.", low=0.0, high=1.0,
    )  # fmt: skip
    lr: float = setting(0.1, "SGD learning rate.", low=1e-12)
    momentum: float = setting(0.9, "SGD momentum.", flag=False, low=0)
    weight_decay: float = setting(5e-4, "SGD weight decay.", flag=False, low=0)
    milestones: tuple[int, ...] = setting(
        (10_000, 14_000, 18_000), "lr x gamma at these iterations, e.g. 10000,14000,18000.",
        parse=_parse_ints,
    )  # fmt: skip
    gamma: float = setting(0.1, "lr factor at each milestone.", flag=False, low=0)
    logit_scale: float = setting(LOGIT_SCALE, "Cosine logits x this before softmax.", flag=False)
    label_smoothing: float = setting(0.1, "Cross-entropy label smoothing.", flag=False, low=0,
                                     high=1)  # fmt: skip
    margin: float = setting(0.2, "Triplet margin (sconet-mt).", flag=False, low=0)
    triplet_weight: float = setting(1.0, "Triplet loss weight (sconet-mt).", flag=False, low=0)
    save_every: int = setting(1000, "Iterations between checkpoints.", low=1)
    seed: int = setting(0, "Random seed.")
    device: str = setting("cpu", "torch device: cpu, cuda, cuda:1, ...")
    precision: str = setting(
        AUTO, "auto (fp16 on CUDA, bf16 where the CPU has it) | fp32 | bf16 | fp16.",
        choices=(AUTO, "fp32", "bf16", "fp16"),
    )  # fmt: skip
    threads: int = setting(0, "CPU threads for torch; 0 = every core this process may use.",
                           low=0)  # fmt: skip
    name: str = setting("", "Model name in checkpoints and metadata ('' = the model kind).")
    trained_on: str = setting("unspecified", "The training data in words, for the metadata.")

    @classmethod
    def of(cls, **values: Any) -> TrainingSettings:
        """Training settings from keys, checked: `TrainingSettings.of(iterations=10)`."""
        return resolve(cls, values)

    def __post_init__(self) -> None:
        super().__post_init__()
        if list(self.milestones) != sorted(self.milestones):
            raise SettingsError(f"milestones must be increasing, got {list(self.milestones)}")

    @property
    def run_name(self) -> str:
        return self.name or self.model

    @property
    def uses_triplet(self) -> bool:
        return self.model == "sconet-mt"

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (lists for tuples): fits JSON, TOML and weights_only checkpoints."""
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
