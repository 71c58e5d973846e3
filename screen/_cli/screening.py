"""What users run: `screen VIDEO`, `screen batch DIR`, `screen silhouettes INPUT`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..settings import Settings
from . import options as opt
from .common import console, err_console, write_json
from .progress import progress_bars

#: `screen silhouettes` runs no classifier: its settings are not offered there.
CLASSIFIER_KEYS = (
    "weights", "class_order", "device", "precision", "clip_sampling", "clip_stride",
    "operating_point", "min_silhouettes",
)  # fmt: skip
ALL_KEYS = opt.flag_keys(Settings)
DEFAULTS = Settings()  #: replaced by the resolved settings (see options.with_settings)
FRONTEND_KEYS = opt.flag_keys(Settings, skip=CLASSIFIER_KEYS)


def register(app: typer.Typer) -> None:
    app.command("video", hidden=True)(screen_video)
    app.command("batch")(batch)
    app.command("silhouettes")(silhouettes)


@opt.with_settings(Settings, ALL_KEYS)
def screen_video(
    video: Path = typer.Argument(
        ..., metavar="VIDEO", help="The walking video (mp4, avi, mov, mkv, ...)."
    ),
    json_out: str | None = typer.Option(
        None, "--json", help="Write the result JSON to PATH ('-': stdout)."
    ),
    overlay: Path | None = typer.Option(
        None, "--overlay", help="Write a check video (raw frames!) here."
    ),
    explain: Path | None = opt.EXPLAIN,
    quiet: bool = opt.QUIET,
    verbose: bool = opt.VERBOSE,
    settings: Settings = DEFAULTS,
) -> None:
    """Screen one video: verdict, action, confidence, probabilities and quality flags."""
    from ..errors import FileProblem
    from ..outputs.explain import check_folder, explain_sequence
    from ..pipeline import Screener
    from .summary import print_explained, print_result

    opt.set_verbosity(quiet, verbose)
    if not video.exists():
        raise FileProblem(video, "no such file")
    if explain is not None:
        check_folder(explain)  # before minutes of screening, not after
    screener = Screener(settings)
    with progress_bars(quiet) as on_progress:
        screening = screener.screen(video, on_progress, keep_masks=overlay is not None)
    if overlay is not None:
        from ..outputs.overlay import write_overlay

        write_overlay(screening.frontend, overlay, settings.video)
    explained = None
    if explain is not None:
        explained = explain_sequence(screener.classifier, screening.stored, explain)
    if json_out is not None:
        extra = {"explain": explained} if explained is not None else {}
        write_json({**screening.result.to_dict(), **extra}, json_out)
    if not quiet and json_out != "-":
        print_result(console, screening.result)
        if overlay is not None:
            console.print(f"check video: {overlay}")
        if explained is not None:
            print_explained(console, explained)


@opt.with_settings(Settings, ALL_KEYS)
def batch(
    folder: Path = typer.Argument(
        ..., metavar="FOLDER", help="Folder with the videos (searched recursively)."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder: results.csv, report.html, state."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Parallel workers, at least 1 [default: the CPU cores]."
    ),
    engine: str = typer.Option(
        "local", "--engine", help="local: this machine's processes; ray: a Ray cluster."
    ),
    address: str | None = typer.Option(
        None, "--address", help="With --engine ray: the cluster's head (`ray start --head`)."
    ),
    quiet: bool = opt.QUIET,
    verbose: bool = opt.VERBOSE,
    settings: Settings = DEFAULTS,
) -> None:
    """Screen every video under FOLDER; resumable (rerun the same command after a stop)."""
    from ..batch import run_batch
    from ..batch_workers import LocalEngine
    from ..errors import FileProblem, UsageProblem

    opt.set_verbosity(quiet, verbose)
    if engine not in ("local", "ray"):
        raise UsageProblem(f"--engine must be local or ray, not {engine!r}")
    if address is not None and engine != "ray":
        raise UsageProblem("--address names a Ray cluster: add --engine ray")
    if out.exists() and not out.is_dir():
        raise FileProblem(out, "exists and is not a folder; --out names the output folder")
    if engine == "ray":
        from ..batch_ray import RayEngine

        chosen = RayEngine(address)
    else:
        chosen = LocalEngine()
    with progress_bars(quiet) as on_progress:
        summary = run_batch(folder, out, settings, workers, on_progress, chosen)
    if not quiet:
        console.print(summary)


@opt.with_settings(Settings, FRONTEND_KEYS)
def silhouettes(
    source: Path = typer.Argument(
        ..., metavar="SOURCE", help="A video, or a folder of videos (searched recursively)."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder (a Scoliosis1K-style tree)."),
    label: str | None = typer.Option(
        None,
        "--label",
        help="positive | neutral | negative, to place it (a folder in the Scoliosis1K layout "
        "<id>/<label>/<view>/<file> keeps its own ids, labels and views when none is given).",
    ),
    view: str = typer.Option("000_180", "--view", help="View folder name, as in Scoliosis1K."),
    full: bool = typer.Option(False, "--full", help="PNGs at full resolution (the cropped mask)."),
    pseudonymize: bool = typer.Option(
        False, "--pseudonymize", help="Name outputs by a salted hash."
    ),
    salt: str | None = typer.Option(
        None, "--salt", envvar="SCREEN_PSEUDONYM_SALT", help="The salt."
    ),
    quiet: bool = opt.QUIET,
    verbose: bool = opt.VERBOSE,
    settings: Settings = DEFAULTS,
) -> None:
    """Export anonymous silhouettes only (PNG masks, OpenGait pkl, JSON sidecar); never frames."""
    from ..export import export_silhouettes

    opt.set_verbosity(quiet, verbose)
    with progress_bars(quiet) as on_progress:
        written, failures = export_silhouettes(
            source, out, settings, label, view, full, pseudonymize, salt, on_progress
        )
    if not quiet:
        for line in written:
            console.print(line)
    for line in failures:
        err_console.print(f"failed: {line}")
    if failures:
        raise typer.Exit(1)
