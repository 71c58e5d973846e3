"""The pipeline options shared by `screen VIDEO`, `screen batch` and `screen silhouettes`.

Each option is declared once, in PIPELINE_OPTIONS; `with_settings(...)` adds the
chosen ones to a command's signature and hands the command one resolved
`Settings` (command line > --config file > default, decided in
screen.settings.resolve_settings).  None means "not given".
"""

from __future__ import annotations

import functools
import inspect
import logging
from pathlib import Path
from typing import Any

import typer


def _option(annotation: Any, flag: str, help: str) -> tuple[Any, Any]:
    return annotation, typer.Option(None, flag, help=help)


PIPELINE_OPTIONS: dict[str, tuple[Any, Any]] = {
    "config": _option(Path | None, "--config", "TOML file with settings (options override it)."),
    "device": _option(str | None, "--device", "torch device for the classifier [cpu]."),
    "detector": _option(str | None, "--detector", "auto | yolo11n | yolov8n | background [auto]."),
    "segmenter": _option(
        str | None,
        "--segmenter",
        "auto | pp-humanseg-v2-mobile | pp-humanseg-v2-lite | background [auto].",
    ),
    "weights": _option(Path | None, "--weights", "Classifier checkpoint [the demo model]."),
    "class_order": _option(
        str | None, "--class-order", "For an OpenGait .pt classifier: current | legacy."
    ),
    "detector_weights": _option(Path | None, "--detector-weights", "Explicit YOLO .pt file."),
    "segmenter_weights": _option(
        Path | None, "--segmenter-weights", "Explicit PP-HumanSeg model folder."
    ),
    "fps": _option(float | None, "--fps", "Analysis frame rate [15, as ScoNet was trained]."),
    "rotate": _option(
        int | None, "--rotate", "Clockwise rotation 0|90|180|270, overriding the file's tag."
    ),
    "imgsz": _option(int | None, "--imgsz", "YOLO input size [640]."),
    "detect_every": _option(
        int | None,
        "--detect-every",
        "Detect on every n-th analysed frame; 0 = auto: 2 for YOLO, 1 for background [0].",
    ),
    "detect_confidence": _option(float | None, "--detect-confidence", "YOLO box threshold [0.1]."),
    "mask_threshold": _option(
        float | None, "--mask-threshold", "Person probability threshold [0.5]."
    ),
    "clip_stride": _option(int | None, "--clip-stride", "Frames between 30-frame clips [15]."),
    "min_silhouettes": _option(
        int | None, "--min-silhouettes", "Fewer usable silhouettes: inconclusive [30]."
    ),
    "precision": _option(
        str | None, "--precision", "Classifier precision auto | fp32 | bf16 [auto]."
    ),
    "threads": _option(int | None, "--threads", "CPU threads per network [automatic]."),
}

#: The options that only matter where the classifier runs.
CLASSIFIER_OPTIONS = (
    "device",
    "weights",
    "class_order",
    "clip_stride",
    "min_silhouettes",
    "precision",
)
FRONTEND_OPTIONS = tuple(name for name in PIPELINE_OPTIONS if name not in CLASSIFIER_OPTIONS)

QUIET = typer.Option(False, "--quiet", "-q", help="No progress bars or summaries; errors only.")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Log what each stage decides.")


def with_settings(*names: str):
    """Give a command the named pipeline options; it receives `settings: Settings` instead."""

    def decorate(command):
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.name != "settings"]
        keyword = inspect.Parameter.KEYWORD_ONLY
        added = [
            inspect.Parameter(name, keyword, default=option, annotation=annotation)
            for name in names
            for annotation, option in [PIPELINE_OPTIONS[name]]
        ]

        @functools.wraps(command)
        def wrapper(**kwargs):
            from ..settings import resolve_settings

            given = {name: kwargs.pop(name) for name in names}
            config = given.pop("config", None)
            cli = {k: str(v) if isinstance(v, Path) else v for k, v in given.items()}
            return command(settings=resolve_settings(cli, config), **kwargs)

        wrapper.__signature__ = signature.replace(parameters=own + added)
        wrapper.__annotations__ = {
            **{k: v for k, v in command.__annotations__.items() if k != "settings"},
            **{name: PIPELINE_OPTIONS[name][0] for name in names},
        }
        return wrapper

    return decorate


def set_verbosity(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
