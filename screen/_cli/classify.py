"""`screen classify SILHOUETTES`: a verdict from a silhouette sequence already on disk."""

from __future__ import annotations

from pathlib import Path

import typer

from ..settings import ClassifierSettings
from . import options as opt
from .common import console, write_json

#: The classifier's flags, generated from its declarations like `screen VIDEO`'s.
KEYS = (
    "weights",
    "class_order",
    "device",
    "precision",
    "clip_sampling",
    "clip_stride",
    "operating_point",
)
DEFAULTS = ClassifierSettings()  #: replaced by the resolved settings (see options.with_settings)


def register(app: typer.Typer) -> None:
    app.command("classify")(classify)


@opt.with_settings(ClassifierSettings, KEYS)
def classify(
    silhouettes: Path = typer.Argument(
        ...,
        metavar="SILHOUETTES",
        help="A .pkl ([T,64,64] uint8), a .gif, a masks .npz or a folder of mask images.",
    ),
    json_out: str | None = typer.Option(
        None, "--json", help="Write the result as JSON to PATH ('-' for stdout)."
    ),
    explain: Path | None = opt.EXPLAIN,
    settings: ClassifierSettings = DEFAULTS,
) -> None:
    """Classify a stored silhouette sequence (no video needed)."""
    from ..outputs.explain import check_folder, explain_sequence
    from ..outputs.result import ModelInfo, classification_result
    from ..pipeline import classifier_from_settings
    from ..silhouettes.files import read_silhouettes

    if explain is not None:
        check_folder(explain)
    sequence = read_silhouettes(silhouettes)
    classifier = classifier_from_settings(settings)
    if len(sequence.frames) == 0:
        from ..errors import FileProblem

        raise FileProblem(silhouettes, "no usable silhouette (every frame was empty or dropped)")
    prediction = classifier.predict(sequence.frames)
    result = classification_result(
        prediction, ModelInfo.of(classifier), str(silhouettes), classifier.probability_note
    )
    explained = None
    if explain is not None:
        explained = explain_sequence(classifier, sequence.frames, explain)
    if json_out is not None:
        extra = {"explain": explained} if explained is not None else {}
        write_json({**result.to_dict(), **extra}, json_out)
        if json_out == "-":
            return
    from .summary import print_explained, print_result

    print_result(console, result)
    if explained is not None:
        print_explained(console, explained)
