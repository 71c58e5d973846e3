"""The three screening classes and the two index orders checkpoints use.

This is the only place that knows which index means which class.  Everything
downstream names classes, never indices.
"""

from __future__ import annotations

from enum import StrEnum

LOGIT_SCALE = 16.0  #: training multiplies cosine logits by this before softmax


class Label(StrEnum):
    """A Scoliosis1K class, spelled as its folder name in the dataset."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class ClassOrder(StrEnum):
    """Which logit index means which class, as stated when a checkpoint is imported.

    CURRENT is OpenGait since August 2025; LEGACY is the 2024 code that produced
    the paper's numbers.  A checkpoint's order is never guessed.
    """

    CURRENT = "current"
    LEGACY = "legacy"

    @property
    def labels(self) -> tuple[Label, Label, Label]:
        """The class at each logit index."""
        if self is ClassOrder.CURRENT:
            return (Label.NEGATIVE, Label.NEUTRAL, Label.POSITIVE)
        return (Label.NEGATIVE, Label.POSITIVE, Label.NEUTRAL)

    def index_of(self, label: Label) -> int:
        return self.labels.index(Label(label))

    @classmethod
    def parse(cls, text: str) -> ClassOrder:
        """Accept 'current'/'legacy' or an explicit list like 'negative,neutral,positive'."""
        key = text.strip().lower().replace(" ", "")
        for order in cls:
            if key in (order.value, ",".join(label.value for label in order.labels)):
                return order
        raise ValueError(
            f"unknown class order {text!r}: use 'current' (negative,neutral,positive) "
            "or 'legacy' (negative,positive,neutral)"
        )


#: Every class, in the order results list them.
LABELS: tuple[Label, ...] = (Label.NEGATIVE, Label.NEUTRAL, Label.POSITIVE)
