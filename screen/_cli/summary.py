"""The terminal summary of one result (`screen VIDEO`, `screen classify`)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..model.operating_point import ARG_MAX
from ..outputs.result import PROBABILITY_NOTE, Probabilities, ScreeningResult


def print_result(console: Console, result: ScreeningResult) -> None:
    """A short human summary; the honesty note in red for a model not trained on clinical data."""
    table = Table(show_header=False, box=None, pad_edge=False)
    if result.video is not None:
        table.add_row("video", result.video)
    verdict = f"[bold]{result.verdict.value.upper()}[/bold]  (action: {result.action.value})"
    table.add_row("verdict", verdict)
    table.add_row("confidence", f"{result.confidence:.3f}")
    table.add_row("probabilities", _format(result.probabilities))
    if result.probability_note != PROBABILITY_NOTE:
        table.add_row("calibration", result.probability_note)
    if result.whole_sequence_probabilities is not None:
        table.add_row("whole sequence", _format(result.whole_sequence_probabilities))
    rule = result.pipeline.thresholds if result.pipeline is not None else {}
    if rule.get("verdict_rule", ARG_MAX) != ARG_MAX:
        table.add_row("verdict rule", f"{rule['verdict_rule']}: positive if p(positive) >= "
                      f"{rule['positive_threshold']:.3f}, else neutral if p(positive) + "
                      f"p(neutral) >= {rule['flag_threshold']:.3f}")  # fmt: skip
    quality = result.quality
    table.add_row("silhouettes", f"{quality.silhouettes_used} used, {len(result.clips)} clips")
    table.add_row("quality flags", ", ".join(quality.flags) or "none")
    if result.advice:  # an inconclusive video: how to record it again
        table.add_row("record again", "\n".join(result.advice))
    model = result.model
    table.add_row("model", f"{model.name} (clinical: {'yes' if model.clinical else 'NO'})")
    console.print(table)
    console.print(result.note if model.clinical else f"[bold red]{result.note}[/bold red]")


def _format(probabilities: Probabilities) -> str:
    return "  ".join(f"{name} {value:.3f}" for name, value in probabilities.to_dict().items())


def print_explained(console: Console, written: dict[str, str]) -> None:
    """Where `--explain` wrote the attention maps, or why it wrote none."""
    if not written:
        console.print("attention maps: none written (no silhouette reached the model)")
        return
    console.print(
        f"attention maps: {written['attention']} (per clip: {written['clips']}; "
        f"raw maps: {written['maps']})"
    )
