"""Calibrated probabilities: a map fitted on a validation split, stored in the checkpoint.

ScoNet's probabilities are softmax(16 x mean strip logit): the scale training used, not
a probability that means what it says.  A calibration maps each clip's log-probabilities
`z` (checkpoint index order) to softmax(scale * z + bias) before the clips are averaged,
so the verdict's probability is the mean of calibrated clip probabilities:
- `temperature`: one scale 1/T for every class, no bias (Guo et al. 2017).  It never
  changes which class is largest in a clip; the mean over clips can still tip where
  clips disagree (the demo model: no verdict of the 90 test walkers moved).
- `vector`: a scale and a bias per class (6 numbers): more freedom, may move verdicts,
  and with a few hundred validation walkers more room to over-fit.
It works on log-probabilities rather than logits so that results stored as probabilities
(a batch's clips) can be calibrated too: for a temperature the two are the same map.

The fit minimises the negative log-likelihood of each sequence's averaged probability,
the number the tool reports.  Measures: expected calibration error (top-label, 15 equal
bins, the usual ECE) and the Brier score (squared error summed over the classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

METHODS = ("temperature", "vector")
UNCALIBRATED_METHOD = "none"
UNCALIBRATED_NOTE = "softmax(16 x mean strip logit), the model's training scale; not calibrated"
ECE_BINS = 15
LOG_FLOOR = 1e-7  #: stored probabilities may round to 0; log() needs a floor


@dataclass(frozen=True)
class Calibration:
    """softmax(scale * log p + bias) per clip, in checkpoint index order."""

    method: str
    scale: tuple[float, float, float]
    bias: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fitted_on: str = ""  #: the validation data, in words

    @property
    def temperature(self) -> float | None:
        """T of a temperature calibration (None for the vector kind)."""
        return 1.0 / self.scale[0] if self.method == "temperature" else None

    def apply(self, log_probabilities: np.ndarray) -> np.ndarray:
        """Clip log-probabilities [n, 3] -> calibrated probabilities [n, 3]."""
        logits = np.asarray(log_probabilities, np.float64) * self.scale + np.asarray(self.bias)
        logits -= logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)

    def describe(self) -> str:
        """What calibrated probabilities are, in words (results carry it)."""
        if self.method == UNCALIBRATED_METHOD:
            return UNCALIBRATED_NOTE
        how = (
            f"temperature scaling, T = {self.temperature:.3f}"
            if self.temperature
            else "vector scaling (a scale and a bias per class)"
        )
        return f"calibrated by {how}, fitted on {self.fitted_on or 'a validation split'}"

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "scale": list(self.scale), "bias": list(self.bias),
                "fitted_on": self.fitted_on}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(data["method"], tuple(data["scale"]), tuple(data["bias"]),
                   data.get("fitted_on", ""))  # fmt: skip


UNCALIBRATED = Calibration(UNCALIBRATED_METHOD, (1.0, 1.0, 1.0))


def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities [n, 3] -> log-probabilities with a floor (stored values may be 0)."""
    return np.log(np.clip(np.asarray(probabilities, np.float64), LOG_FLOOR, 1.0))


def sequence_probabilities(calibration: Calibration, clips: Sequence[np.ndarray]) -> np.ndarray:
    """Each sequence's mean of calibrated clip probabilities [sequences, 3]."""
    return np.stack([calibration.apply(z).mean(axis=0) for z in clips])


def fit_calibration(
    clips: Sequence[np.ndarray], labels: Sequence[int], method: str, fitted_on: str = ""
) -> Calibration:
    """The `method` map that best explains `labels` (checkpoint indices) on these sequences.

    `clips`: per sequence, its clips' log-probabilities [clips, 3].
    """
    import torch

    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {', '.join(METHODS)}, got {method!r}")
    if len(clips) != len(labels) or not len(clips):
        raise ValueError("calibration needs one label per sequence and at least one sequence")
    counts = [len(z) for z in clips]
    stacked = torch.tensor(np.concatenate(clips), dtype=torch.float64)
    owner = torch.repeat_interleave(torch.arange(len(clips)), torch.tensor(counts))
    target = torch.tensor(list(labels))
    log_scale = torch.zeros(1 if method == "temperature" else 3, dtype=torch.float64,
                            requires_grad=True)  # fmt: skip
    bias = torch.zeros(3, dtype=torch.float64, requires_grad=method == "vector")
    parameters = [log_scale] + ([bias] if method == "vector" else [])
    optimizer = torch.optim.LBFGS(parameters, lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def nll() -> torch.Tensor:
        optimizer.zero_grad()
        probabilities = torch.softmax(stacked * log_scale.exp() + bias, dim=-1)
        summed = torch.zeros(len(clips), 3, dtype=torch.float64).index_add(0, owner, probabilities)
        mean = summed / torch.tensor(counts, dtype=torch.float64)[:, None]
        loss = -torch.log(mean[torch.arange(len(clips)), target].clamp_min(1e-12)).mean()
        loss.backward()
        return loss

    optimizer.step(nll)
    scale = log_scale.detach().exp().numpy()
    scale = np.repeat(scale, 3) if method == "temperature" else scale
    return Calibration(method, tuple(float(s) for s in scale),
                       tuple(float(b) for b in bias.detach().numpy()), fitted_on)  # fmt: skip


def expected_calibration_error(
    probabilities: np.ndarray, labels: Sequence[int], bins: int = ECE_BINS
) -> float:
    """Top-label ECE: |accuracy - mean confidence| per equal-width confidence bin, weighted."""
    return float(sum(b["share"] * abs(b["accuracy"] - b["confidence"])
                     for b in reliability_bins(probabilities, labels, bins)))  # fmt: skip


def measures(probabilities: np.ndarray, labels: Sequence[int]) -> dict[str, float]:
    """ECE, Brier score, negative log-likelihood and accuracy of sequence probabilities."""
    probabilities = np.asarray(probabilities)
    truth = np.asarray(labels)
    chosen = probabilities[np.arange(len(truth)), truth]
    return {
        "ece": round(expected_calibration_error(probabilities, labels), 6),
        "brier": round(brier_score(probabilities, labels), 6),
        "nll": round(float(-np.log(np.clip(chosen, 1e-12, 1.0)).mean()), 6),
        "accuracy": round(float((probabilities.argmax(1) == truth).mean()), 6),
    }


def brier_score(probabilities: np.ndarray, labels: Sequence[int]) -> float:
    """Mean over sequences of the squared error summed over the classes (0 best, 2 worst)."""
    probabilities = np.asarray(probabilities, np.float64)
    truth = np.eye(probabilities.shape[1])[np.asarray(labels)]
    return float(((probabilities - truth) ** 2).sum(axis=1).mean())


def reliability_bins(
    probabilities: np.ndarray, labels: Sequence[int], bins: int = ECE_BINS
) -> list[dict[str, float]]:
    """Per non-empty bin: its mean confidence, accuracy and share of sequences."""
    probabilities = np.asarray(probabilities)
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [
        {"low": float(edges[b]), "high": float(edges[b + 1]),
         "confidence": float(confidence[which == b].mean()),
         "accuracy": float(right[which == b].mean()), "share": float((which == b).mean())}
        for b in range(bins) if (which == b).any()
    ]  # fmt: skip
