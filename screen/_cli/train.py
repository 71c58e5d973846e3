"""`screen train` and `screen evaluate`: the paper's recipe on a Scoliosis1K-layout dataset."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from ..errors import UsageProblem
from ..settings import ClassifierSettings, Settings, TrainingSettings
from . import options as opt
from .common import console, write_json
from .progress import progress_bars
from .screening import ALL_KEYS
from .screening import DEFAULTS as SETTINGS_DEFAULTS

# Replaced by the resolved settings (see options.with_settings).
DEFAULTS = TrainingSettings()


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("demo-weights", hidden=True)(demo_weights)
    app.command("demo-card", hidden=True)(demo_card)


@opt.with_settings(TrainingSettings, opt.flag_keys(TrainingSettings))
def train(
    ctx: typer.Context,
    data_root: Path = typer.Argument(
        ..., metavar="DATA_ROOT", help="Dataset folder: <id>/<label>/<view>/*.pkl."
    ),
    partition: Path = typer.Option(..., "--partition", help="JSON with TRAIN_SET / TEST_SET ids."),
    out: Path = typer.Option(..., "--out", help="Folder for checkpoints and the exported model."),
    also: list[Path] = typer.Option(
        [],
        "--also",
        help="Another <id>/<label>/<view>/*.pkl folder with more sequences of the training ids, "
        "e.g. `screen silhouettes` of their videos: the front end's own silhouettes "
        "(repeatable; ids absent there keep only their own).",
    ),
    resume: Path | None = typer.Option(None, "--resume", help="Continue from this checkpoint."),
    settings: TrainingSettings = DEFAULTS,
) -> None:
    """Train ScoNet(-MT) with the paper's recipe; checkpoints and a safetensors export in OUT.

    Any setting (also momentum, weight_decay, gamma, margin, label_smoothing,
    triplet_weight) may come from a --config TOML file; flags given here win over it.
    """
    from ..training.dataset import SilhouetteDataset, Split, read_partition, split_counts
    from ..training.train import train as run_training
    from .training_views import TrainingBar, counts_table

    split = read_partition(partition)
    console.print(counts_table(split_counts(data_root, split, also)))
    dataset = SilhouetteDataset.open(data_root, split, Split.TRAIN, also)
    command = _command_line("train", ctx.params)
    with progress_bars(False) as on_progress:
        dataset.preload(on_progress)
    with TrainingBar(True, settings.iterations, 0) as bar:
        result = run_training(dataset, settings, out, resume=resume, command=command,
                              on_step=bar.step)  # fmt: skip
    last = result.history[-1]
    seconds_per_iteration = result.seconds / len(result.history)
    console.print(
        f"{settings.run_name}: {len(result.history)} iterations in {result.seconds:.0f} s "
        f"({seconds_per_iteration:.2f} s/iteration, {result.precision}, {result.threads} threads); "
        f"last loss {last['loss']:.3f}, accuracy {last['accuracy']:.2f}"
    )
    console.print(f"checkpoint: {result.checkpoint}")
    console.print(f"model:      {result.exported}")


def _command_line(name: str, params: dict) -> str:
    """The command as given (arguments first, then options), for a model's provenance."""
    words = ["screen", name, str(params["data_root"])]
    for key, value in params.items():
        for one in value if isinstance(value, list) else [value]:
            if key != "data_root" and one is not None:
                words += [f"--{key.replace('_', '-')}", str(one)]
    return shlex.join(words)


