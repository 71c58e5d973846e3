"""Verdicts, the action each one asks of a screening team, the rules that decide them, and the
honesty note."""

from __future__ import annotations

from collections.abc import Sequence
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


#: Front-end flags that make a video impossible to judge on their own.
BLOCKING_FLAGS = ("no_person", "no_walker", "two_walkers")
EDGE_CUT_SHARE = 0.1  #: more silhouettes cut by the frame edge than this share is flagged


def judge(
    frontend_flags: Sequence[str],
    participant_frames: int,
    cut: int,
    used: int,
    min_silhouettes: int,
    label: Label | None,
) -> tuple[Verdict, tuple[str, ...]]:
    """The verdict of one video and its quality flags, the front end's first.

    `participant_frames`: silhouettes the front end found; `cut`: those left out
    because the frame edge cut them; `used`: those the classifier saw; `label`:
    the classifier's label (None when there was nothing to classify).  A blocking
    front-end flag or too few usable silhouettes make the video inconclusive
    whatever the classifier said: its probabilities stay in the result as evidence.
    """
    flags = list(frontend_flags)
    if participant_frames and cut > EDGE_CUT_SHARE * participant_frames:
        flags.append("edge_cut")  # a warning: the cut silhouettes were already left out
    if used < min_silhouettes:
        flags.append("too_few_silhouettes")
    blocked = label is None or any(
        flag in BLOCKING_FLAGS or flag == "too_few_silhouettes" for flag in flags
    )
    return (Verdict.INCONCLUSIVE if blocked else Verdict.from_label(label)), tuple(flags)
