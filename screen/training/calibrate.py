"""`screen calibrate`: fit the verdicts' calibration and operating points on a validation
split and write a calibrated model file (the same weights, the calibration in its metadata).

The validation split is a partition's VAL_SET (`screen phantom dataset --val N` builds one);
the test split is refused, since figures measured on the data a calibration was fitted on
would flatter it.  Both methods of model/calibration.py are fitted and their validation
figures reported; the chosen one is stored.  Operating points are fitted on the calibrated
probabilities, so the thresholds mean what they say on the probabilities users see.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import ScreenError
from ..model.calibration import (
    METHODS,
    UNCALIBRATED,
    fit_calibration,
    measures,
    reliability_bins,
    sequence_probabilities,
)
from ..model.checkpoint import save_checkpoint
from ..model.classes import LABELS, Label
from ..model.classify import Classifier, make_clips, torch_threads
from ..model.operating_point import fit_operating_point
from ..progress import ProgressCallback
from .dataset import SilhouetteDataset, Split

DEFAULT_TARGETS = (0.9, 0.95)


def clip_log_probabilities(
    classifier: Classifier, dataset: SilhouetteDataset, on_progress: ProgressCallback | None
) -> list[np.ndarray]:
    """Per sequence, the raw log-probabilities [clips, 3] of its spread clips (the verdicts')."""
    clips = []
    with torch_threads(classifier.threads):
        for index in range(len(dataset)):
            stored = dataset.frames(index)
            chosen = make_clips(len(stored), classifier.clip_length, sampling="spread")
            clips.append(classifier.streamed_log_probabilities(stored, chosen))
            if on_progress is not None:
                on_progress("validation walkers", index + 1, len(dataset))
    return clips


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ScreenError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")


def calibrate(
    classifier: Classifier,
    dataset: SilhouetteDataset,
    out: Path,
    method: str = "temperature",
    targets: Sequence[float] = DEFAULT_TARGETS,
    half: bool = True,
    on_progress: ProgressCallback | None = None,
) -> dict:
    """Fit on `dataset` (a VAL split), write the calibrated model to `out`; the report."""
    if dataset.split is Split.TEST:
        raise ScreenError(
            "calibrating on the test split would leave no honest test figure: use a "
            "validation split (--split val; `screen phantom dataset --val N` builds one)"
        )
    check_method(method)
    if not len(dataset):
        raise ScreenError(f"the {dataset.split} split of {dataset.partition.path} lists no id")
    clips = clip_log_probabilities(classifier, dataset, on_progress)  # raw: never calibrated
    fitted_on = (
        f"{dataset.split.key} of {dataset.partition.path.name} (sha256 "
        f"{dataset.partition.sha256[:12]}): {len(dataset)} sequences"
    )
    labels = [record.label for record in dataset.records]
    report = fit_and_save(classifier, clips, labels, fitted_on, out, method, targets, half)
    return {**report, "split": dataset.split.value}


def fit_and_save(
    classifier: Classifier,
    clips: Sequence[np.ndarray],
    labels: Sequence[Label],
    fitted_on: str,
    out: Path,
    method: str,
    targets: Sequence[float],
    half: bool,
) -> dict:
    """Fit both methods on raw clip log-probabilities (checkpoint order) with their labels,
    store `method` and the operating points in a copy of the model at `out`; the report."""
    check_method(method)
    order = classifier.metadata.class_order
    indices = [order.index_of(label) for label in labels]
    fitted = {m: fit_calibration(clips, indices, m, fitted_on) for m in METHODS}
    chosen = fitted[method]
    calibrated = [classifier.named(p) for p in sequence_probabilities(chosen, clips)]
    points = [fit_operating_point(calibrated, labels, target) for target in targets]
    metadata = replace(
        classifier.metadata,
        calibration=chosen.to_dict(),
        operating_points=[point.to_dict() for point in points],
    )
    save_checkpoint(out, classifier.model, metadata, half=half)
    return {
        "model": classifier.metadata.name,
        "source_sha256": classifier.sha256,
        "out": str(out),
        "fitted_on": fitted_on,
        "counts": {label.value: sum(y == label for y in labels) for label in LABELS},
        "method": method,
        "calibration": chosen.to_dict(),
        "temperature": chosen.temperature,
        "validation": {
            name: measures(sequence_probabilities(mapping, clips), indices)
            for name, mapping in (("uncalibrated", UNCALIBRATED), *fitted.items())
        },
        "reliability": {
            "uncalibrated": reliability_bins(sequence_probabilities(UNCALIBRATED, clips), indices),
            "calibrated": reliability_bins(sequence_probabilities(chosen, clips), indices),
        },
        "operating_points": {point.name: point.to_dict() for point in points},
    }


def reliability_diagram(report: dict, path: Path) -> Path:
    """Accuracy against confidence per bin, before and after: a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 4.4), dpi=110)
    axes.plot([0, 1], [0, 1], color="#999", linestyle="--", label="perfectly calibrated")
    styles = {"uncalibrated": ("#c44", "o"), "calibrated": ("#2a6", "s")}
    for name, bins in report["reliability"].items():
        figures = report["validation"][name if name == "uncalibrated" else report["method"]]
        colour, marker = styles[name]
        axes.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], color=colour,
                  marker=marker, label=f"{name} (ECE {figures['ece']:.3f})")  # fmt: skip
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence (the verdict's probability)")
    axes.set_ylabel("share of verdicts that were right")
    data = f"{report['split']} split" if "split" in report else "labelled videos"
    axes.set_title(f"{report['model']}: {data}, 15 bins", fontsize=10)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path
