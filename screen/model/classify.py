"""Silhouettes -> class probabilities with a loaded ScoNet.

Two protocols on one set of frame features:
- clips: 30-frame clips, each pooled and classified, then averaged: the tool's
  protocol and the verdict.  By default a clip is SPREAD over the whole
  sequence (clip k holds the k-th frame of each of 30 equal segments), which
  is what training shows the model: 30 frames drawn from anywhere in a
  sequence.  `consecutive` clips (30 frames in a row, every `stride`) were the
  tool's first protocol; on the phantom test split they lost 13-17 points of
  accuracy to the spread clips with the same model (see models/*.card.md),
  because 2 s in a row hold one walking direction and part of a gait cycle,
  a max-pooled input the model never saw in training.
- whole sequence: every frame pooled at once, the paper's test protocol.
The backbone runs once per frame whatever the number of clips, a chunk of
frames at a time: each clip keeps a running maximum of its frames' features
(max pooling is exact in any order), so memory does not grow with the video.

Where the backbone runs: in fp32 on the CPU, the `runtime` setting's converted
runtime (ONNX Runtime by default: 65.7 against 50.6 frames/s for PyTorch on 2
AVX2 cores, features within 4e-7), else PyTorch.  bf16 (CPUs with native bf16)
stays in PyTorch, whose bf16 kernels are the fast path there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from ..modelfiles.files import file_sha256
from ..settings import CLIP_LENGTH, CLIP_SAMPLINGS, CLIP_STRIDE, NATIVE
from ..silhouettes.normalize import to_model_input
from .calibration import UNCALIBRATED, Calibration
from .checkpoint import ModelMetadata, is_own_checkpoint, load_checkpoint, load_opengait_checkpoint
from .classes import LABELS, ClassOrder, Label
from .operating_point import ARG_MAX, OperatingPoint, choose_point, decide
from .sconet import ScoNet, class_log_probabilities, inference_backbone

FEATURE_CHUNK = 32  #: frames per backbone call, bounds memory (64: +110 MB peak, no faster)
#: frames per call on a converted runtime: ONNX Runtime plans every activation of a call at
#: once (8 frames: +91 MB peak RSS over PyTorch, 32: +146 MB; the same speed within noise)
CONVERTED_CHUNK = 8
PRECISIONS = ("auto", "fp32", "bf16")  #: auto: bf16 where the CPU has native bf16, else fp32

Probabilities = dict[Label, float]


@dataclass(frozen=True)
class ClipPrediction:
    start: int  #: first stored frame of the clip
    stop: int  #: one past its last frame
    frames: int  #: stored frames in the clip (fewer than stop - start when spread)
    probabilities: Probabilities


@dataclass(frozen=True)
class SequencePrediction:
    """What the classifier says about one silhouette sequence."""

    clips: tuple[ClipPrediction, ...]
    probabilities: Probabilities  #: mean over clips: the tool's verdict protocol
    whole_sequence: Probabilities  #: all frames pooled at once: the paper's protocol
    frames: int
    short: bool  #: fewer frames than one clip: the one clip holds what there was
    label: Label  #: by the verdict rule (model/operating_point.py)
    confidence: float = field(init=False)  #: the probability of `label`

    def __post_init__(self) -> None:
        object.__setattr__(self, "confidence", self.probabilities[self.label])


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


def spread_clips(frames: int, length: int = CLIP_LENGTH) -> list[np.ndarray]:
    """Clips of `length` frames spread over the whole sequence, each frame in at most one.

    The sequence is cut into `length` equal segments; clip k takes the k-th frame of
    every segment, for k below the shortest segment's length (frames // length clips).
    A sequence shorter than `length` is one clip of every frame.
    """
    if frames <= 0:
        return []
    if frames <= length:
        return [np.arange(frames)]
    segment_starts = (np.arange(length) * frames) // length
    return [segment_starts + k for k in range(frames // length)]


def make_clips(
    frames: int, length: int = CLIP_LENGTH, stride: int = CLIP_STRIDE, sampling: str = "spread"
) -> list[np.ndarray]:
    """Each clip's sorted stored-frame indices, under the named sampling."""
    if sampling == "spread":
        return spread_clips(frames, length)
    if sampling == "consecutive":
        return [np.arange(start, stop) for start, stop in clip_windows(frames, length, stride)]
    raise ValueError(f"clip sampling must be one of {', '.join(CLIP_SAMPLINGS)}, got {sampling!r}")