@opt.with_settings(Settings, ALL_KEYS)
def evaluate(
    data: Path = typer.Argument(
        ...,
        metavar="DATA",
        help="Silhouettes (<id>/<label>/<view>/*.pkl, with --partition); or labelled videos: "
        "a CSV with the header video,label (paths relative to the CSV), or a folder "
        "<id>/<label>/<view>/<file>.mp4.",
    ),
    partition: Path | None = typer.Option(
        None,
        "--partition",
        help="JSON with TRAIN_SET / TEST_SET ids (silhouettes: required; a video folder: "
        "only that split's ids).",
    ),
    split: str = typer.Option("test", "--split", help="test (default), train or val."),
    protocol: str | None = typer.Option(
        None,
        "--protocol",
        help="Silhouettes: all (default), sequence, clips (the verdicts') or consecutive.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Videos: output folder (evaluation.json, results.csv, report.html, the batch "
        "state: rerun the same command to resume).",
    ),
    workers: int | None = opt.VIDEO_WORKERS,
    json_out: str | None = opt.JSON_REPORT,
    plot: Path | None = typer.Option(None, "--plot", help="Save confusion matrices as a PNG."),
    quiet: bool = opt.QUIET,
    verbose: bool = opt.VERBOSE,
    settings: Settings = SETTINGS_DEFAULTS,
) -> None:
    """Accuracy, per-class precision/recall, screening sensitivity/specificity on labelled data.

    Silhouette sequences are classified under every protocol.  Labelled videos go
    through the whole pipeline as `screen batch` screens them (front-end, clip and
    verdict settings apply to videos only); the figures are over the videos with a
    conclusive verdict, followed by the videos not judged per stage and an accuracy
    over all videos.
    """
    from ..errors import ScreenError
    from ..labelled_videos import has_videos, is_labels_csv

    if split not in {"test", "train", "val"}:
        raise ScreenError(f"--split must be test, train or val, got {split!r}")
    opt.set_verbosity(quiet, verbose)
    if is_labels_csv(data) or has_videos(data):
        if protocol is not None:
            raise UsageProblem(
                "--protocol is for silhouettes; videos are judged by the tool's own verdict"
            )
        if out is None:
            raise UsageProblem(
                f"{data}: labelled videos need --out OUT, the folder for the batch state and "
                "the results (rerun the same command to resume)"
            )
        _evaluate_videos(data, partition, split, out, workers, json_out, plot, quiet, settings)
        return
    if partition is None:
        raise UsageProblem(
            f"{data}: not a CSV of labelled videos and no video files in it; for a silhouette "
            "dataset (<id>/<label>/<view>/*.pkl) give --partition"
        )
    if out is not None or workers is not None:
        raise UsageProblem("--out and --workers are for videos; DATA is a silhouette dataset")
    _evaluate_silhouettes(data, partition, split, protocol or "all", json_out, plot, quiet,
                          settings.classifier)  # fmt: skip


def _evaluate_silhouettes(
    data_root: Path,
    partition: Path,
    split: str,
    protocol: str,
    json_out: str | None,
    plot: Path | None,
    quiet: bool,
    settings: ClassifierSettings,
) -> None:
    from ..errors import ScreenError
    from ..model.classify import load_classifier
    from ..training.dataset import SilhouetteDataset
    from ..training.evaluate import Protocol, plot_confusion
    from ..training.evaluate import evaluate as run_evaluation
    from ..training.train import set_threads
    from .tables import report_tables

    choices = {"all": tuple(Protocol), **{p.value: (p,) for p in Protocol}}
    if protocol not in choices:
        raise ScreenError(f"--protocol must be one of {', '.join(choices)}, got {protocol!r}")
    set_threads(0)
    dataset = SilhouetteDataset.open(data_root, partition, split)
    classifier = load_classifier(
        settings.weights,
        settings.parsed_class_order,
        device=settings.device,
        precision=settings.precision,
    )
    with progress_bars(quiet) as on_progress:
        report = run_evaluation(classifier, dataset, choices[protocol], on_progress=on_progress)
    if json_out is not None:
        write_json(report, json_out)
    if plot is not None:
        plot_confusion(report, plot)
    if json_out != "-" and not quiet:
        console.print(f"{classifier.metadata.name} on {len(dataset)} {split} sequences")
        for table in report_tables(report):
            console.print(table)
        if plot is not None:
            console.print(f"confusion matrices: {plot}")


