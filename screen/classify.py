"""Silhouettes -> class probabilities with a loaded ScoNet.

Two protocols on one set of frame features:
- clips: 30-frame windows (stride configurable), each pooled and classified,
  then averaged: the tool's protocol and the verdict;
- whole sequence: every frame pooled at once, the paper's test protocol.
The backbone runs once per frame whatever the number of overlapping clips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checkpoint import ModelMetadata, is_own_checkpoint, load_checkpoint, load_opengait_checkpoint
from .classes import LABELS, ClassOrder, Label
from .errors import CheckpointError
from .sconet import ScoNet, class_probabilities, pool_windows
from .silhouette import to_model_input
from .specs import file_sha256

CLIP_LENGTH = 30
CLIP_STRIDE = 15
FEATURE_CHUNK = 64  #: frames per backbone call, bounds memory on long videos

Probabilities = dict[Label, float]


@dataclass(frozen=True)
class ClipPrediction:
    start: int  #: first stored frame of the clip
    stop: int  #: one past its last frame
    probabilities: Probabilities


@dataclass(frozen=True)
class SequencePrediction:
    """What the classifier says about one silhouette sequence."""

    clips: tuple[ClipPrediction, ...]
    probabilities: Probabilities  #: mean over clips: the tool's verdict protocol
    whole_sequence: Probabilities  #: all frames pooled at once: the paper's protocol
    frames: int
    short: bool  #: fewer frames than one clip: the one clip holds what there was
    label: Label = field(init=False)
    confidence: float = field(init=False)

    def __post_init__(self) -> None:
        label = max(LABELS, key=lambda name: self.probabilities[name])
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "confidence", self.probabilities[label])


def clip_windows(
    frames: int, length: int = CLIP_LENGTH, stride: int = CLIP_STRIDE
) -> list[tuple[int, int]]:
    """[start, stop) windows of `length` frames every `stride`, the last one flush with the end."""
    if frames <= 0:
        return []
    if frames <= length:
        return [(0, frames)]
    starts = list(range(0, frames - length + 1, stride))
    if starts[-1] + length < frames:
        starts.append(frames - length)
    return [(start, start + length) for start in starts]


def bf16_supported() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags", 2)[1].split("\n", 1)[0]
    except (OSError, IndexError):
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


@dataclass
class Classifier:
    """A ScoNet model in eval mode with the facts every result must carry."""

    model: ScoNet
    metadata: ModelMetadata
    sha256: str
    device: str = "cpu"
    precision: str = "fp32"  #: 'fp32' or 'bf16' (autocast)
    clip_length: int = CLIP_LENGTH
    clip_stride: int = CLIP_STRIDE

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        if self.clip_length < 1 or self.clip_stride < 1:
            raise ValueError("clip length and stride must be at least 1")
        self.model = self.model.to(self.device).eval()

    @classmethod
    def from_file(
        cls, path: str | Path, class_order: ClassOrder | None = None, **options
    ) -> Classifier:
        """Load our checkpoint, or an OpenGait one whose class order is stated."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(path, "no such file")
        if is_own_checkpoint(path):
            model, metadata = load_checkpoint(path)
        else:
            if class_order is None:
                raise CheckpointError(
                    path,
                    "an OpenGait checkpoint needs its class order stated: --class-order current "
                    "(negative,neutral,positive) or legacy (negative,positive,neutral)",
                )
            model = load_opengait_checkpoint(path, class_order)
            metadata = ModelMetadata(
                name=path.stem,
                class_order=class_order,
                trained_on="unknown (OpenGait checkpoint without metadata)",
                clinical=False,
                provenance=f"OpenGait checkpoint {path.name}",
            )
        return cls(model, metadata, file_sha256(path), **options)

    @classmethod
    def random(cls, seed: int = 0, **options) -> Classifier:
        """A random-weight ScoNet: for speed measurements and tests, never for verdicts."""
        torch.manual_seed(seed)
        metadata = ModelMetadata(
            name="sconet-random",
            class_order=ClassOrder.CURRENT,
            trained_on="nothing: random weights, outputs are meaningless",
            clinical=False,
            provenance=f"random initialisation, seed {seed}",
        )
        return cls(ScoNet(), metadata, "none", **options)

    def _autocast(self):
        enabled = self.precision == "bf16"
        return torch.autocast(
            device_type=torch.device(self.device).type, dtype=torch.bfloat16, enabled=enabled
        )

    @torch.inference_mode()
    def frame_features(self, stored: np.ndarray) -> torch.Tensor:
        """Stored silhouettes [T, 64, 64] uint8 -> backbone features [T, 512, 16, 11]."""
        frames = torch.from_numpy(to_model_input(stored)).to(self.device)
        with self._autocast():
            chunks = [
                self.model.frame_features(frames[i : i + FEATURE_CHUNK])
                for i in range(0, len(frames), FEATURE_CHUNK)
            ]
        return torch.cat(chunks).float()

    @torch.inference_mode()
    def window_probabilities(
        self, features: torch.Tensor, windows: list[tuple[int, int]]
    ) -> np.ndarray:
        """Probabilities [windows, 3], checkpoint index order, for windows of frame features."""
        logits = self.model.head(pool_windows(features, windows)).logits  # [w, 3, 16]
        return class_probabilities(logits).cpu().numpy()

    def named(self, probabilities: np.ndarray) -> Probabilities:
        """Checkpoint-ordered probabilities -> {class: probability}."""
        order = self.metadata.class_order.labels
        return {label: float(probabilities[order.index(label)]) for label in LABELS}

    def predict(self, stored: np.ndarray) -> SequencePrediction:
        """Classify one stored-form silhouette sequence [T, 64, 64] (T >= 1)."""
        stored = np.asarray(stored)
        if stored.ndim != 3 or len(stored) == 0:
            raise ValueError(f"expected a non-empty [T, 64, 64] sequence, got shape {stored.shape}")
        features = self.frame_features(stored)
        windows = clip_windows(len(stored), self.clip_length, self.clip_stride)
        per_clip = self.window_probabilities(features, windows + [(0, len(stored))])
        clips = tuple(
            ClipPrediction(start, stop, self.named(p))
            for (start, stop), p in zip(windows, per_clip, strict=False)
        )
        return SequencePrediction(
            clips=clips,
            probabilities=self.named(per_clip[:-1].mean(axis=0)),
            whole_sequence=self.named(per_clip[-1]),
            frames=len(stored),
            short=len(stored) < self.clip_length,
        )

    def describe(self) -> dict:
        """The model facts every result carries."""
        return {
            "name": self.metadata.name,
            "sha256": self.sha256,
            "class_order": [label.value for label in self.metadata.class_order.labels],
            "clinical": self.metadata.clinical,
            "trained_on": self.metadata.trained_on,
        }


DEFAULT_CLASSIFIER = "sconet-mt-demo"


def load_classifier(
    weights: str | Path | None = None,
    class_order: ClassOrder | None = None,
    spec_name: str = DEFAULT_CLASSIFIER,
    **options,
) -> Classifier:
    """The classifier at `weights`, else the spec's file found the usual way."""
    from .specs import get_spec, resolve_file

    if weights is None:
        weights = resolve_file(get_spec(spec_name)).path
    return Classifier.from_file(weights, class_order, **options)
