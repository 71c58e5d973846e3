"""`screen train` and `screen evaluate`: the paper's recipe on a Scoliosis1K-layout dataset."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from .common import console, parse_class_order, write_json


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate)


def train(
    ctx: typer.Context,
    data_root: Path = typer.Argument(..., help="Dataset folder: <id>/<label>/<view>/*.pkl."),
    partition: Path = typer.Option(..., "--partition", help="JSON with TRAIN_SET / TEST_SET ids."),
    out: Path = typer.Option(..., "--out", help="Folder for checkpoints and the exported model."),
    model: str | None = typer.Option(None, "--model", help="sconet-mt (default) or sconet."),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="TOML file of any setting (e.g. momentum, weight_decay, gamma, margin, "
        "label_smoothing, triplet_weight); flags given here win over it.",
    ),
    iterations: int | None = typer.Option(None, "--iterations", help="Default 20000."),
    batch: str | None = typer.Option(None, "--batch", help="ids x sequences per id, default 8x8."),
    frames: int | None = typer.Option(None, "--frames", help="Frames per sequence, default 30."),
    lr: float | None = typer.Option(None, "--lr", help="SGD learning rate, default 0.1."),
    milestones: str | None = typer.Option(
        None, "--milestones", help="lr x0.1 at these iterations, default 10000,14000,18000."
    ),
    save_every: int | None = typer.Option(None, "--save-every", help="Default 1000."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue from this checkpoint."),
    device: str | None = typer.Option(None, "--device", help="cpu (default), cuda, cuda:1, ..."),
    precision: str | None = typer.Option(
        None, "--precision", help="auto (default: fp16 on CUDA, bf16 where the CPU has it), fp32."
    ),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads (default: all)."),
    seed: int | None = typer.Option(None, "--seed", help="Default 0."),
    name: str | None = typer.Option(None, "--name", help="Model name (default: the model kind)."),
    trained_on: str | None = typer.Option(
        None, "--trained-on", help="The training data in words, stored in the model's metadata."
    ),
) -> None:
    """Train ScoNet(-MT) with the paper's recipe; checkpoints and a safetensors export in OUT."""
    from ..training.dataset import SilhouetteDataset, Split, counts_table, read_partition, split_counts
    from ..training.train import resolve_config
    from ..training.train import train as run_training

    settings = resolve_config(
        config,
        {
            "model": model,
            "iterations": iterations,
            "batch": batch,
            "frames": frames,
            "lr": lr,
            "milestones": milestones,
            "save_every": save_every,
            "device": device,
            "precision": precision,
            "threads": threads,
            "seed": seed,
            "name": name,
            "trained_on": trained_on,
        },
    )
    split = read_partition(partition)
    console.print(counts_table(split_counts(data_root, split)))
    dataset = SilhouetteDataset.open(data_root, split, Split.TRAIN)
    command = _command_line("train", ctx.params)
    result = run_training(dataset, settings, out, resume=resume, command=command)
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


def evaluate(
    data_root: Path = typer.Argument(..., help="Dataset folder: <id>/<label>/<view>/*.pkl."),
    partition: Path = typer.Option(..., "--partition", help="JSON with TRAIN_SET / TEST_SET ids."),
    weights: Path | None = typer.Option(
        None,
        "--weights",
        help="Checkpoint (.safetensors or OpenGait .pt; default: the demo model).",
    ),
    class_order: str | None = typer.Option(
        None, "--class-order", help="For an OpenGait .pt checkpoint: 'current' or 'legacy'."
    ),
    split: str = typer.Option("test", "--split", help="test (default) or train."),
    protocol: str = typer.Option("both", "--protocol", help="both, sequence or clips."),
    precision: str = typer.Option("fp32", "--precision", help="fp32 or bf16."),
    device: str = typer.Option("cpu", "--device", help="torch device, e.g. cpu or cuda:0."),
    json_out: str | None = typer.Option(
        None, "--json", help="Write the report as JSON to PATH ('-' for stdout)."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Save confusion matrices as a PNG."),
) -> None:
    """Accuracy, per-class precision/recall, screening sensitivity/specificity on a split."""
    from ..model.classify import load_classifier
    from ..training.dataset import SilhouetteDataset, Split
    from ..errors import ScreenError
    from ..training.evaluate import Protocol, plot_confusion, report_tables
    from ..training.evaluate import evaluate as run_evaluation
    from ..training.train import set_threads

    choices = {"both": tuple(Protocol), **{p.value: (p,) for p in Protocol}}
    if protocol not in choices:
        raise ScreenError(f"--protocol must be one of {', '.join(choices)}, got {protocol!r}")
    if split not in {s.value for s in Split}:
        raise ScreenError(f"--split must be test or train, got {split!r}")
    set_threads(0)
    dataset = SilhouetteDataset.open(data_root, partition, split)
    classifier = load_classifier(
        weights, parse_class_order(class_order), device=device, precision=precision
    )
    report = run_evaluation(classifier, dataset, choices[protocol], progress=True)
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