def bf16_supported() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags", 2)[1].split("\n", 1)[0]
    except (OSError, IndexError):
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def resolve_precision(precision: str, device: str = "cpu") -> str:
    """'auto' -> 'bf16' on a CPU with native bf16, else 'fp32'; others as given."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if torch.device(device).type == "cpu" and bf16_supported() else "fp32"


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with `threads` torch CPU threads, then restore (other stages set their own)."""
    if not threads or torch.get_num_threads() == threads:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class Classifier:
    """A ScoNet model in eval mode with the facts every result must carry."""

    model: ScoNet
    metadata: ModelMetadata
    sha256: str
    device: str = "cpu"
    precision: str = "fp32"  #: 'fp32', 'bf16' (autocast) or 'auto'; holds the one in use
    clip_length: int = CLIP_LENGTH
    clip_stride: int = CLIP_STRIDE  #: consecutive clips only
    clip_sampling: str = "spread"  #: 'spread' (the verdict's default) or 'consecutive'
    threads: int | None = None  #: torch CPU threads while classifying (None: as set globally)
    operating_point: str = ARG_MAX  #: or a stored point, e.g. 'sensitivity=0.95'
    calibrated: bool = True  #: apply the checkpoint's calibration (False: the raw softmax)
    source: Path | None = None  #: the file it was loaded from
    runtime: str = NATIVE  #: requested backbone runtime: auto | onnxruntime | openvino | native

    def __post_init__(self) -> None:
        self.precision = resolve_precision(self.precision, self.device)
        self.calibration: Calibration = (
            self.metadata.calibration_map if self.calibrated else None
        ) or UNCALIBRATED
        self.point: OperatingPoint | None = choose_point(
            self.metadata.stored_operating_points, self.operating_point, self.metadata.name
        )
        if self.clip_length < 1 or self.clip_stride < 1:
            raise ValueError("clip length and stride must be at least 1")
        make_clips(1, sampling=self.clip_sampling)  # an unknown sampling fails here, not later
        # channels_last: oneDNN's preferred layout for CPU convolutions (~1.5x in fp32)
        self.model = self.model.to(self.device, memory_format=torch.channels_last).eval()
        self._backbone = inference_backbone(self.model)  # BatchNorms folded: ~5-15% faster
        self._network, self.runtime_fallback = self._converted_backbone()
        if self._network is not None:
            self._backbone = None  # the converted copy runs instead: its weights not held twice
        #: the runtime that actually runs the backbone
        self.runtime_used = self._network.runtime if self._network else NATIVE

    def _converted_backbone(self):
        """(the backbone on a converted runtime, None) or (None, why not) or (None, None)."""
        if self.runtime == NATIVE or self.precision != "fp32" or self.device != "cpu":
            return None, None
        if self.source is None:  # a model built in memory has no file to convert
            return None, None
        from ..runtime.convert import SCONET, convert
        from ..runtime.engines import open_network

        return open_network(
            self.runtime, lambda: convert(self.source, SCONET), self.threads or 1, "ScoNet"
        )

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
            model = load_opengait_checkpoint(path)
            metadata = ModelMetadata(
                name=path.stem,
                class_order=class_order,
                trained_on="unknown (OpenGait checkpoint without metadata)",
                clinical=False,
                provenance=f"OpenGait checkpoint {path.name}",
            )
        return cls(model, metadata, file_sha256(path), source=path, **options)

    def _autocast(self):
        enabled = self.precision == "bf16"
        return torch.autocast(
            device_type=torch.device(self.device).type, dtype=torch.bfloat16, enabled=enabled
        )

    def feature_chunks(self, stored: np.ndarray) -> Iterator[torch.Tensor]:
        """Backbone features [<=FEATURE_CHUNK, 512, 16, 11] float32, chunk after chunk."""
        if self._network is not None:
            self._network.use_threads(self.threads or torch.get_num_threads())
        chunk = FEATURE_CHUNK if self._network is None else CONVERTED_CHUNK
        for start in range(0, len(stored), chunk):
            frames = torch.from_numpy(to_model_input(stored[start : start + chunk]))
            if self._network is not None:
                yield torch.from_numpy(self._network.run(frames.unsqueeze(1).numpy()))
                continue
            frames = frames.to(self.device)  # [c, 64, 44]
            with self._autocast():  # the backbone only: the head stays in fp32
                features = self._backbone(frames.unsqueeze(1))  # [c, 512, 16, 11]
            # fp32 in the standard layout: a max over frames of a channels_last tensor was
            # 30x slower (7.9 vs 0.25 ms per 30-frame window), 12% of all classifying time.
            features = features.to(torch.float32, memory_format=torch.contiguous_format)
            yield features  # outside the autocast block, or the caller would run under it

    def streamed_probabilities(self, stored: np.ndarray, clips: list[np.ndarray]) -> np.ndarray:
        """Calibrated probabilities [clips, 3], checkpoint index order."""
        return self.calibration.apply(self.streamed_log_probabilities(stored, clips))

    @torch.inference_mode()
    def streamed_log_probabilities(self, stored: np.ndarray, clips: list[np.ndarray]) -> np.ndarray:
        """The model's own log-probabilities [clips, 3], checkpoint index order, holding one
        chunk of frames at a time.

        `clips` are sorted stored-frame indices.  Each open clip keeps the running
        maximum of its frames' features (max pooling is exact in any order); a clip
        is classified as soon as its last frame has been seen.
        """
        result = np.zeros((len(clips), len(LABELS)), np.float32)
        running: dict[int, torch.Tensor] = {}  # clip -> max so far [512, 16, 11]
        start = 0
        for features in self.feature_chunks(stored):
            stop = start + len(features)
            done = []
            for c, indices in enumerate(clips):
                inside = indices[(indices >= start) & (indices < stop)] - start
                if len(inside):
                    if inside[-1] - inside[0] + 1 == len(inside):  # a run: a view, no copy
                        peak = features[inside[0] : inside[-1] + 1].amax(0)
                    else:
                        peak = features[torch.from_numpy(inside)].amax(0)
                    running[c] = torch.maximum(running[c], peak) if c in running else peak
                if c in running and indices[-1] < stop:
                    done.append(c)
            if done:
                pooled = torch.stack([running.pop(c) for c in done])  # [d, 512, 16, 11]
                logits = self.model.head(pooled).logits  # [d, 3, 16]
                result[done] = class_log_probabilities(logits).cpu().numpy()
            start = stop
        return result

    def named(self, probabilities: np.ndarray) -> Probabilities:
        """Checkpoint-ordered probabilities -> {class: probability}."""
        order = self.metadata.class_order.labels
        return {label: float(probabilities[order.index(label)]) for label in LABELS}

    def clip_probabilities(
        self, stored: np.ndarray, clips: list[np.ndarray]
    ) -> list[Probabilities]:
        """{class: probability} of each clip (sorted stored-frame indices) of one sequence."""
        with torch_threads(self.threads):
            return [self.named(p) for p in self.streamed_probabilities(stored, clips)]

    def predict(self, stored: np.ndarray) -> SequencePrediction:
        """Classify one stored-form silhouette sequence [T, 64, 64] (T >= 1)."""
        stored = np.asarray(stored)
        if stored.ndim != 3 or len(stored) == 0:
            raise ValueError(f"expected a non-empty [T, 64, 64] sequence, got shape {stored.shape}")
        clips = make_clips(len(stored), self.clip_length, self.clip_stride, self.clip_sampling)
        with torch_threads(self.threads):
            per_clip = self.streamed_probabilities(stored, clips + [np.arange(len(stored))])
        probabilities = self.named(per_clip[:-1].mean(axis=0))
        return SequencePrediction(
            clips=tuple(
                ClipPrediction(int(c[0]), int(c[-1]) + 1, len(c), self.named(p))
                for c, p in zip(clips, per_clip, strict=False)
            ),
            probabilities=probabilities,
            whole_sequence=self.named(per_clip[-1]),
            frames=len(stored),
            short=len(stored) < self.clip_length,
            label=decide(probabilities, self.point),
        )

    def runtime_info(self) -> dict[str, str]:
        """Where the backbone runs, and why not where asked if it fell back."""
        from ..runtime.engines import runtime_record

        return runtime_record(self.runtime_used, self.runtime_fallback)

    @property
    def probability_note(self) -> str:
        """What the probabilities are, as every result says it."""
        return self.calibration.describe()

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
    from ..modelfiles.files import resolve_file
    from ..modelfiles.specs import get_spec

    if weights is None:
        weights = resolve_file(get_spec(spec_name)).path
    return Classifier.from_file(weights, class_order, **options)
