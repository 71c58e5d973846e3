"""`screen classify SILHOUETTES`: a verdict from a silhouette sequence already on disk."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import console, parse_class_order, write_json


def register(app: typer.Typer) -> None:
    app.command("classify")(classify)


def classify(
    silhouettes: Path = typer.Argument(
        ...,
        metavar="SILHOUETTES",
        help="A .pkl ([T,64,64] uint8), a .gif, a masks .npz or a folder of mask images.",
    ),
    weights: Path | None = typer.Option(
        None, "--weights", help="Classifier checkpoint (default: the demo model)."
    ),
    class_order: str | None = typer.Option(
        None, "--class-order", help="For an OpenGait .pt checkpoint: 'current' or 'legacy'."
    ),
    clip_stride: int = typer.Option(
        15, "--clip-stride", min=1, help="Frames between 30-frame clips."
    ),
    precision: str = typer.Option("fp32", "--precision", help="fp32 or bf16."),
    json_out: str | None = typer.Option(
        None, "--json", help="Write the result as JSON to PATH ('-' for stdout)."
    ),
    device: str = typer.Option("cpu", "--device", help="torch device, e.g. cpu or cuda:0."),
) -> None:
    """Classify a stored silhouette sequence (no video needed)."""
    from ..model.classify import load_classifier
    from ..outputs.result import ModelInfo, classification_result
    from ..silhouettes.files import read_silhouettes

    sequence = read_silhouettes(silhouettes)
    classifier = load_classifier(
        weights,
        parse_class_order(class_order),
        device=device,
        precision=precision,
        clip_stride=clip_stride,
    )
    if len(sequence.frames) == 0:
        from ..errors import FileProblem

        raise FileProblem(silhouettes, "no usable silhouette (every frame was empty or dropped)")
    prediction = classifier.predict(sequence.frames)
    result = classification_result(prediction, ModelInfo.of(classifier), str(silhouettes))
    if json_out is not None:
        write_json(result.to_dict(), json_out)
        if json_out == "-":
            return
    from .summary import print_result

    print_result(console, result)
