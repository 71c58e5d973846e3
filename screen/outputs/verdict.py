"""Verdicts, the action each one asks of a screening team, and the honesty note."""

from __future__ import annotations

from enum import StrEnum

from ..model.classes import Label


class Verdict(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
    INCONCLUSIVE = "inconclusive"  #: quality failed: the video cannot be judged

    @classmethod
    def from_label(cls, label: Label) -> Verdict:
        return cls(Label(label).value)


class Action(StrEnum):
    REFER = "refer"  #: send for a clinical examination
    RESCREEN = "rescreen"  #: screen again later
    NONE = "none"  #: nothing to do
    RETAKE = "retake"  #: record the video again


ACTION_FOR_VERDICT = {
    Verdict.POSITIVE: Action.REFER,
    Verdict.NEUTRAL: Action.RESCREEN,
    Verdict.NEGATIVE: Action.NONE,
    Verdict.INCONCLUSIVE: Action.RETAKE,
}


def honesty_note(model_name: str, clinical: bool, trained_on: str) -> str:
    """The sentence every output carries about what the verdict is worth."""
    if clinical:
        return (
            f"Model {model_name} was trained on clinical data ({trained_on}); "
            "it screens, it does not diagnose."
        )
    return (
        f"NOT FOR CLINICAL USE: model {model_name} was not trained on clinical data "
        f"(trained on: {trained_on}); this verdict says nothing about a real student's spine."
    )
