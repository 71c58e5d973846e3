"""The pipeline options shared by `screen VIDEO`, `screen batch` and `screen silhouettes`.

Each is declared once here; None means "not given", so the config file or the
default applies (screen.settings.resolve_settings decides, in one place).
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

CONFIG = typer.Option(None, "--config", help="TOML file with settings (CLI options override it).")
DEVICE = typer.Option(None, "--device", help="torch device for the classifier [cpu].")
DETECTOR = typer.Option(None, "--detector", help="auto | yolo11n | yolov8n | background [auto].")
SEGMENTER = typer.Option(
    None,
    "--segmenter",
    help="auto | pp-humanseg-v2-mobile | pp-humanseg-v2-lite | background [auto].",
)
WEIGHTS = typer.Option(None, "--weights", help="Classifier checkpoint [the demo model].")
CLASS_ORDER = typer.Option(
    None, "--class-order", help="For an OpenGait .pt classifier: current | legacy."
)
DETECTOR_WEIGHTS = typer.Option(None, "--detector-weights", help="Explicit YOLO .pt file.")
SEGMENTER_WEIGHTS = typer.Option(
    None, "--segmenter-weights", help="Explicit PP-HumanSeg model folder."
)
FPS = typer.Option(None, "--fps", help="Analysis frame rate [15, as ScoNet was trained].")
ROTATE = typer.Option(
    None, "--rotate", help="Clockwise rotation 0|90|180|270, overriding the file's tag."
)
IMGSZ = typer.Option(None, "--imgsz", help="YOLO input size [640].")
DETECT_CONFIDENCE = typer.Option(None, "--detect-confidence", help="YOLO box threshold [0.1].")
MASK_THRESHOLD = typer.Option(None, "--mask-threshold", help="Person probability threshold [0.5].")
CLIP_STRIDE = typer.Option(None, "--clip-stride", help="Frames between 30-frame clips [15].")
MIN_SILHOUETTES = typer.Option(
    None, "--min-silhouettes", help="Fewer usable ones: inconclusive [30]."
)
PRECISION = typer.Option(None, "--precision", help="Classifier precision fp32 | bf16 [fp32].")
THREADS = typer.Option(None, "--threads", help="CPU threads per network [1 per stage].")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bars or summaries; errors only.")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Log what each stage decides.")


def cli_settings(**given) -> dict:
    """Option values by setting name, paths as strings; None where not given."""
    return {name: str(value) if isinstance(value, Path) else value for name, value in given.items()}


def set_verbosity(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
