"""The two ScoNet training losses, computed on every horizontal strip.

- Cross-entropy on the scaled cosine logits with label smoothing (ScoNet and
  ScoNet-MT): each of the 16 strips is a classifier of its own.
- Batch-all triplet loss on the embeddings (ScoNet-MT only): labels are
  subject ids, not classes; per strip the mean over the non-zero terms, then
  the mean over strips (OpenGait's reduction).
Both work in float32 whatever precision the forward pass used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..model.sconet import LOGIT_SCALE


def strip_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    scale: float = LOGIT_SCALE,
    label_smoothing: float = 0.1,
) -> torch.Tensor:
    """Mean cross-entropy over sequences and strips: logits [n, classes, p], labels [n]."""
    n, _, strips = logits.shape
    targets = labels.view(n, 1).expand(n, strips)  # [n, p]
    return F.cross_entropy(scale * logits.float(), targets, label_smoothing=label_smoothing)


def strip_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of (sequence, strip) pairs whose strip predicts the right class."""
    return (logits.argmax(1) == labels.view(-1, 1)).float().mean().item()  # [n, p] -> scalar


def pairwise_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """Euclidean distances per strip: [p, n, c] -> [p, n, n], with safe gradients at zero."""
    squared = embeddings.pow(2).sum(-1)  # [p, n]
    inner = embeddings.matmul(embeddings.transpose(1, 2))  # [p, n, n]
    distances2 = (squared.unsqueeze(2) + squared.unsqueeze(1) - 2 * inner).clamp_min(0)
    # The self-distance is exactly 0; sqrt's gradient there is infinite, so keep it out of sqrt.
    self_pair = torch.eye(embeddings.shape[1], dtype=torch.bool, device=embeddings.device)
    distances = torch.where(self_pair, 1.0, distances2).clamp_min(1e-12).sqrt()
    return torch.where(self_pair, 0.0, distances)


def batch_all_triplet_loss(
    embeddings: torch.Tensor, subjects: torch.Tensor, margin: float = 0.2
) -> tuple[torch.Tensor, float]:
    """Batch-all triplet loss over strips: embeddings [n, c, p], subject ids [n].

    Every (anchor, positive, negative) triple with positive of the anchor's
    subject (the anchor itself included, as OpenGait does) and negative of
    another subject.  Returns the loss and the share of triples still violating
    the margin (a training-progress signal).
    """
    features = embeddings.float().permute(2, 0, 1)  # [p, n, c]
    distances = pairwise_distances(features)  # [p, n, n]
    same = subjects.view(-1, 1) == subjects.view(1, -1)  # [n, n]
    valid = same.unsqueeze(2) & ~same.unsqueeze(1)  # [anchor, positive, negative]
    terms = F.relu(distances.unsqueeze(3) - distances.unsqueeze(2) + margin)  # [p, a, pos, neg]
    terms = terms * valid  # [p, a, pos, neg]
    active = (terms > 0).sum((1, 2, 3)).float()  # [p]
    per_strip = terms.sum((1, 2, 3)) / active.clamp_min(1)  # [p]: 0 where nothing is active
    total = valid.sum().item() * features.shape[0]
    return per_strip.mean(), (active.sum().item() / total if total else 0.0)
