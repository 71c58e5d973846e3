"""Turning predictions into JSON-ready dicts and readable terminal summaries."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..model.classes import LABELS
from ..model.classify import Classifier, Probabilities, SequencePrediction
from .verdict import ACTION_FOR_VERDICT, Verdict, honesty_note

PROBABILITY_NOTE = "softmax(16 x mean strip logit), the model's training scale; not calibrated"


def named_probabilities(probabilities: Probabilities) -> dict[str, float]:
    return {label.value: round(probabilities[label], 6) for label in LABELS}


def prediction_to_dict(prediction: SequencePrediction, classifier: Classifier) -> dict:
    """A prediction as plain JSON types, with the model facts and the honesty note."""
    verdict = Verdict.from_label(prediction.label)
    flags = ["short_sequence"] if prediction.short else []
    return {
        "verdict": verdict.value,
        "action": ACTION_FOR_VERDICT[verdict].value,
        "confidence": round(prediction.confidence, 6),
        "probabilities": named_probabilities(prediction.probabilities),
        "whole_sequence_probabilities": named_probabilities(prediction.whole_sequence),
        "clips": [
            {
                "start_frame": clip.start,
                "stop_frame": clip.stop,
                "probabilities": named_probabilities(clip.probabilities),
            }
            for clip in prediction.clips
        ],
        "frames": prediction.frames,
        "quality": {"flags": flags, "silhouettes_used": prediction.frames},
        "model": classifier.describe(),
        "note": honesty_note(
            classifier.metadata.name, classifier.metadata.clinical, classifier.metadata.trained_on
        ),
        "probability_note": PROBABILITY_NOTE,
    }


def print_result(console: Console, result: dict) -> None:
    """A short human summary of a result dict (from `screen VIDEO` or `screen classify`)."""
    table = Table(show_header=False, box=None, pad_edge=False)
    if "video" in result:
        table.add_row("video", str(result["video"]))
    table.add_row(
        "verdict", f"[bold]{result['verdict'].upper()}[/bold]  (action: {result['action']})"
    )
    table.add_row("confidence", f"{result['confidence']:.3f}")
    table.add_row("probabilities", _format(result["probabilities"]))
    if result.get("whole_sequence_probabilities"):
        table.add_row("whole sequence", _format(result["whole_sequence_probabilities"]))
    quality = result["quality"]
    table.add_row(
        "silhouettes", f"{quality['silhouettes_used']} used, {len(result['clips'])} clips"
    )
    table.add_row("quality flags", ", ".join(quality["flags"]) or "none")
    model = result["model"]
    table.add_row("model", f"{model['name']} (clinical: {'yes' if model['clinical'] else 'NO'})")
    console.print(table)
    console.print(result["note"] if model["clinical"] else f"[bold red]{result['note']}[/bold red]")


def _format(probabilities: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.3f}" for name, value in probabilities.items())
