"""Which detector and segmenter to run: a registry of backends and the `auto` choice.

`auto` takes the first model of its list whose weights are found (explicit path,
environment variable, `weights/`, the bundled files, user cache; checksum
checked): for the segmenter PP-HumanSeg V2 Mobile, else V2 Lite, else the
bundled V1 Lite, so a fresh install segments with a trained network.  For the
detector: YOLO11n; without its weights, background subtraction for a fixed
camera (on the shipped front-view examples it kept 92-93% of the walker's frames
where the whole-frame PP-HumanSeg kept 14-20%: at 192 px it takes the corridor's
floor for a person), and for a moving camera, measured in pass 1, that same
PP-HumanSeg run over the whole frame (`humanseg`: 95-100% of the walker's frames
on panning and shaking phantoms, where background subtraction kept 0-25%).  Only
when no segmenter is found, or none can run here (Paddle missing or failing),
does a stage fall back to the weight-free one, with a warning on stderr and a
quality flag in the result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ScreenError, WeightsMissing
from ..modelfiles.files import resolve_file
from ..modelfiles.specs import ModelSpec, get_spec
from ..runtime.convert import YOLO, convert
from ..runtime.engines import open_network, runtime_record
from ..settings import AUTO, DetectorSettings, SegmenterSettings
from .background import Scene
from .detect import BackgroundDetector, Detector, YoloDetector
from .segdetect import SegmenterDetector
from .segment import BackgroundSegmenter, HumanSegmenter, Segmenter
from .yolo import ExportedYoloDetector

log = logging.getLogger(__name__)

WEIGHT_FREE = "background"
WHOLE_FRAME = "humanseg"  #: detector: the best PP-HumanSeg found, run over the whole frame
#: What `auto` tries, in order (the first whose files are found runs).
AUTO_SEGMENTERS = ("pp-humanseg-v2-mobile", "pp-humanseg-v2-lite", "pp-humanseg-v1-lite")
AUTO_DETECTORS = ("yolo11n",)
#: The offline detector for a moving camera (see the module's docstring).
MOVING_CAMERA_DETECTORS = (WHOLE_FRAME,)


@dataclass(frozen=True)
class StageChoice:
    """The backend a stage actually runs, the model file it uses, and flags for the result."""

    backend: str
    model: dict | None = None  #: path, sha256, checksum state of the weights used
    flags: tuple[str, ...] = field(default=())
    #: background subtraction chosen by `auto` for a camera believed fixed: pass 1 switches to
    #: `MOVING_CAMERA_DETECTORS` if it measures the camera moving
    fixed_camera: bool = False


Background = Callable[[], Scene]  # estimates (once) the empty scene on demand
#: PP-HumanSeg networks already loaded, by model folder: the whole-frame detector and the
#: segmenter of one `Frontend` share one (its passes run one after the other).
Loaded = dict[Path, HumanSegmenter]
Stage = tuple[object, StageChoice]


def yolo_detector(
    path: Path, settings: DetectorSettings, threads: int, runtime: str, person_class: int = 0
) -> Detector:
    """YOLO on `runtime`: exported to ONNX (once) and run there, else through PyTorch."""
    exported = lambda: convert(path, YOLO)  # noqa: E731
    network, why = open_network(runtime, exported, threads, str(path))
    if network is not None:
        return ExportedYoloDetector(network, path, settings, person_class)
    detector = YoloDetector(path, settings, person_class=person_class, threads=threads)
    detector.runtime_note = why
    return detector


def _yolo(
    spec: ModelSpec, path: Path, settings: DetectorSettings, threads: int, runtime: str, _: Loaded
) -> Detector:
    person_class = int(spec.options.get("person_class", 0))
    return yolo_detector(path, settings, threads, runtime, person_class)


def _humanseg(
    spec: ModelSpec,
    path: Path,
    settings: SegmenterSettings,
    threads: int,
    runtime: str,
    loaded: Loaded,
) -> Segmenter:
    if path in loaded:
        return loaded[path].with_settings(settings)
    person_channel = int(spec.options.get("person_channel", 1))
    segmenter = HumanSegmenter(
        path, settings, person_channel=person_channel, threads=threads, runtime=runtime
    )
    loaded[path] = segmenter
    return segmenter


def runtime_facts(stage: object) -> dict:
    """Which runtime runs a network stage, and why it is not the one asked for, if so."""
    runtime = getattr(stage, "runtime", None)
    return {} if runtime is None else runtime_record(runtime, getattr(stage, "runtime_note", None))


Builder = Callable[[ModelSpec, Path, object, int, str, Loaded], object]
#: backend name -> how to build it from its model spec and resolved file
DETECTORS: dict[str, Builder] = {
    "yolo11n": _yolo,
    "yolov8n": _yolo,
}
SEGMENTERS: dict[str, Builder] = {
    "pp-humanseg-v2-mobile": _humanseg,
    "pp-humanseg-v2-lite": _humanseg,
    "pp-humanseg-v1-lite": _humanseg,
}


def _model(
    name: str,
    registry: dict,
    settings: DetectorSettings | SegmenterSettings,
    threads: int,
    runtime: str,
    loaded: Loaded,
) -> Stage:
    """The stage of one registered model, its file resolved (WeightsMissing if not found)."""
    spec = get_spec(name)
    resolved = resolve_file(spec, settings.weights)
    stage = registry[name](spec, resolved.path, settings, threads, runtime, loaded)
    return stage, StageChoice(name, {**resolved.describe(), **runtime_facts(stage)})


def _whole_frame(settings: DetectorSettings, threads: int, runtime: str, loaded: Loaded) -> Stage:
    """The whole-frame detector on the first PP-HumanSeg of the segmenter's `auto` list found."""
    if settings.weights is not None:
        raise ScreenError(
            f"detector {WHOLE_FRAME!r} runs the PP-HumanSeg models found (auto's list); "
            "--detector-weights names a YOLO file"
        )
    first_missing: WeightsMissing | None = None
    for name in AUTO_SEGMENTERS:
        try:
            segmenter, choice = _model(
                name, SEGMENTERS, SegmenterSettings(), threads, runtime, loaded
            )
        except WeightsMissing as missing:
            first_missing = first_missing or missing
            continue
        return SegmenterDetector(segmenter), StageChoice(
            WHOLE_FRAME, {"name": name, **choice.model}
        )
    assert first_missing is not None
    raise first_missing


