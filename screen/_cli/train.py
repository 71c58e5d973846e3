"""`screen train` and `screen evaluate`: the paper's recipe on a Scoliosis1K-layout dataset."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from ..settings import ClassifierSettings, TrainingSettings
from . import options as opt
from .common import console, write_json
from .progress import progress_bars

# Replaced by the resolved settings (see options.with_settings).
DEFAULTS = TrainingSettings()
CLASSIFIER_DEFAULTS = ClassifierSettings()


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("demo-weights", hidden=True)(demo_weights)


@opt.with_settings(TrainingSettings, opt.flag_keys(TrainingSettings))
def train(
    ctx: typer.Context,
    data_root: Path = typer.Argument(
        ..., metavar="DATA_ROOT", help="Dataset folder: <id>/<label>/<view>/*.pkl."
    ),
    partition: Path = typer.Option(..., "--partition", help="JSON with TRAIN_SET / TEST_SET ids."),
    out: Path = typer.Option(..., "--out", help="Folder for checkpoints and the exported model."),
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
    console.print(counts_table(split_counts(data_root, split)))
    dataset = SilhouetteDataset.open(data_root, split, Split.TRAIN)
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
        if key != "data_root" and value is not None:
            words += [f"--{key.replace('_', '-')}", str(value)]
    return shlex.join(words)


@opt.with_settings(ClassifierSettings, ("weights", "class_order", "precision", "device"))
def evaluate(
    data_root: Path = typer.Argument(
        ..., metavar="DATA_ROOT", help="Dataset folder: <id>/<label>/<view>/*.pkl."
    ),
    partition: Path = typer.Option(..., "--partition", help="JSON with TRAIN_SET / TEST_SET ids."),
    split: str = typer.Option("test", "--split", help="test (default) or train."),
    protocol: str = typer.Option(
        "all", "--protocol", help="all, sequence, clips (the verdicts') or consecutive."
    ),
    json_out: str | None = typer.Option(
        None, "--json", help="Write the report as JSON to PATH ('-' for stdout)."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Save confusion matrices as a PNG."),
    settings: ClassifierSettings = CLASSIFIER_DEFAULTS,
) -> None:
    """Accuracy, per-class precision/recall, screening sensitivity/specificity on a split."""
    from ..errors import ScreenError
    from ..model.classify import load_classifier
    from ..training.dataset import SilhouetteDataset, Split
    from ..training.evaluate import Protocol, plot_confusion
    from ..training.evaluate import evaluate as run_evaluation
    from ..training.train import set_threads
    from .tables import report_tables

    choices = {"all": tuple(Protocol), **{p.value: (p,) for p in Protocol}}
    if protocol not in choices:
        raise ScreenError(f"--protocol must be one of {', '.join(choices)}, got {protocol!r}")
    if split not in {s.value for s in Split}:
        raise ScreenError(f"--split must be test or train, got {split!r}")
    set_threads(0)
    dataset = SilhouetteDataset.open(data_root, partition, split)
    classifier = load_classifier(
        settings.weights,
        settings.parsed_class_order,
        device=settings.device,
        precision=settings.precision,
    )
    with progress_bars(False) as on_progress:
        report = run_evaluation(classifier, dataset, choices[protocol], on_progress=on_progress)
    if json_out is not None:
        write_json(report, json_out)
    if plot is not None:
        plot_confusion(report, plot)
    if json_out != "-":
        console.print(f"{classifier.metadata.name} on {len(dataset)} {split} sequences")
        for table in report_tables(report):
            console.print(table)
        if plot is not None:
            console.print(f"confusion matrices: {plot}")


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
