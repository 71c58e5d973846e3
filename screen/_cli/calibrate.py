"""`screen calibrate SILHOUETTES|VIDEOS`: calibrated probabilities and operating points."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import UsageProblem
from ..settings import Settings
from . import options as opt
from .common import console, write_json
from .progress import progress_bars
from .screening import ALL_KEYS
from .screening import DEFAULTS as SETTINGS_DEFAULTS


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)


@opt.with_settings(Settings, ALL_KEYS)
def calibrate(
    data: Path = typer.Argument(
        ...,
        metavar="DATA",
        help="Silhouettes (<id>/<label>/<view>/*.pkl, with --partition); or labelled videos "
        "(a video,label CSV, or a folder <id>/<label>/<view>/<file>.mp4, with --work).",
    ),
    partition: Path | None = typer.Option(
        None,
        "--partition",
        help="JSON with a VAL_SET (never the test split) to fit on (silhouettes: required; "
        "a video folder: only that split's ids).",
    ),
    out: Path = typer.Option(
        ..., "--out", help="The calibrated model file to write (.safetensors)."
    ),
    split: str = typer.Option("val", "--split", help="val (default) or train."),
    method: str = typer.Option(
        "temperature",
        "--method",
        help="temperature (one T; keeps each clip's arg-max) or vector (a scale and a bias "
        "per class).",
    ),
    targets: str = typer.Option(
        "0.9,0.95",
        "--targets",
        help="Sensitivities to store operating points for (e.g. 0.9,0.95).",
    ),
    diagram: Path | None = typer.Option(
        None, "--diagram", help="Reliability diagram PNG [default: beside --out]."
    ),
    work: Path | None = typer.Option(
        None,
        "--work",
        help="Videos: the folder for the screening's batch state and results (rerun the same "
        "command to resume).",
    ),
    workers: int | None = opt.VIDEO_WORKERS,
    json_out: str | None = opt.JSON_REPORT,
    quiet: bool = opt.QUIET,
    settings: Settings = SETTINGS_DEFAULTS,
) -> None:
    """Fit calibrated probabilities and operating points on a validation split.

    Writes a model file with the same weights and the calibration and operating
    points in its metadata (use it with --weights, and choose a point with
    --operating-point sensitivity=0.95), and a reliability diagram.  Labelled
    videos go through the whole pipeline first (as `screen evaluate` screens them),
    so the calibration covers what the front end does to the silhouettes.
    """
    from ..errors import FileProblem, ScreenError
    from ..labelled_videos import has_videos, is_labels_csv
    from ..model.operating_point import parse_target
    from ..pipeline import classifier_from_settings
    from ..training.calibrate import calibrate as run_calibration
    from ..training.calibrate import check_method, fit_and_save, reliability_diagram
    from ..training.dataset import SilhouetteDataset, Split
    from ..training.train import set_threads
    from ..video_evaluation import video_clip_log_probabilities
    from .train import labelled_videos

    if split not in (Split.VAL.value, Split.TRAIN.value):
        raise ScreenError(f"--split must be val or train (never test), got {split!r}")
    if out.suffix != ".safetensors":
        raise FileProblem(out, "the calibrated model is a .safetensors file: name it so")
    if out.exists() and out.is_dir():
        raise FileProblem(out, "is a folder; --out names the model file to write")
    chosen = [parse_target(item) for item in targets.split(",") if item.strip()]
    check_method(method)
    set_threads(0)
    classifier = classifier_from_settings(settings)
    half = classifier_is_half(classifier)
    if is_labels_csv(data) or has_videos(data):
        if work is None:
            raise UsageProblem(
                f"{data}: labelled videos need --work DIR, the folder for the screening's "
                "state and results (rerun the same command to resume)"
            )
        videos, _ = labelled_videos(data, partition, split, work)
        with progress_bars(quiet) as on_progress:
            clips, labels, skipped = video_clip_log_probabilities(
                videos, work, settings, workers, classifier.metadata.class_order.labels,
                on_progress,
            )  # fmt: skip
        if not clips:
            raise ScreenError(f"{data}: no video could be judged, nothing to calibrate on")
        fitted_on = f"{len(clips)} judged labelled videos of {data}"
        if skipped:
            fitted_on += " (not judged: " + ", ".join(f"{k} {n}" for k, n in skipped.items()) + ")"
        report = fit_and_save(classifier, clips, labels, fitted_on, out, method, chosen, half)
    else:
        if partition is None:
            raise UsageProblem(
                f"{data}: not a CSV of labelled videos and no video files in it; for a "
                "silhouette dataset (<id>/<label>/<view>/*.pkl) give --partition"
            )
        if work is not None or workers is not None:
            raise UsageProblem("--work and --workers are for videos; DATA is a silhouette dataset")
        dataset = SilhouetteDataset.open(data, partition, split)
        with progress_bars(quiet) as on_progress:
            report = run_calibration(classifier, dataset, out, method, chosen, half, on_progress)
    picture = reliability_diagram(report, diagram or out.with_suffix(".reliability.png"))
    report["diagram"] = str(picture)
    if json_out is not None:
        write_json(report, json_out)
        if json_out == "-":
            return
    if quiet:
        return
    _print_report(report)


def classifier_is_half(classifier) -> bool:
    """Whether the source file stored fp16 weights: the calibrated copy keeps its size."""
    from safetensors import safe_open

    from ..model.checkpoint import is_own_checkpoint

    path = classifier.source
    if path is None or not is_own_checkpoint(path):
        return False
    with safe_open(str(path), framework="pt") as handle:
        first = next(iter(handle.keys()))
        return str(handle.get_slice(first).get_dtype()) == "F16"


def _print_report(report: dict) -> None:
    from rich.table import Table

    figures = Table(title=f"{report['fitted_on']}")
    figures.add_column("probabilities")
    for column in ("ECE (15 bins)", "Brier", "NLL", "accuracy"):
        figures.add_column(column, justify="right")
    for name, values in report["validation"].items():
        shown = f"{name} (stored)" if name == report["method"] else name
        figures.add_row(shown, *(f"{values[k]:.3f}" for k in ("ece", "brier", "nll", "accuracy")))
    console.print(figures)
    points = Table(title="operating points (on this split)")
    for column in ("point", "p(positive) >=", "p(pos)+p(neu) >=", "sens. positive",
                   "sens. pos-or-neu", "spec. positive", "referred"):  # fmt: skip
        points.add_column(column, justify="right")
    for name, point in report["operating_points"].items():
        reached = point["validation"]
        points.add_row(
            name,
            f"{point['positive_threshold']:.3f}",
            f"{point['flag_threshold']:.3f}",
            f"{reached['sensitivity_positive']:.0%}",
            f"{reached['sensitivity_flagged']:.0%}",
            f"{reached['specificity_positive']:.0%}",
            f"{reached['referred_share']:.0%}",
        )
    console.print(points)
    temperature = report["temperature"]
    method = f"temperature T = {temperature:.3f}" if temperature else report["method"]
    console.print(f"wrote {report['out']} ({method}); reliability diagram: {report['diagram']}",
                  soft_wrap=True)  # fmt: skip
    console.print(
        "use it with --weights "
        + report["out"]
        + " [--operating-point "
        + next(iter(report["operating_points"]), "sensitivity=0.95")
        + "]",
        soft_wrap=True,
    )
