"""Which detector and segmenter to run: a registry of backends and the `auto` choice.

`auto` takes the neural backend when its weights are found (explicit path,
environment variable, `weights/`, user cache, checksum checked) and otherwise
falls back to the weight-free one, with a warning on stderr and a quality flag
in the result, since silhouettes from background subtraction are rougher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .background import Scene
from .detect import BackgroundDetector, Detector, YoloDetector
from ..errors import ScreenError, WeightsMissing
from .segment import BackgroundSegmenter, PaddleHumanSegmenter, Segmenter
from ..modelfiles.files import resolve_file
from ..modelfiles.specs import ModelSpec, get_spec

log = logging.getLogger(__name__)

WEIGHT_FREE = "background"
AUTO = "auto"
AUTO_DETECTOR = "yolo11n"
AUTO_SEGMENTER = "pp-humanseg-v2-mobile"


@dataclass(frozen=True)
class StageSettings:
    """Everything a backend may need; each reads only its own fields."""

    weights: Path | None = None  #: an explicit model file or folder (overrides the search)
    imgsz: int = 640  #: YOLO input size
    detect_confidence: float = 0.1  #: YOLO boxes below this are dropped (ByteTrack uses weak ones)
    mask_threshold: float = 0.5  #: person probability above which a pixel is in the mask
    threads: int = 1  #: CPU threads for torch / Paddle (see FrontendOptions.threads)
    device: str = "cpu"


@dataclass(frozen=True)
class StageChoice:
    """The backend a stage actually runs, the model file it uses, and flags for the result."""

    backend: str
    model: dict | None = None  #: path, sha256, checksum state of the weights used
    flags: tuple[str, ...] = field(default=())


Background = Callable[[], Scene]  # estimates (once) the empty scene on demand


def _yolo(spec: ModelSpec, path: Path, settings: StageSettings) -> Detector:
    return YoloDetector(
        path,
        imgsz=settings.imgsz,
        confidence=settings.detect_confidence,
        person_class=int(spec.options.get("person_class", 0)),
        device=settings.device,
        threads=settings.threads,
    )


def _humanseg(spec: ModelSpec, path: Path, settings: StageSettings) -> Segmenter:
    return PaddleHumanSegmenter(
        path,
        threshold=settings.mask_threshold,
        person_channel=int(spec.options.get("person_channel", 1)),
        threads=settings.threads,
    )


#: backend name -> how to build it from its model spec and resolved file
DETECTORS: dict[str, Callable[[ModelSpec, Path, StageSettings], Detector]] = {
    "yolo11n": _yolo,
    "yolov8n": _yolo,
}
SEGMENTERS: dict[str, Callable[[ModelSpec, Path, StageSettings], Segmenter]] = {
    "pp-humanseg-v2-mobile": _humanseg,
    "pp-humanseg-v2-lite": _humanseg,
}


def _build(
    kind: str,
    name: str,
    registry: dict,
    auto_name: str,
    settings: StageSettings,
    weight_free: Callable[[], object],
) -> tuple[object, StageChoice]:
    known = [AUTO, *registry, WEIGHT_FREE]
    if name not in known:
        raise ScreenError(f"unknown {kind} {name!r}; choose one of: {', '.join(known)}")
    if name == WEIGHT_FREE:
        return weight_free(), StageChoice(WEIGHT_FREE)
    chosen = auto_name if name == AUTO else name
    spec = get_spec(chosen)
    try:
        resolved = resolve_file(spec, settings.weights)
    except WeightsMissing as missing:
        if name != AUTO or settings.weights is not None:  # a file the user named: no fallback
            raise
        log.warning(
            "%s: %s; using the weight-free background-subtraction %s instead (fixed camera "
            "only, rougher silhouettes)",
            kind,
            missing,
            kind,
        )
        return weight_free(), StageChoice(WEIGHT_FREE, flags=(f"{kind}_fallback_weight_free",))
    stage = registry[chosen](spec, resolved.path, settings)
    return stage, StageChoice(chosen, resolved.describe())


def build_detector(
    name: str, settings: StageSettings, background: Background
) -> tuple[Detector, StageChoice]:
    """The detector called `name` ('auto', a model name, or 'background')."""
    return _build(  # type: ignore[return-value]
        "detector",
        name,
        DETECTORS,
        AUTO_DETECTOR,
        settings,
        lambda: BackgroundDetector(background()),
    )


def build_segmenter(
    name: str, settings: StageSettings, background: Background
) -> tuple[Segmenter, StageChoice]:
    """The segmenter called `name` ('auto', a model name, or 'background')."""
    return _build(  # type: ignore[return-value]
        "segmenter",
        name,
        SEGMENTERS,
        AUTO_SEGMENTER,
        settings,
        lambda: BackgroundSegmenter(background()),
    )
