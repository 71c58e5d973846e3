"""The verdict rule, in one place: which class a video's probabilities give.

Without an operating point the verdict is the most probable class (arg-max).  A
screening programme that must catch a share of the students with scoliosis chooses an
operating point instead: thresholds fitted on a validation split so that a target share
of its positive walkers is called positive, and the same share of its positive-or-neutral
walkers is called positive or neutral.  The rule with an operating point:

    positive  if p(positive) >= positive_threshold               (action: refer)
    neutral   elif p(positive) + p(neutral) >= flag_threshold     (action: rescreen)
    negative  otherwise                                           (action: none)

A higher target sensitivity lowers the thresholds: more students referred or rescreened.
The thresholds are stored in the model's metadata with the sensitivities they reached on
the validation split; the model card gives what they reach on the test split.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ScreenError
from .classes import LABELS, Label

ARG_MAX = "argmax"  #: the rule's name when no operating point is chosen


@dataclass(frozen=True)
class OperatingPoint:
    """Thresholds that reached `target` sensitivity on the validation split."""

    target: float  #: the sensitivity asked for, e.g. 0.95
    positive_threshold: float  #: on p(positive)
    flag_threshold: float  #: on p(positive) + p(neutral)
    validation: dict[str, float]  #: what the thresholds reached there (sensitivities etc.)

    @property
    def name(self) -> str:
        return f"sensitivity={self.target:g}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "positive_threshold": self.positive_threshold,
            "flag_threshold": self.flag_threshold,
            "validation": dict(self.validation),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperatingPoint:
        return cls(float(data["target"]), float(data["positive_threshold"]),
                   float(data["flag_threshold"]), dict(data.get("validation", {})))  # fmt: skip


def decide(probabilities: Mapping[Label, float], point: OperatingPoint | None) -> Label:
    """The verdict's class: arg-max without an operating point, else the thresholds' rule."""
    if point is None:
        return max(LABELS, key=lambda label: probabilities[label])
    if probabilities[Label.POSITIVE] >= point.positive_threshold:
        return Label.POSITIVE
    flagged = probabilities[Label.POSITIVE] + probabilities[Label.NEUTRAL]
    return Label.NEUTRAL if flagged >= point.flag_threshold else Label.NEGATIVE


def rule_description(point: OperatingPoint | None) -> dict[str, Any]:
    """The rule as results record it (`pipeline.thresholds`)."""
    if point is None:
        return {"verdict_rule": ARG_MAX}
    return {"verdict_rule": point.name, "positive_threshold": round(point.positive_threshold, 6),
            "flag_threshold": round(point.flag_threshold, 6)}  # fmt: skip


def _threshold_for(scores: Sequence[float], needed: int) -> float:
    """The largest threshold that `needed` of `scores` reach (scores >= threshold)."""
    return sorted(scores, reverse=True)[needed - 1]


def fit_operating_point(
    probabilities: Sequence[Mapping[Label, float]], labels: Sequence[Label], target: float
) -> OperatingPoint:
    """Thresholds reaching `target` sensitivity for positive and for positive-or-neutral.

    The largest thresholds that do (fewest referrals), so the validation split reaches at
    least the target; a test split may fall short, which the card shows with intervals.
    """
    if not 0.0 < target <= 1.0:
        raise ScreenError(f"a target sensitivity must be in (0, 1], got {target:g}")
    positive = [p[Label.POSITIVE] for p, y in zip(probabilities, labels, strict=True)
                if y == Label.POSITIVE]  # fmt: skip
    if not positive:
        raise ScreenError("the validation split holds no positive walker: no operating point")
    positive_threshold = _threshold_for(positive, math.ceil(target * len(positive)))
    # positive-or-neutral walkers not already called positive must reach the flag threshold
    others = [p for p, y in zip(probabilities, labels, strict=True) if y != Label.NEGATIVE]
    caught = sum(p[Label.POSITIVE] >= positive_threshold for p in others)
    needed = math.ceil(target * len(others)) - caught
    rest = [p[Label.POSITIVE] + p[Label.NEUTRAL] for p in others
            if p[Label.POSITIVE] < positive_threshold]  # fmt: skip
    flag_threshold = _threshold_for(rest, needed) if needed > 0 and rest else 1.0 + 1e-9
    point = OperatingPoint(target, positive_threshold, flag_threshold, {})
    return OperatingPoint(target, positive_threshold, flag_threshold,
                          reached(probabilities, labels, point))  # fmt: skip


def reached(
    probabilities: Sequence[Mapping[Label, float]],
    labels: Sequence[Label],
    point: OperatingPoint | None,
) -> dict[str, float]:
    """Sensitivity and specificity of both referral kinds under the rule, and referral rate."""
    verdicts = [decide(p, point) for p in probabilities]
    pairs = list(zip(labels, verdicts, strict=True))

    def share(hits: int, total: int) -> float:
        return round(hits / total, 6) if total else float("nan")

    flagged = {Label.POSITIVE, Label.NEUTRAL}
    positives = [v for y, v in pairs if y == Label.POSITIVE]
    others = [v for y, v in pairs if y != Label.NEGATIVE]
    negatives = [v for y, v in pairs if y == Label.NEGATIVE]
    return {
        "sensitivity_positive": share(sum(v == Label.POSITIVE for v in positives), len(positives)),
        "specificity_positive": share(sum(v != Label.POSITIVE for v in negatives), len(negatives)),
        "sensitivity_flagged": share(sum(v in flagged for v in others), len(others)),
        "specificity_flagged": share(sum(v == Label.NEGATIVE for v in negatives), len(negatives)),
        "referred_share": share(sum(v == Label.POSITIVE for v in verdicts), len(verdicts)),
    }


def parse_target(text: str) -> float:
    """'sensitivity=0.95' or '0.95' -> 0.95."""
    value = text.strip().lower().removeprefix("sensitivity=")
    try:
        return float(value)
    except ValueError:
        raise ScreenError(f"an operating point looks like sensitivity=0.95, got {text!r}") from None


def choose_point(points: Sequence[OperatingPoint], text: str, model: str) -> OperatingPoint | None:
    """The stored point `text` names ('' or 'argmax': none); a one-line error otherwise."""
    if text.strip().lower() in ("", ARG_MAX):
        return None
    target = parse_target(text)
    for point in points:
        if math.isclose(point.target, target):
            return point
    stored = ", ".join(point.name for point in points) or "none"
    raise ScreenError(
        f"model {model} has no operating point sensitivity={target:g} (stored: {stored}); "
        "`screen calibrate` stores them"
    )
