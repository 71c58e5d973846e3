"""Evaluating a classifier on a dataset split: three protocols, screening figures.

Protocols (one backbone pass per sequence serves all three):
- sequence: the whole sequence (its first 720 frames) pooled at once, as the
  paper's test code does;
- clips: 30-frame clips spread over the sequence, classified and their
  probabilities averaged, as the tool decides its verdicts;
- consecutive: 30 frames in a row every 15, averaged: the tool's first
  protocol, kept to show what the spread clips fixed (see model/classify.py).
Every figure is a pure function of a confusion matrix (rows = truth, columns =
prediction, classes in LABELS order).  Screening figures treat a referral as
the positive test: (a) only `positive` is referred, (b) `positive` or
`neutral` is; sensitivity is over the referred classes' subjects, specificity
over the negative subjects.  The paper's printed "sensitivity/specificity"
were the recall and TNR of class index 0, the NEGATIVE class: they are given
too, under names that say so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ScreenError
from ..model.calibration import (
    UNCALIBRATED,
    measures,
    sequence_probabilities,
)
from ..model.classes import LABELS, Label
from ..model.classify import Classifier, make_clips, torch_threads
from ..model.operating_point import decide, rule_description
from .dataset import SilhouetteDataset

if TYPE_CHECKING:
    from ..progress import ProgressCallback

Z95 = 1.959963984540054  #: two-sided 95% normal quantile
WHOLE_SEQUENCE_LIMIT = 720  #: frames the paper's test protocol pools at most
LEGACY_NOTE = (
    "legacy: paper's 'sensitivity' = negative-class recall; "
    "paper's 'specificity' = negative-class TNR (true-negative rate of class index 0)"
)
#: Screening definitions: the classes whose prediction counts as a referral.
REFERRALS: dict[str, frozenset[Label]] = {
    "positive_vs_negative": frozenset({Label.POSITIVE}),
    "positive_or_neutral_vs_negative": frozenset({Label.POSITIVE, Label.NEUTRAL}),
}


class Protocol(StrEnum):
    SEQUENCE = "sequence"  #: whole sequence in one pass (the paper)
    CLIPS = "clips"  #: spread 30-frame clips averaged (the tool's verdicts)
    CONSECUTIVE = "consecutive"  #: consecutive 30-frame clips averaged (the first protocol)


PROTOCOL_DESCRIPTIONS = {
    Protocol.SEQUENCE: f"whole sequence (first {WHOLE_SEQUENCE_LIMIT} frames) in one pass, "
    "as the paper's test code",
    Protocol.CLIPS: "30-frame clips spread over the sequence, probabilities averaged, as the "
    "tool's verdicts",
    Protocol.CONSECUTIVE: "30 consecutive frames every 15, probabilities averaged (the tool's "
    "first verdict protocol)",
}


def wilson_interval(successes: int, total: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when there is nothing to count."""
    if total <= 0:
        return (0.0, 1.0)
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Proportion:
    """successes / total with its 95% Wilson interval."""

    successes: int
    total: int

    @property
    def value(self) -> float | None:
        return self.successes / self.total if self.total else None

    def to_dict(self) -> dict:
        low, high = wilson_interval(self.successes, self.total)
        value = self.value
        return {
            "value": None if value is None else round(value, 6),
            "successes": self.successes,
            "total": self.total,
            "ci95": [round(low, 6), round(high, 6)],
        }


def confusion_matrix(truth: Iterable[Label], predicted: Iterable[Label]) -> np.ndarray:
    """Counts [3, 3]: row = true class, column = predicted class, LABELS order."""
    matrix = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    for true, guess in zip(truth, predicted, strict=True):
        matrix[LABELS.index(Label(true)), LABELS.index(Label(guess))] += 1
    return matrix


def _cells(matrix: np.ndarray, rows: Iterable[Label], columns: Iterable[Label]) -> int:
    r = [LABELS.index(label) for label in rows]
    c = [LABELS.index(label) for label in columns]
    return int(matrix[np.ix_(r, c)].sum())


def accuracy(matrix: np.ndarray) -> Proportion:
    return Proportion(int(np.trace(matrix)), int(matrix.sum()))


def precision(matrix: np.ndarray, label: Label) -> Proportion:
    """Of the sequences predicted `label`, the share that are."""
    return Proportion(_cells(matrix, [label], [label]), _cells(matrix, LABELS, [label]))


def recall(matrix: np.ndarray, label: Label) -> Proportion:
    """Of the sequences that are `label`, the share predicted so."""
    return Proportion(_cells(matrix, [label], [label]), _cells(matrix, [label], LABELS))


def f1(matrix: np.ndarray, label: Label) -> float:
    """Harmonic mean of precision and recall; 0 when the class is never right."""
    hits = _cells(matrix, [label], [label])
    predicted, actual = _cells(matrix, LABELS, [label]), _cells(matrix, [label], LABELS)
    return 2 * hits / (predicted + actual) if hits else 0.0


