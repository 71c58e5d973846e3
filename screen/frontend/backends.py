"""Which detector and segmenter to run: a registry of backends and the `auto` choice.

`auto` takes the first model of its list whose weights are found (explicit path,
environment variable, `weights/`, the bundled files, user cache; checksum
checked): for the segmenter PP-HumanSeg V2 Mobile, else V2 Lite, else the
bundled V1 Lite, so a fresh install segments with a trained network.  Only when
none is found, or the network cannot run here (Paddle missing or failing), does
it fall back to the weight-free stage, with a warning on stderr and a quality
flag in the result, since silhouettes from background subtraction are rougher.
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
#: What `auto` tries, in order (the first whose files are found runs).
AUTO_DETECTORS = ("yolo11n",)
AUTO_SEGMENTERS = ("pp-humanseg-v2-mobile", "pp-humanseg-v2-lite", "pp-humanseg-v1-lite")


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
    "pp-humanseg-v1-lite": _humanseg,
}


def _build(
    kind: str,
    settings: DetectorSettings | SegmenterSettings,
    threads: int,
    registry: dict,
    auto_names: tuple[str, ...],
    weight_free: Callable[[], object],
) -> tuple[object, StageChoice]:
    name = settings.model
    known = [AUTO, *registry, WEIGHT_FREE]
    if name not in known:
        raise ScreenError(f"unknown {kind} {name!r}; choose one of: {', '.join(known)}")
    if name == WEIGHT_FREE:
        return weight_free(), StageChoice(WEIGHT_FREE)
    fallback = StageChoice(WEIGHT_FREE, flags=(f"{kind}_fallback_weight_free",))
    if name != AUTO or settings.weights is not None:  # a model or file the user named: no fallback
        chosen = auto_names[0] if name == AUTO else name
        spec = get_spec(chosen)
        resolved = resolve_file(spec, settings.weights)
        return registry[chosen](spec, resolved.path, settings, threads), StageChoice(
            chosen, resolved.describe()
        )
    first_missing: WeightsMissing | None = None
    for chosen in auto_names:
        spec = get_spec(chosen)
        try:
            resolved = resolve_file(spec, None)
        except WeightsMissing as missing:
            first_missing = first_missing or missing
            continue
        try:
            stage = registry[chosen](spec, resolved.path, settings, threads)
        except (ImportError, OSError, RuntimeError) as error:  # the runtime cannot run it here
            log.warning(
                "%s: %s cannot run here (%s); using the weight-free background-subtraction %s "
                "instead (fixed camera only, rougher silhouettes)", kind, chosen, error, kind,
            )  # fmt: skip
            return weight_free(), fallback
        return stage, StageChoice(chosen, resolved.describe())
    log.warning(
        "%s: %s; using the weight-free background-subtraction %s instead (fixed camera "
        "only, rougher silhouettes)", kind, first_missing, kind,
    )  # fmt: skip
    return weight_free(), fallback


def build_detector(
    settings: DetectorSettings, threads: int, background: Background
) -> tuple[Detector, StageChoice]:
    """The detector `settings.model` names ('auto', a model name, or 'background')."""
    weight_free = lambda: BackgroundDetector(background())  # noqa: E731
    return _build("detector", settings, threads, DETECTORS, AUTO_DETECTORS, weight_free)  # type: ignore[return-value]


def build_segmenter(
    settings: SegmenterSettings, threads: int, background: Background
) -> tuple[Segmenter, StageChoice]:
    """The segmenter `settings.model` names ('auto', a model name, or 'background')."""
    weight_free = lambda: BackgroundSegmenter(background())  # noqa: E731
    return _build("segmenter", settings, threads, SEGMENTERS, AUTO_SEGMENTERS, weight_free)  # type: ignore[return-value]