def _build(
    kind: str,
    name: str,
    named: Callable[[str], Stage],
    auto_names: tuple[str, ...],
    weight_free: Callable[[], object],
    explicit_file: bool,
    offline: Callable[[], Stage] | None = None,
) -> Stage:
    """The stage `name` asks for; for `auto` the first of `auto_names` found that can run here.

    `offline`: what `auto` runs when none of `auto_names` is found (default: the
    weight-free stage as a fallback, with a warning and a flag).
    """
    if name == WEIGHT_FREE:
        return weight_free(), StageChoice(WEIGHT_FREE)
    if name != AUTO or explicit_file:  # a model or file the user named: an error, not a fallback
        return named(auto_names[0] if name == AUTO else name)
    first_missing: WeightsMissing | None = None
    cannot_run = False
    for chosen in auto_names:
        try:
            return named(chosen)
        except WeightsMissing as missing:
            first_missing = first_missing or missing
        except (ImportError, OSError, RuntimeError) as error:  # the runtime cannot run it here
            log.warning("%s: %s cannot run here (%s)", kind, chosen, error)
            cannot_run = True
    if offline is not None and not cannot_run:
        log.debug("%s: %s", kind, first_missing)
        return offline()
    log.warning(
        "%s: %s; using the weight-free background-subtraction %s instead (fixed camera "
        "only, rougher silhouettes)", kind,
        "no model found can run here" if cannot_run else first_missing, kind,
    )  # fmt: skip
    return weight_free(), StageChoice(WEIGHT_FREE, flags=(f"{kind}_fallback_weight_free",))


def _known(kind: str, name: str, names: list[str]) -> None:
    known = [AUTO, *names, WEIGHT_FREE]
    if name not in known:
        raise ScreenError(f"unknown {kind} {name!r}; choose one of: {', '.join(known)}")


def build_detector(
    settings: DetectorSettings,
    threads: int,
    background: Background,
    loaded: Loaded | None = None,
    moving_camera: bool = False,
    runtime: str = AUTO,
) -> tuple[Detector, StageChoice]:
    """The detector `settings.model` names: 'auto', a YOLO model, 'humanseg' or 'background'.

    Auto: YOLO11n if its weights are found; else background subtraction for a camera
    believed fixed (`fixed_camera` in the choice), or with `moving_camera` the
    whole-frame PP-HumanSeg detector, falling back to background subtraction (flagged)
    if none can run.  An explicit weights file means YOLO11n.  `loaded`: networks to
    share with the segmenter; `runtime`: where the network runs (settings.RUNTIMES).
    """
    loaded = {} if loaded is None else loaded
    _known("detector", settings.model, [*DETECTORS, WHOLE_FRAME])

    def named(name: str) -> Stage:
        if name == WHOLE_FRAME:
            return _whole_frame(settings, threads, runtime, loaded)
        return _model(name, DETECTORS, settings, threads, runtime, loaded)

    weight_free = lambda: BackgroundDetector(background())  # noqa: E731
    explicit = settings.weights is not None
    if moving_camera:
        auto = AUTO_DETECTORS + MOVING_CAMERA_DETECTORS
        return _build("detector", settings.model, named, auto, weight_free, explicit)  # type: ignore[return-value]

    def fixed() -> Stage:
        return weight_free(), StageChoice(WEIGHT_FREE, fixed_camera=True)

    return _build(  # type: ignore[return-value]
        "detector", settings.model, named, AUTO_DETECTORS, weight_free, explicit, fixed
    )


def build_segmenter(
    settings: SegmenterSettings,
    threads: int,
    background: Background,
    loaded: Loaded | None = None,
    runtime: str = AUTO,
) -> tuple[Segmenter, StageChoice]:
    """The segmenter `settings.model` names ('auto', a model name, or 'background')."""
    loaded = {} if loaded is None else loaded
    _known("segmenter", settings.model, list(SEGMENTERS))
    named = lambda name: _model(name, SEGMENTERS, settings, threads, runtime, loaded)  # noqa: E731
    weight_free = lambda: BackgroundSegmenter(background())  # noqa: E731
    explicit = settings.weights is not None
    return _build("segmenter", settings.model, named, AUTO_SEGMENTERS, weight_free, explicit)  # type: ignore[return-value]
