"""`screen weights list | download | verify | forget | import`: the model files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .common import console, err_console, parse_class_order, write_json
from .progress import progress_bars

if TYPE_CHECKING:
    from ..modelfiles.files import ResolvedFile
    from ..modelfiles.specs import ModelSpec

weights_app = typer.Typer(
    name="weights",
    help="Model files: what is present, download, verify, import an OpenGait checkpoint.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.add_typer(weights_app, name="weights")


_STATE_STYLE = {
    "verified": "green",
    "trusted-on-first-use": "green",
    "MISMATCH": "bold red",
    "INCOMPLETE": "bold red",
    "missing": "yellow",
}


def _say(text: str) -> None:
    console.print(text, markup=False, soft_wrap=True)


def _complain(level: str, problem: object) -> None:
    """One line on stderr, as the root command prints errors."""
    err_console.print(f"screen: {level}: {problem}", markup=False, soft_wrap=True)


def _state(text: str) -> str:
    from rich.markup import escape

    style = _STATE_STYLE.get(text)
    return f"[{style}]{escape(text)}[/{style}]" if style else escape(text)


def _where(spec: ModelSpec, found: ResolvedFile) -> str:
    """A short place: weights/NAME, cache/NAME, or the user's own path."""
    if found.source == "project":
        return f"weights/{found.path.name}"
    if found.source == "cache":
        return f"cache/{found.path.name}"
    if found.source == "environment":
        return f"${spec.env_var}: {found.path}"
    return str(found.path)


def _download_bars():
    """A transient bar in bytes per file on stderr; none in logs and pipes.

    Transient: the bar goes when done, and the caller prints what was installed where.
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    columns += (TransferSpeedColumn(), TimeRemainingColumn())
    return progress_bars(not err_console.is_terminal, columns, err_console)


@weights_app.command("list")
def list_models(
    json_out: str | None = typer.Option(
        None, "--json", help="Write the list as JSON to PATH ('-' for stdout)."
    ),
) -> None:
    """Each model: present or missing (where), checksum state, license, clinical or not."""
    from rich.markup import escape
    from rich.table import Table

    from ..modelfiles.files import project_weights_dir, user_cache_dir
    from ..modelfiles.specs import all_specs
    from ..modelfiles.weights import model_status

    statuses = [model_status(spec) for spec in all_specs().values()]
    if json_out is not None:
        write_json({"models": [status.to_dict() for status in statuses]}, json_out)
        if json_out == "-":
            return
    table = Table(
        title="Models",
        title_justify="left",
        caption=f"weights/ = {project_weights_dir()}\ncache/ = {user_cache_dir()}",
        caption_justify="left",
    )
    table.add_column("model", no_wrap=True)
    for column in ("checksum", "license", "clinical"):
        table.add_column(column)
    table.add_column("file", overflow="fold", ratio=1)
    for status in statuses:
        found = status.found
        where = _where(status.spec, found) if found else "missing"
        table.add_row(
            status.spec.name,
            _state(str(found.checksum) if found else "missing"),
            escape(status.spec.license),
            "yes" if status.spec.clinical else "no",
            escape(where),
        )
    console.print(table)
    for status in statuses:
        if status.found is not None and status.found.problem is not None:
            _complain("warning", status.found.problem)
        elif status.found is None and os.environ.get(status.spec.env_var or ""):
            _complain("warning", status.missing)  # the user's variable points nowhere


@weights_app.command("download")
def download(
    name: str = typer.Argument(
        ..., metavar="NAME", help="A model name (see `screen weights list`) or 'all'."
    ),
    directory: str = typer.Option(
        "auto",
        "--dir",
        help="weights (the project's weights/), cache (the user cache) or auto: "
        "weights/ in a source checkout, else the user cache.",
    ),
    force: bool = typer.Option(False, "--force", help="Download even if a good copy is there."),
) -> None:
    """Download a model's files with checksum verification; archives are unpacked."""
    from ..errors import ScreenError
    from ..modelfiles.specs import all_specs, get_spec
    from ..modelfiles.weights import download as fetch
    from ..modelfiles.weights import download_dir

    target = download_dir(directory)
    specs = list(all_specs().values()) if name == "all" else [get_spec(name)]
    failed = 0
    for spec in specs:
        if name == "all" and spec.primary.url is None:
            _say(f"{spec.name}: no download ({spec.source or 'made locally'})")
            continue
        try:
            with _download_bars() as on_progress:
                fetched = fetch(spec, target, force=force, on_progress=on_progress)
            for found in fetched:
                _say(f"{spec.name}: {found.path} ({found.checksum}, sha256 {found.sha256})")
        except ScreenError as error:
            if name != "all":
                raise
            failed += 1
            _complain("error", error)
    if failed:
        raise typer.Exit(1)


@weights_app.command("verify")
def verify() -> None:
    """Recompute the checksum of every present model file; exit 1 if one is refused."""
    from rich.table import Table

    from ..modelfiles.specs import all_specs
    from ..modelfiles.weights import verify_present

    table = Table(title="Model files, re-hashed", title_justify="left")
    for column in ("model", "file", "sha256", "checksum"):
        table.add_column(column, overflow="fold")
    problems = []
    for spec in all_specs().values():
        for found in verify_present(spec):
            table.add_row(spec.name, str(found.path), found.sha256[:16], _state(found.checksum))
            if found.problem is not None:
                problems.append(found.problem)
    if not table.rows:
        _say("no model files present: `screen weights download all` fetches the published ones")
        return
    console.print(table)
    for problem in problems:
        _complain("error", problem)
    if problems:
        raise typer.Exit(1)


@weights_app.command("forget")
def forget(
    name: str = typer.Argument(
        ..., metavar="NAME", help="The model whose first-use record to drop."
    ),
) -> None:
    """Forget the sha256 recorded at first use: the next download or load is trusted afresh."""
    from ..modelfiles.specs import get_spec
    from ..modelfiles.weights import forget as forget_record

    dropped = forget_record(get_spec(name))
    _say(f"{name}: " + ("record dropped" if dropped else "no record to drop"))


@weights_app.command("import")
def import_checkpoint(
    file: Path = typer.Argument(..., metavar="FILE", help="An OpenGait ScoNet checkpoint (.pt)."),
    class_order: str = typer.Option(
        ...,
        "--class-order",
        help="The checkpoint's class order: current (negative, neutral, positive) or "
        "legacy (negative, positive, neutral; the 2024 code).",
    ),
    out: Path = typer.Option(..., "--out", help="Folder for the checkpoint and its card."),
    name: str | None = typer.Option(None, "--name", help="Model name (default: the file's stem)."),
    clinical: bool = typer.Option(
        False, "--clinical", help="State it is fit for clinical use (needs --trained-on)."
    ),
    trained_on: str | None = typer.Option(
        None, "--trained-on", help="The data it was trained on, in words."
    ),
    half: bool = typer.Option(False, "--half", help="Store fp16 weights (half the size)."),
    force: bool = typer.Option(False, "--force", help="Replace existing output files."),
) -> None:
    """Turn an OpenGait ScoNet checkpoint into this tool's format, recording where it came from."""
    from ..model.opengait_import import import_opengait

    imported = import_opengait(
        file,
        parse_class_order(class_order),
        out,
        name,
        clinical=clinical,
        trained_on=trained_on,
        half=half,
        force=force,
    )
    _say(f"wrote {imported.path} (sha256 {imported.sha256})")
    _say(f"wrote {imported.card} (fill in its evaluation)")
    _say(f"use it: screen classify SILHOUETTES --weights {imported.path}")
