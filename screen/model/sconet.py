"""The ScoNet network (ScoNet-MT is the same network trained with CE + triplet).

Module names mirror OpenGait so that its checkpoints load strictly: the
state-dict keys and shapes are those in SCONET_FACTS.md (79 entries, 7,014,592
trainable parameters).  The backbone runs per frame, so frame features can be
computed once and pooled over any window: overlapping clips share them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .classes import LOGIT_SCALE

NUM_CLASSES = 3
NUM_STRIPS = 16
EMBED_DIM = 256
BACKBONE_CHANNELS = (64, 128, 256, 512)
BACKBONE_STRIDES = (1, 2, 2, 1)


class _Conv2d(nn.Module):
    """A bias-free conv kept in a wrapper, as OpenGait names it (`conv1.conv`)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock: two 3x3 convs and a shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class ResNet9(nn.Module):
    """Stem conv (no max-pool) and four one-block stages, 64/128/256/512 channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _Conv2d(1, BACKBONE_CHANNELS[0])
        self.bn1 = nn.BatchNorm2d(BACKBONE_CHANNELS[0])
        self.relu = nn.ReLU(inplace=True)
        in_channels = BACKBONE_CHANNELS[0]
        for index, (channels, stride) in enumerate(
            zip(BACKBONE_CHANNELS, BACKBONE_STRIDES, strict=True)
        ):
            setattr(
                self, f"layer{index + 1}", nn.Sequential(BasicBlock(in_channels, channels, stride))
            )
            in_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))  # [f, 64, 64, 44]
        x = self.layer2(self.layer1(x))  # [f, 128, 32, 22]
        return self.layer4(self.layer3(x))  # [f, 512, 16, 11]


class _PerFrame(nn.Module):
    """Holds the backbone under OpenGait's name (`Backbone.forward_block`)."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.forward_block = block

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.forward_block(frames)


class SeparateFCs(nn.Module):
    """One bias-free linear map per horizontal strip."""

    def __init__(self) -> None:
        super().__init__()
        self.fc_bin = nn.Parameter(torch.empty(NUM_STRIPS, BACKBONE_CHANNELS[-1], EMBED_DIM))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(2, 0, 1)  # [p, n, c]
        return x.matmul(self.fc_bin).permute(1, 2, 0)  # [n, 256, p]


class SeparateBNNecks(nn.Module):
    """BatchNorm over all strips at once, then per-strip cosine logits."""

    def __init__(self) -> None:
        super().__init__()
        self.bn1d = nn.BatchNorm1d(EMBED_DIM * NUM_STRIPS)
        self.fc_bin = nn.Parameter(torch.empty(NUM_STRIPS, EMBED_DIM, NUM_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, p = x.shape
        x = self.bn1d(x.reshape(n, c * p)).view(n, c, p)  # index = channel * 16 + part
        feature = F.normalize(x.permute(2, 0, 1), dim=-1)  # [p, n, c]
        logits = feature.matmul(F.normalize(self.fc_bin, dim=1))  # [p, n, classes]
        return logits.permute(1, 2, 0).contiguous()  # [n, classes, p]


@dataclass
class ScoNetOutput:
    embeddings: torch.Tensor  #: [n, 256, 16], what the triplet loss sees
    logits: torch.Tensor  #: [n, 3, 16] cosine similarities, one set per strip


class ScoNet(nn.Module):
    """ScoNet: per-frame ResNet-9, max over time, 16-strip pooling, FCs, BNNeck."""

    def __init__(self) -> None:
        super().__init__()
        self.Backbone = _PerFrame(ResNet9())
        self.FCs = SeparateFCs()
        self.BNNecks = SeparateBNNecks()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """OpenGait's initialisation: xavier for convs and FCs, BN weight ~ N(1, 0.02)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.zeros_(module.bias)
        nn.init.xavier_uniform_(self.FCs.fc_bin)
        nn.init.xavier_uniform_(self.BNNecks.fc_bin)

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """Model-input frames [f, 64, 44] -> backbone features [f, 512, 16, 11]."""
        return self.Backbone(frames.unsqueeze(1))

    def head(self, pooled: torch.Tensor) -> ScoNetOutput:
        """Time-pooled features [n, 512, 16, 11] -> embeddings and logits."""
        strips = pooled.view(*pooled.shape[:2], NUM_STRIPS, -1)  # [n, 512, 16, 11]
        features = strips.mean(-1) + strips.amax(-1)  # [n, 512, 16]
        embeddings = self.FCs(features)  # [n, 256, 16]
        return ScoNetOutput(embeddings, self.BNNecks(embeddings))

    def forward(self, sils: torch.Tensor, seqL: Sequence[int] | None = None) -> ScoNetOutput:
        """Silhouettes [n, s, 64, 44] -> output for n sequences.

        With `seqL`, n must be 1 and the s frames are several sequences laid end to
        end with these lengths (OpenGait's way of batching uneven sequences).
        """
        n, s = sils.shape[:2]
        features = self.frame_features(sils.reshape(n * s, *sils.shape[2:]))  # [n*s, 512, 16, 11]
        if seqL is None:
            pooled = features.view(n, s, *features.shape[1:]).amax(1)  # [n, 512, 16, 11]
        else:
            if n != 1 or sum(seqL) != s:
                raise ValueError(f"seqL {list(seqL)} must sum to the {s} frames of one batch row")
            pooled = pool_windows(
                features, [(start, start + length) for start, length in _spans(seqL)]
            )
        return self.head(pooled)


def inference_backbone(model: ScoNet) -> nn.Module:
    """A copy of the backbone for inference, each BatchNorm folded into the conv before it.

    Same outputs (to float rounding: 3e-8 in fp32, 2e-4 in bf16 probabilities on
    the demo checkpoint), one pass over memory fewer per layer.  A copy, so the
    model itself keeps OpenGait's state-dict keys.  Input [f, 1, 64, 44].
    """
    net = copy.deepcopy(model.Backbone.forward_block).eval()
    net.conv1.conv = fuse_conv_bn_eval(net.conv1.conv, net.bn1)
    net.bn1 = nn.Identity()
    for name in ("layer1", "layer2", "layer3", "layer4"):
        for block in getattr(net, name):
            block.conv1 = fuse_conv_bn_eval(block.conv1, block.bn1)
            block.conv2 = fuse_conv_bn_eval(block.conv2, block.bn2)
            block.bn1, block.bn2 = nn.Identity(), nn.Identity()
            if block.downsample is not None:
                conv, norm = block.downsample
                block.downsample = fuse_conv_bn_eval(conv, norm)
    return net


def _spans(lengths: Sequence[int]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for length in lengths:
        spans.append((start, int(length)))
        start += int(length)
    return spans


def pool_windows(features: torch.Tensor, windows: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Max over time of frame features [f, 512, 16, 11] for each [start, stop) window."""
    if not windows:
        raise ValueError("at least one window is needed")
    return torch.stack([features[start:stop].amax(0) for start, stop in windows])


def class_probabilities(logits: torch.Tensor, scale: float = LOGIT_SCALE) -> torch.Tensor:
    """Logits [n, 3, 16] -> probabilities [n, 3]: softmax of the scaled strip-mean cosines.

    This is the model's own training scale; it is not a calibrated probability
    (model/calibration.py maps it to one).
    """
    return torch.softmax(scale * logits.float().mean(-1), dim=-1)


def class_log_probabilities(logits: torch.Tensor, scale: float = LOGIT_SCALE) -> torch.Tensor:
    """The log of `class_probabilities`, computed stably: what a calibration maps."""
    return torch.log_softmax(scale * logits.float().mean(-1), dim=-1)


def count_trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
