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

from ..errors import ScreenError, WeightsMissing
from ..modelfiles.files import resolve_file
from ..modelfiles.specs import ModelSpec, get_spec
from ..settings import AUTO, DetectorSettings, SegmenterSettings
from .background import Scene
from .detect import BackgroundDetector, Detector, YoloDetector
from .segment import BackgroundSegmenter, PaddleHumanSegmenter, Segmenter

log = logging.getLogger(__name__)

WEIGHT_FREE = "background"
AUTO_DETECTOR = "yolo11n"
AUTO_SEGMENTER = "pp-humanseg-v2-mobile"


@dataclass(frozen=True)
class StageChoice:
    """The backend a stage actually runs, the model file it uses, and flags for the result."""

    backend: str
    model: dict | None = None  #: path, sha256, checksum state of the weights used
    flags: tuple[str, ...] = field(default=())


Background = Callable[[], Scene]  # estimates (once) the empty scene on demand


def _yolo(spec: ModelSpec, path: Path, settings: DetectorSettings, threads: int) -> Detector:
    person_class = int(spec.options.get("person_class", 0))
    return YoloDetector(path, settings, person_class=person_class, threads=threads)


def _humanseg(spec: ModelSpec, path: Path, settings: SegmenterSettings, threads: int) -> Segmenter:
    person_channel = int(spec.options.get("person_channel", 1))
    return PaddleHumanSegmenter(path, settings, person_channel=person_channel, threads=threads)


#: backend name -> how to build it from its model spec and resolved file
DETECTORS: dict[str, Callable[[ModelSpec, Path, DetectorSettings, int], Detector]] = {
    "yolo11n": _yolo,
    "yolov8n": _yolo,
}
SEGMENTERS: dict[str, Callable[[ModelSpec, Path, SegmenterSettings, int], Segmenter]] = {
    "pp-humanseg-v2-mobile": _humanseg,
    "pp-humanseg-v2-lite": _humanseg,
}


def _build(
    kind: str,
    settings: DetectorSettings | SegmenterSettings,
    threads: int,
    registry: dict,
    auto_name: str,
    weight_free: Callable[[], object],
) -> tuple[object, StageChoice]:
    name = settings.model
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
    stage = registry[chosen](spec, resolved.path, settings, threads)
    return stage, StageChoice(chosen, resolved.describe())


def build_detector(
    settings: DetectorSettings, threads: int, background: Background
) -> tuple[Detector, StageChoice]:
    """The detector `settings.model` names ('auto', a model name, or 'background')."""
    weight_free = lambda: BackgroundDetector(background())  # noqa: E731
    return _build("detector", settings, threads, DETECTORS, AUTO_DETECTOR, weight_free)  # type: ignore[return-value]


def build_segmenter(
    settings: SegmenterSettings, threads: int, background: Background
) -> tuple[Segmenter, StageChoice]:
    """The segmenter `settings.model` names ('auto', a model name, or 'background')."""
    weight_free = lambda: BackgroundSegmenter(background())  # noqa: E731
    return _build("segmenter", settings, threads, SEGMENTERS, AUTO_SEGMENTER, weight_free)  # type: ignore[return-value]
