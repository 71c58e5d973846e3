"""What users run: `screen VIDEO`, `screen batch DIR`, `screen silhouettes INPUT`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..settings import Settings
from . import options as opt
from .common import console, err_console, write_json


def register(app: typer.Typer) -> None:
    app.command("video", hidden=True)(screen_video)
    app.command("batch")(batch)
    app.command("silhouettes")(silhouettes)


def _progress(quiet: bool):
    from contextlib import nullcontext

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if quiet:
        return nullcontext(None)
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, transient=True,
    )  # fmt: skip


@opt.with_settings(*opt.PIPELINE_OPTIONS)
def screen_video(
    video: Path = typer.Argument(..., help="The walking video (mp4, avi, mov, mkv, ...)."),
    json_out: str | None = typer.Option(
        None, "--json", help="Write the result JSON to PATH ('-': stdout)."
    ),
    overlay: Path | None = typer.Option(
        None, "--overlay", help="Write a check video (raw frames!) here."
    ),
    quiet: bool = opt.QUIET,
    verbose: bool = opt.VERBOSE,
    settings: Settings | None = None,
) -> None:
    """Screen one video: verdict, action, confidence, probabilities and quality flags."""
    from ..errors import FileProblem
    from ..pipeline import Screener
    from ..outputs.result import print_result

    opt.set_verbosity(quiet, verbose)
    if not video.exists():
        raise FileProblem(video, "no such file")
    screener = Screener(settings)
    with _progress(quiet) as progress:
        screening = screener.screen(video, progress, keep_masks=overlay is not None)
    if overlay is not None:
        from ..outputs.overlay import write_overlay

        write_overlay(screening.frontend, overlay, settings.fps, settings.rotate, settings.max_side)
    if json_out is not None:
        write_json(screening.result, json_out)
    if not quiet and json_out != "-":
        print_result(console, screening.result)
        if overlay is not None:
            console.print(f"check video: {overlay}")


@opt.with_settings(*opt.PIPELINE_OPTIONS)
def batch(
    folder: Path = typer.Argument(..., help="Folder with the videos (searched recursively)."),
    out: Path = typer.Option(..., "--out", help="Output folder: results.csv, report.html, state."),
    workers: int | None = typer.Option(None, "--workers", help="Parallel processes [the cores]."),
    quiet: bool = opt.QUIET,
    verbose: bool = opt.VERBOSE,
    settings: Settings | None = None,
) -> None:
    """Screen every video under FOLDER; resumable (rerun the same command after a stop)."""
    from ..batch import run_batch

    opt.set_verbosity(quiet, verbose)
    summary = run_batch(folder, out, settings, workers, quiet)
    if not quiet:
        console.print(summary)


@opt.with_settings(*opt.FRONTEND_OPTIONS)
def silhouettes(
    source: Path = typer.Argument(
        ..., help="A video, or a folder of videos (searched recursively)."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder (a Scoliosis1K-style tree)."),
    label: str | None = typer.Option(
        None, "--label", help="positive | neutral | negative, to place it."
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
    settings: Settings | None = None,
) -> None:
    """Export anonymous silhouettes only (PNG masks, OpenGait pkl, JSON sidecar); never frames."""
    from ..export import export_silhouettes

    opt.set_verbosity(quiet, verbose)
    with _progress(quiet) as progress:
        written = export_silhouettes(
            source, out, settings, label, view, full, pseudonymize, salt, progress
        )
    if not quiet:
        for line in written:
            console.print(line)
