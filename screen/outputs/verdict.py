"""Verdicts, the action each one asks of a screening team, the rules that decide them, the
honesty note, and the advice on how to record an inconclusive video again."""

from __future__ import annotations

import math
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
    blocked = label is None or bool(blocking_reasons(flags))
    return (Verdict.INCONCLUSIVE if blocked else Verdict.from_label(label)), tuple(flags)


def blocking_reasons(flags: Sequence[str]) -> tuple[str, ...]:
    """The flags that make a video inconclusive on their own, in the order given."""
    return tuple(f for f in flags if f in BLOCKING_FLAGS or f == "too_few_silhouettes")


def inconclusive_reasons(flags: Sequence[str]) -> tuple[str, ...]:
    """Why an inconclusive video was: its blocking flags, preceded by `few_participant_frames`
    when the silhouettes were too few because the walker's track was already shorter than
    a clip (the shortage began at tracking, not at segmentation)."""
    reasons = blocking_reasons(flags)
    if "too_few_silhouettes" in reasons and "few_participant_frames" in flags:
        return ("few_participant_frames", *reasons)
    return reasons


class Stage(StrEnum):
    """The part of the pipeline a quality flag or a failure comes from, in pipeline order."""

    VIDEO = "decode/video"  #: the file, its decoding, frame rate and orientation
    PEOPLE = "detection/tracking"  #: finding people and choosing the walking participant
    SILHOUETTES = "silhouettes"  #: segmenting the participant, usable silhouettes
    OTHER = "other"  #: anything else (an unexpected error)


#: Which stage raises each quality flag (a weight-free fallback: the stage that fell back).
FLAG_STAGES = {
    "low_frame_rate": Stage.VIDEO,
    "sideways_video": Stage.VIDEO,
    "no_person": Stage.PEOPLE,
    "no_walker": Stage.PEOPLE,
    "two_walkers": Stage.PEOPLE,
    "participant_uncertain": Stage.PEOPLE,
    "few_participant_frames": Stage.PEOPLE,
    "camera_moving": Stage.PEOPLE,
    "detector_fallback_weight_free": Stage.PEOPLE,
    "background_uncertain": Stage.SILHOUETTES,
    "segmenter_fallback_weight_free": Stage.SILHOUETTES,
    "empty_masks": Stage.SILHOUETTES,
    "edge_cut": Stage.SILHOUETTES,
    "too_few_silhouettes": Stage.SILHOUETTES,
}


def stage_of_flag(flag: str) -> Stage:
    """The stage a quality flag comes from (`other` for a flag this table does not know)."""
    if flag.endswith("detector_fallback_weight_free"):  # also a moving camera's detector
        return Stage.PEOPLE
    return FLAG_STAGES.get(flag, Stage.OTHER)


#: How to record again, one plain sentence per flag that a new recording can fix (blocking
#: reasons first).  Fields: {seconds} to record, {shown} s seen in full, {used}/{needed}
#: usable silhouettes, {cut} of {found} silhouettes cut by the edge, {fps} analysis rate.
ADVICE = {
    "no_person": (
        "No one was found in the video: film the student walking, the whole body in view, "
        "with the phone held still."
    ),
    "no_walker": (
        "No one was seen walking: have the student walk the length of the corridor, towards "
        "or across the camera, for at least {seconds} s."
    ),
    "two_walkers": (
        "Two people walked in view at the same time: record one student at a time, with "
        "nobody else walking in the picture."
    ),
    "sideways_video": "The picture is sideways: hold the phone upright and record again.",
    "too_few_silhouettes": (
        "The student was in full view for {shown:.1f} s ({used} usable frames, {needed} "
        "needed): record at least {seconds} s of walking with the whole body in view."
    ),
    "edge_cut": (
        "The student's body was cut by the frame edge in {cut} of {found} frames: step back "
        "so the whole body, head to feet, stays in view."
    ),
    "participant_uncertain": (
        "Someone else walked through the picture too: keep the corridor clear while the "
        "student walks."
    ),
    "low_frame_rate": (
        "The video has fewer than {fps:g} frames a second: record in the phone's normal "
        "video mode ({fps:g} fps or more), not time-lapse or a low-light mode."
    ),
    "empty_masks": (
        "The student could not be told apart from the background in many frames: record in "
        "good light, against a plain background that contrasts with their clothes."
    ),
}


def advise(
    verdict: Verdict,
    flags: Sequence[str],
    participant_frames: int,
    cut: int,
    used: int,
    min_silhouettes: int,
    fps: float,
) -> tuple[str, ...]:
    """How to record an inconclusive video again: a sentence per fixable flag, reasons that
    block first.  A judged video gets none (its flags are warnings; the action stands), nor
    does a flag no recording fixes (a weight-free fallback: install the weights).

    The durations come from the numbers: `used` silhouettes at `fps` is the time the
    student was seen in full; twice the minimum is asked for, as a margin for frames
    that a new recording loses too (edge, turns)."""
    if verdict != Verdict.INCONCLUSIVE:
        return ()
    numbers = {
        "seconds": math.ceil(2 * min_silhouettes / fps),
        "shown": used / fps,
        "used": used,
        "needed": min_silhouettes,
        "cut": cut,
        "found": participant_frames,
        "fps": fps,
    }
    present = set(flags)
    if "no_person" in present:  # nobody to count silhouettes of: one sentence says it all
        present.discard("too_few_silhouettes")
    return tuple(text.format(**numbers) for flag, text in ADVICE.items() if flag in present)