def labelled_videos(data: Path, partition: Path | None, split: str, out: Path) -> tuple[list, dict]:
    """The labelled videos DATA names (a CSV, or a folder restricted by the partition's split)
    and how they were given; `out`, the output folder, is never scanned for videos."""
    from ..errors import FileProblem
    from ..labelled_videos import is_labels_csv, read_labels_csv, scan_video_folder
    from ..training.dataset import read_partition

    if out.exists() and not out.is_dir():
        raise FileProblem(out, "exists and is not a folder: it names the output folder")
    if is_labels_csv(data):
        if partition is not None:
            raise UsageProblem("--partition is for a folder of videos; a CSV lists its videos")
        return read_labels_csv(data), {"kind": "csv", "labels": str(data)}
    chosen = read_partition(partition) if partition is not None else None
    source = {"kind": "folder", "root": str(data)}
    if chosen is not None:
        source.update(partition=str(chosen.path), partition_sha256=chosen.sha256, split=split)
    return scan_video_folder(data, chosen, split, exclude=out), source


def _evaluate_videos(
    data: Path,
    partition: Path | None,
    split: str,
    out: Path,
    workers: int | None,
    json_out: str | None,
    plot: Path | None,
    quiet: bool,
    settings: Settings,
) -> None:
    from ..training.evaluate import plot_confusion
    from ..video_evaluation import evaluate_videos
    from .tables import report_tables

    videos, source = labelled_videos(data, partition, split, out)
    with progress_bars(quiet) as on_progress:
        report = evaluate_videos(videos, out, settings, workers, source, on_progress)
    if json_out is not None:
        write_json(report, json_out)
    if plot is not None:
        plot_confusion(report, plot)
    if json_out == "-" or quiet:
        return
    outcomes = report["outcomes"]
    console.print(
        f"{report['model']['name']} on {outcomes['videos']} labelled videos ({data}): "
        f"{outcomes['judged']} judged, {outcomes['inconclusive']} inconclusive, "
        f"{outcomes['failed']} failed; {report['batch']['screened_now']} screened now"
    )
    for table in report_tables(report):
        console.print(table)
    batch = report["batch"]
    console.print(
        f"evaluation: {batch['evaluation_json']}; per video: {batch['results_csv']}, "
        f"{batch['report_html']}",
        soft_wrap=True,
    )
    if plot is not None:
        console.print(f"confusion matrix: {plot}")
    console.print(report["note"])


def demo_weights(
    phantoms: Path = typer.Option(..., "--phantoms", help="The phantom dataset."),
    mt: Path = typer.Option(..., "--mt", help="ScoNet-MT run export."),
    ce: Path | None = typer.Option(
        None, "--ce", help="Plain ScoNet run export, for the comparison (optional)."
    ),
    weights: Path = typer.Option(..., "--weights", help="Published ScoNet-MT file."),
    card: Path = typer.Option(..., "--card", help="Model card to write."),
    partition: Path | None = typer.Option(None, "--partition", help="[PHANTOMS/partition.json]"),
    results: Path | None = typer.Option(None, "--results", help="Numbers JSON [beside the card]."),
    precision: str = typer.Option(
        "auto", "--precision", help="auto | fp32 | bf16 for the evaluation."
    ),
) -> None:
    """The last step of `make demo-weights`: publish, evaluate, write the card from the run."""
    import sys

    from ..training.demo_weights import make_demo_weights

    command = shlex.join(["screen", "demo-weights", *sys.argv[2:]])
    for line in make_demo_weights(
        phantoms, mt, weights, card, ce, partition, results, precision, command
    ):
        console.print(line)


def demo_card(
    videos: Path = typer.Option(..., "--videos", help="evaluation.json of `screen evaluate`."),
    card: Path = typer.Option(..., "--card", help="The model card to update."),
    videoset: Path | None = typer.Option(None, "--videoset", help="The set's videoset.json."),
    results: Path | None = typer.Option(None, "--results", help="Numbers JSON [beside the card]."),
) -> None:
    """The last step of `make evaluate-videos`: the video figures into the demo card."""
    from ..training.demo_weights import add_video_evaluation

    for line in add_video_evaluation(card, videos, videoset, results):
        console.print(line)
