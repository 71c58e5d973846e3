"""Where the model looks: activation-based attention maps over the 64x44 silhouette.

Zagoruyko and Komodakis (2016), as in ScoNet's Fig. 5: per location of the
backbone's last feature maps, the sum over channels of |activation|^p.  Each
frame's map is normalised to sum to 1 (every frame counts the same, however
strongly it fires), then averaged over the frames of each clip and over the
whole sequence, and upsampled bilinearly from 16x11 to the model input.

The features are the ones the verdict pooled (the classifier's own backbone,
precision and clips), computed again: a second pass, run only when a map is
asked for, so screening without maps costs nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..silhouettes.normalize import to_model_input
from .classify import Classifier, make_clips, torch_threads

POWER = 2  #: the p of sum_c |a|^p; 2 is the paper's usual choice


@dataclass(frozen=True)
class AttentionMaps:
    """A sequence's attention, each map [64, 44] float32 summing to 1 over its pixels."""

    sequence: np.ndarray  #: mean over every frame
    clips: np.ndarray  #: [clips, 64, 44], mean over each verdict clip's frames
    clip_frames: tuple[np.ndarray, ...]  #: each clip's stored-frame indices
    mean_silhouette: np.ndarray  #: [64, 44] in 0..1, the frames the model saw, averaged
    clip_silhouettes: np.ndarray  #: [clips, 64, 44], the same per clip

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The maps as named arrays (for an .npz), no pickled objects."""
        return {
            "sequence": self.sequence,
            "clips": self.clips,
            "mean_silhouette": self.mean_silhouette,
            "clip_silhouettes": self.clip_silhouettes,
        }


def frame_attention(features: torch.Tensor, power: float = POWER) -> torch.Tensor:
    """Features [f, c, h, w] -> per-frame attention [f, h, w], each frame summing to 1."""
    maps = features.float().abs().pow(power).sum(1)  # [f, h, w]
    return maps / maps.sum((1, 2), keepdim=True).clamp_min(1e-12)


def upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Maps [n, h, w] -> [n, *size], bilinear, renormalised to sum to 1 each."""
    tensor = F.interpolate(torch.from_numpy(maps)[:, None], size, mode="bilinear")[:, 0]
    return (tensor / tensor.sum((1, 2), keepdim=True).clamp_min(1e-12)).numpy()


@torch.inference_mode()
def attention_maps(classifier: Classifier, stored: np.ndarray) -> AttentionMaps:
    """The attention of a stored-form sequence [T, 64, 64] (T >= 1) for its verdict's clips."""
    stored = np.asarray(stored)
    if stored.ndim != 3 or len(stored) == 0:
        raise ValueError(f"expected a non-empty [T, 64, 64] sequence, got shape {stored.shape}")
    clips = make_clips(
        len(stored), classifier.clip_length, classifier.clip_stride, classifier.clip_sampling
    )
    with torch_threads(classifier.threads):
        # the classifier's own feature pass: same backbone, precision and chunking
        per_frame = torch.cat(
            [frame_attention(f) for f in classifier.feature_chunks(stored)]
        ).numpy()  # [T, 16, 11], 0.7 KB a frame
    small = np.stack([per_frame.mean(0)] + [per_frame[c].mean(0) for c in clips])
    model_input = to_model_input(stored)  # [T, 64, 44] in 0..1
    maps = upsample(small.astype(np.float32), model_input.shape[1:])
    return AttentionMaps(
        sequence=maps[0],
        clips=maps[1:],
        clip_frames=tuple(clips),
        mean_silhouette=model_input.mean(0),
        clip_silhouettes=np.stack([model_input[c].mean(0) for c in clips]),
    )


def vertical_profile(attention: np.ndarray) -> np.ndarray:
    """A map's share of attention per row [64] (sums to 1): where along the body it looks."""
    return attention.sum(1) / max(float(attention.sum()), 1e-12)
