"""Screening settings, resolved in one place: command line > config file (TOML) > default.

A config file holds the same names as the options (underscores or dashes), at
the top level or under a `[screen]` table.  Unknown names are an error, never
silently ignored.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .model.classes import ClassOrder
from .errors import ScreenError


class SettingsError(ScreenError):
    """A config file or option value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Everything `screen VIDEO`, `screen batch` and `screen silhouettes` can be told."""

    device: str = "cpu"
    detector: str = "auto"  #: auto | yolo11n | yolov8n | background
    segmenter: str = "auto"  #: auto | pp-humanseg-v2-mobile | pp-humanseg-v2-lite | background
    weights: str | None = None  #: classifier checkpoint (default: the demo model)
    class_order: str | None = None  #: for an OpenGait .pt classifier: current | legacy
    detector_weights: str | None = None
    segmenter_weights: str | None = None
    fps: float = 15.0  #: analysis rate; ScoNet was trained at 15 fps
    rotate: int | None = None  #: clockwise degrees, overriding the file's rotation tag
    max_side: int = 1280  #: larger frames are shrunk to this longer side
    imgsz: int = 640  #: YOLO input size
    detect_confidence: float = 0.1
    mask_threshold: float = 0.5
    track_high_thresh: float = 0.25
    track_low_thresh: float = 0.1
    new_track_thresh: float = 0.25
    track_buffer: int = 30
    match_thresh: float = 0.8
    clip_stride: int = 15  #: frames between the starts of 30-frame clips
    min_silhouettes: int = 30  #: fewer usable silhouettes than this: inconclusive
    precision: str = "auto"  #: auto | fp32 | bf16 for the classifier; auto: bf16 where native
    threads: int = 0  #: CPU threads per network; 0 = the front end's default (1)
    workers: int = 0  #: stage copies on their own threads, and classifier threads; 0 = the cores
    detect_every: int = 0  #: detect on every n-th analysed frame (0: auto, see FrontendOptions)
    segment_batch: int = 4  #: participant crops per segmenter call

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise SettingsError(f"fps must be positive, got {self.fps}")
        if self.rotate not in (None, 0, 90, 180, 270):
            raise SettingsError(f"rotate must be 0, 90, 180 or 270, got {self.rotate}")
        if self.class_order is not None:
            try:
                ClassOrder.parse(self.class_order)
            except ValueError as error:
                raise SettingsError(str(error)) from None
        if self.precision not in ("auto", "fp32", "bf16"):
            raise SettingsError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        for name in ("detect_confidence", "mask_threshold", "track_high_thresh", "track_low_thresh",
                     "new_track_thresh", "match_thresh"):  # fmt: skip
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SettingsError(f"{name} must lie in 0..1, got {value}")
        if self.clip_stride < 1 or self.min_silhouettes < 1:
            raise SettingsError("clip_stride and min_silhouettes must be at least 1")
        if self.detect_every < 0 or self.segment_batch < 1 or self.workers < 0:
            raise SettingsError(
                "segment_batch must be at least 1; detect_every and workers 0 (auto) or more"
            )

    @property
    def parsed_class_order(self) -> ClassOrder | None:
        """The stated class order of an OpenGait classifier, or None."""
        return ClassOrder.parse(self.class_order) if self.class_order else None

    def to_dict(self) -> dict:
        return asdict(self)


_FIELDS = {f.name: f for f in fields(Settings)}


def _coerce(name: str, value: Any, origin: str) -> Any:
    """A config value checked against the default's type (ints may stand for floats)."""
    default = _FIELDS[name].default
    if value is None:
        return None
    if isinstance(default, bool) or default is None:
        expected = (str, int)
    elif isinstance(default, float):
        expected = (int, float)
    else:
        expected = (type(default),)
    if isinstance(value, bool) or not isinstance(value, expected):
        raise SettingsError(f"{origin}: {name} = {value!r} has the wrong type")
    return float(value) if isinstance(default, float) else value


def read_config(path: str | Path) -> dict[str, Any]:
    """The settings in a TOML file, names checked."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"{path}: not a readable TOML file ({error})") from None
    data = data.get("screen", data)
    values = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in _FIELDS:
            raise SettingsError(
                f"{path}: unknown setting {key!r}; known: {', '.join(sorted(_FIELDS))}"
            )
        values[name] = _coerce(name, value, str(path))
    return values


def resolve_settings(cli: dict[str, Any], config: str | Path | None = None) -> Settings:
    """Defaults, overlaid by the config file, overlaid by options given on the command line.

    `cli` maps setting names to values; None means "not given".
    """
    values: dict[str, Any] = {}
    if config is not None:
        values.update(read_config(config))
    for name, value in cli.items():
        if name not in _FIELDS:
            raise SettingsError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = value
    return Settings(**values)
