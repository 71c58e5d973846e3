"""`screen phantom video|dataset`: synthetic walkers with a known answer.

Phantoms test the machinery; they say nothing about clinical accuracy.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ..errors import ScreenError
from ..settings import ANALYSIS_FPS
from .common import console

phantom_app = typer.Typer(
    help=(
        "Synthetic walkers with a controlled posture: test videos with ground truth, and "
        "training data in the Scoliosis1K layout. Phantoms test the machinery; they say "
        "nothing about clinical accuracy."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.add_typer(phantom_app, name="phantom")


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ScreenError(f"bad --size {text!r}: write WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (64 <= width <= 3840 and 64 <= height <= 3840):
        raise ScreenError(f"--size {text}: each side must be 64..3840 pixels")
    if width % 2 or height % 2:
        raise ScreenError(f"--size {text}: the mp4 encoder needs even sides")
    return width, height


def _progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _with_progress(description: str, work):
    """`work(progress)` under a progress bar; its result and the seconds it took."""
    started = time.perf_counter()
    with _progress_bar() as bar:
        task = bar.add_task(description, total=None)
        result = work(lambda done, total: bar.update(task, completed=done, total=total))
    return result, time.perf_counter() - started


@phantom_app.command("video")
def video(
    out: Path = typer.Argument(
        ..., help="The video to write (.mp4); OUT.json and OUT.masks.npz go beside it."
    ),
    label: str = typer.Option(..., "--label", help="positive, neutral or negative."),
    seed: int = typer.Option(..., "--seed", help="Same seed, same walker, same bytes."),
    seconds: float = typer.Option(20.0, "--seconds", min=0.1, max=600.0),
    fps: float = typer.Option(
        ANALYSIS_FPS, "--fps", min=1.0, max=60.0, help="15 (Scoliosis1K) or 30."
    ),
    size: str = typer.Option("1280x720", "--size", help="WIDTHxHEIGHT, e.g. 720x1280 portrait."),
    view: str = typer.Option("front", "--view", help="front (towards/away), side or oblique."),
    distractor: list[str] = typer.Option(
        [], "--distractor", help="clinician (standing at the side) or passerby; repeatable."
    ),
    passes: int = typer.Option(
        1,
        "--passes",
        min=1,
        max=2,
        help="2: the walker passes, leaves the picture for 4 s and comes back (front, side).",
    ),
    camera_motion: str = typer.Option(
        "none",
        "--camera-motion",
        help="none (a fixed camera), pan (turns to follow the walker), shake (a hand's tremor) "
        "or handheld (both).",
    ),
) -> None:
    """Render a phantom walking video with its ground truth."""
    from ..phantom import render_video, sample_walker

    dimensions = parse_size(size)
    params = sample_walker(label, seed)
    truth, elapsed = _with_progress(
        "rendering",
        lambda progress: render_video(
            out,
            params,
            fps=fps,
            seconds=seconds,
            size=dimensions,
            view=view,
            distractors=distractor,
            passes=passes,
            camera_motion=camera_motion,
            progress=progress,
        ),
    )
    posture = params.posture
    console.print(
        f"{out}: {label} phantom (severity {posture.severity_deg:.1f} deg, shoulder "
        f"difference {posture.shoulder_height_cm:+.1f} cm), {view} view, {dimensions[0]}x"
        f"{dimensions[1]} at {fps:g} fps, {round(seconds * fps)} frames in {elapsed:.1f} s",
        soft_wrap=True,
    )
    masks = truth.with_suffix(".masks.npz").name
    console.print(f"ground truth: {truth} (masks: {masks})", soft_wrap=True)


@phantom_app.command("dataset")
def dataset(
    out_dir: Path = typer.Argument(..., help="A new or empty folder."),
    train: int = typer.Option(300, "--train", min=0, help="Walkers in TRAIN_SET."),
    train_ratio: str = typer.Option("1:1:8", "--train-ratio", help="positive:neutral:negative"),
    test: int = typer.Option(90, "--test", min=0, help="Walkers in TEST_SET."),
    test_ratio: str = typer.Option("1:1:1", "--test-ratio", help="positive:neutral:negative"),
    val: int = typer.Option(
        0, "--val", min=0, help="Walkers in VAL_SET (test ratio), for `screen calibrate`."
    ),
    seed: int = typer.Option(0, "--seed"),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes rendering walkers."),
    frames: int = typer.Option(300, "--frames", min=5, help="Frames per walker (15 fps)."),
    view: str = typer.Option(
        "front",
        "--view",
        help="front (Scoliosis1K), side or oblique; a comma list (front,side,front,oblique) "
        "films every class with the same mix.",
    ),
) -> None:
    """Build a silhouette dataset in the Scoliosis1K layout (id/label/view/id.pkl)."""
    from ..phantom.dataset import build_dataset, dataset_counts, parse_ratio

    ratios = parse_ratio(train_ratio), parse_ratio(test_ratio)
    partition, elapsed = _with_progress(
        "walkers",
        lambda progress: build_dataset(
            out_dir,
            train=train,
            train_ratio=ratios[0],
            test=test,
            test_ratio=ratios[1],
            val=val,
            seed=seed,
            frames=frames,
            view=view,
            workers=workers,
            progress=progress,
        ),
    )
    from rich.table import Table

    table = Table("split", "positive", "neutral", "negative", "total", title=str(out_dir))
    for split, counts in dataset_counts(partition).items():
        table.add_row(
            split,
            *(str(counts[k]) for k in ("positive", "neutral", "negative")),
            str(sum(counts.values())),
        )
    console.print(table)
    console.print(
        f"partition: {partition} ({train + test + val} walkers in {elapsed:.0f} s)", soft_wrap=True
    )


@phantom_app.command("videoset")
def videoset(
    out_dir: Path = typer.Argument(..., help="Folder for the videos (rerun to resume)."),
    source: Path = typer.Option(
        ..., "--from", help="A phantom dataset made by `screen phantom dataset`."
    ),
    split: str = typer.Option(
        "test", "--split", help="test (default), train or val (for `screen calibrate`)."
    ),
    seconds: float = typer.Option(8.0, "--seconds", min=0.1, max=600.0, help="Per video."),
    size: str = typer.Option(
        "640x360", "--size", help="WIDTHxHEIGHT of landscape videos; portrait ones are turned."
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes rendering videos."),
) -> None:
    """Render one video per walker of a dataset's split: a labelled test set for `screen evaluate`.

    Each walker keeps its posture (same label and seed); the filming (view, distractor,
    camera motion, portrait or landscape) is assigned by rank within each class, so every
    class gets the same mix.  Writes OUT/<id>/<label>/<view>/<id>.mp4 with its ground truth,
    OUT/labels.csv and OUT/videoset.json.  Complete videos are kept: a rerun renders only
    what is missing, and the same inputs give the same bytes.
    """
    from rich.table import Table

    from ..phantom.videoset import build_videoset

    dimensions = parse_size(size)
    built, elapsed = _with_progress(
        "videos",
        lambda progress: build_videoset(
            out_dir,
            source,
            split=split,
            seconds=seconds,
            size=dimensions,
            workers=workers,
            progress=progress,
        ),
    )
    labels = list(built.counts)
    table = Table("view", "distractor", "camera", "frame", *labels, title=f"{out_dir}: filming")
    for variety, counts in built.mix.items():
        table.add_row(
            variety.view,
            variety.distractor,
            variety.camera_motion,
            "portrait" if variety.portrait else "landscape",
            *(str(counts[label]) for label in labels),
        )
    table.add_row("all", "", "", "", *(str(built.counts[label]) for label in labels))
    console.print(table)
    console.print(
        f"{built.videos} videos ({built.rendered} rendered now, {built.videos - built.rendered} "
        f"kept) in {elapsed:.0f} s; labels: {built.labels}; manifest: {built.manifest}",
        soft_wrap=True,
    )