def macro_f1(matrix: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 over all three classes."""
    return float(np.mean([f1(matrix, label) for label in LABELS]))


def screening(matrix: np.ndarray, referred: frozenset[Label]) -> dict[str, Proportion]:
    """Sensitivity over the referred classes' subjects, specificity over negative subjects."""
    cleared = [label for label in LABELS if label not in referred]
    return {
        "sensitivity": Proportion(
            _cells(matrix, referred, referred), _cells(matrix, referred, LABELS)
        ),
        "specificity": Proportion(
            _cells(matrix, [Label.NEGATIVE], cleared), _cells(matrix, [Label.NEGATIVE], LABELS)
        ),
    }


def legacy_figures(matrix: np.ndarray) -> dict[str, Proportion]:
    """What the 2024 evaluator printed as sensitivity/specificity: class 0 (negative) TPR, TNR."""
    others = [label for label in LABELS if label is not Label.NEGATIVE]
    return {
        "sensitivity_negative_class_recall": recall(matrix, Label.NEGATIVE),
        "specificity_negative_class_tnr": Proportion(
            _cells(matrix, others, others), _cells(matrix, others, LABELS)
        ),
    }


def referred_names(referred: frozenset[Label]) -> list[str]:
    """Most severe first: ['positive', 'neutral'] (the report's and the tables' order)."""
    return [label.value for label in reversed(LABELS) if label in referred]


def metrics_from_confusion(matrix: np.ndarray) -> dict:
    """Every figure of a confusion matrix, as plain JSON types."""
    matrix = np.asarray(matrix, dtype=np.int64)
    if matrix.shape != (len(LABELS), len(LABELS)) or (matrix < 0).any():
        raise ValueError(f"expected a [3, 3] matrix of counts, got {matrix.shape}")
    return {
        "sequences": int(matrix.sum()),
        "accuracy": accuracy(matrix).to_dict(),
        "macro_f1": round(macro_f1(matrix), 6),
        "per_class": {
            label.value: {
                "precision": precision(matrix, label).to_dict(),
                "recall": recall(matrix, label).to_dict(),
                "f1": round(f1(matrix, label), 6),
            }
            for label in LABELS
        },
        "confusion_matrix": {
            "labels": [label.value for label in LABELS],
            "rows_truth_columns_predicted": matrix.tolist(),
        },
        "screening": {
            name: {
                "referred": referred_names(referred),
                **{key: p.to_dict() for key, p in screening(matrix, referred).items()},
            }
            for name, referred in REFERRALS.items()
        },
        "legacy": {
            "note": LEGACY_NOTE,
            **{key: p.to_dict() for key, p in legacy_figures(matrix).items()},
        },
    }


def confidence_summary(predictions: Iterable[tuple[str, str, float]]) -> dict:
    """Mean confidence (the verdict's probability) of right and of wrong verdicts.

    `predictions` are (truth, predicted, confidence).  Probabilities that spread put
    right verdicts well above 1/3 and wrong ones lower; near 0.4 for all says little.
    """
    right, wrong = [], []
    for truth, predicted, confidence in predictions:
        (right if truth == predicted else wrong).append(confidence)
    mean = lambda values: round(float(np.mean(values)), 6) if values else None  # noqa: E731
    return {"right_mean": mean(right), "right": len(right), "wrong_mean": mean(wrong),
            "wrong": len(wrong)}  # fmt: skip


def predict_protocols(
    classifier: Classifier, stored: np.ndarray
) -> tuple[dict[Protocol, dict], np.ndarray]:
    """Probabilities {class: p} of one sequence under each protocol (one backbone pass), and
    the raw log-probabilities [clips, 3] of its spread clips (what a calibration maps)."""
    length = classifier.clip_length
    groups = {
        Protocol.SEQUENCE: [np.arange(min(len(stored), WHOLE_SEQUENCE_LIMIT))],
        Protocol.CLIPS: make_clips(len(stored), length, sampling="spread"),
        Protocol.CONSECUTIVE: make_clips(
            len(stored), length, classifier.clip_stride, sampling="consecutive"
        ),
    }
    clips = [clip for group in groups.values() for clip in group]
    with torch_threads(classifier.threads):
        raw = classifier.streamed_log_probabilities(stored, clips)
    per_clip = iter(classifier.calibration.apply(raw))
    result, spread = {}, None
    for protocol, group in groups.items():
        if protocol is Protocol.CLIPS:
            spread = raw[len(groups[Protocol.SEQUENCE]) :][: len(group)]
        taken = np.stack([next(per_clip) for _ in group]).mean(axis=0)
        result[protocol] = classifier.named(taken)
    return result, spread


def evaluate(
    classifier: Classifier,
    dataset: SilhouetteDataset,
    protocols: Sequence[Protocol] = tuple(Protocol),
    on_progress: ProgressCallback | None = None,
) -> dict:
    """Classify every sequence of the split; the JSON report with each protocol's metrics.

    `on_progress("evaluating", sequences done, sequences in all)` follows the work.
    """
    if not len(dataset):
        raise ScreenError(f"the {dataset.split} split of {dataset.partition.path} lists no id")
    rows, spread_clips = [], []
    for index in range(len(dataset)):
        record = dataset.records[index]
        probabilities, spread = predict_protocols(classifier, dataset.frames(index))
        spread_clips.append(spread)
        row = {"id": record.subject, "view": record.view, "label": record.label.value}
        for protocol in protocols:
            named = probabilities[protocol]
            row[protocol.value] = {
                "predicted": max(LABELS, key=lambda label: named[label]).value,
                "probabilities": {label.value: round(named[label], 6) for label in LABELS},
            }
        rows.append(row)
        if on_progress is not None:
            on_progress("evaluating", index + 1, len(dataset))
    results = {}
    for protocol in protocols:
        matrix = confusion_matrix(
            (row["label"] for row in rows), (row[protocol.value]["predicted"] for row in rows)
        )
        verdicts = [row[protocol.value] for row in rows]
        results[protocol.value] = {
            "description": PROTOCOL_DESCRIPTIONS[protocol],
            **metrics_from_confusion(matrix),
            "confidence": confidence_summary(
                (row["label"], v["predicted"], v["probabilities"][v["predicted"]])
                for row, v in zip(rows, verdicts, strict=True)
            ),
        }
    partition = dataset.partition
    return {
        "model": classifier.describe(),
        "data": {
            "root": str(dataset.root),
            "partition": str(partition.path),
            "partition_sha256": partition.sha256,
            "split": dataset.split.value,
            "counts": {label.value: n for label, n in dataset.counts().items()},
        },
        "protocols": results,
        "calibration": calibration_figures(
            classifier, spread_clips, [Label(row["label"]) for row in rows]
        ),
        "sequences": rows,
    }


def calibration_figures(
    classifier: Classifier, clips: Sequence[np.ndarray], labels: Sequence[Label]
) -> dict:
    """The verdicts' probabilities (spread clips) before and after the model's calibration:
    ECE (15 bins) and Brier score; and what each stored operating point reaches here."""
    order = classifier.metadata.class_order
    indices = [order.index_of(label) for label in labels]
    calibrated = sequence_probabilities(classifier.calibration, clips)
    figures = {
        "uncalibrated": measures(sequence_probabilities(UNCALIBRATED, clips), indices),
        "calibrated": measures(calibrated, indices),
    }
    calibrated = [classifier.named(p) for p in calibrated]
    points = {}
    for point in classifier.metadata.stored_operating_points:
        matrix = confusion_matrix(labels, (decide(p, point) for p in calibrated))
        points[point.name] = {
            **rule_description(point),
            "validation": point.validation,
            **{name: {key: p.to_dict() for key, p in screening(matrix, referred).items()}
               for name, referred in REFERRALS.items()},
            "referred": Proportion(int(matrix[:, LABELS.index(Label.POSITIVE)].sum()),
                                   int(matrix.sum())).to_dict(),
        }  # fmt: skip
    return {
        "method": classifier.calibration.method,
        "calibration": classifier.calibration.to_dict(),
        **figures,
        "operating_points": points,
    }


def plot_confusion(report: dict, path: str | Path) -> Path:
    """A PNG with one confusion-matrix panel per protocol (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protocols = report["protocols"]
    figure, axes = plt.subplots(1, len(protocols), figsize=(4.6 * len(protocols), 4.2))
    axes = np.atleast_1d(axes)
    for axis, (name, figures) in zip(axes, protocols.items(), strict=True):
        labels = figures["confusion_matrix"]["labels"]
        counts = np.array(figures["confusion_matrix"]["rows_truth_columns_predicted"])
        axis.imshow(counts, cmap="Blues")
        for (row, column), count in np.ndenumerate(counts):
            dark = count > counts.max() / 2
            axis.text(
                column,
                row,
                str(count),
                ha="center",
                va="center",
                color="white" if dark else "black",
            )
        axis.set_xticks(range(len(labels)), labels)
        axis.set_yticks(range(len(labels)), labels)
        axis.set_xlabel("predicted")
        axis.set_ylabel("truth")
        value = figures["accuracy"]["value"]  # None when nothing was judged
        shown = "n/a" if value is None else f"{100 * value:.1f}%"
        axis.set_title(f"{name} (accuracy {shown})")
    figure.suptitle(report["model"]["name"])
    figure.tight_layout()
    if report.get("note"):  # an evaluation of videos carries the honesty note everywhere
        import textwrap

        figure.subplots_adjust(bottom=0.25)
        text = textwrap.fill(report["note"], width=int(16 * figure.get_figwidth()))
        figure.text(0.5, 0.01, text, ha="center", va="bottom", fontsize=6)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
