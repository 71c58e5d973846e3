"""How well ANY model could do on phantom labels: a classifier given each walker's exact posture.

The label comes from a severity band and the posture values add natural asymmetries
on top, so the classes overlap near 10 and 20 degrees.  A logistic regression on the
true posture numbers (mirrored so the curve's side does not matter) measures that
overlap; a silhouette model sees less than this, so its accuracy stays below.
"""

from __future__ import annotations

import numpy as np

from ..model.classes import LABELS
from .params import POSTURE_MODEL, sample_walker


def _posture_features(label, seed: int) -> np.ndarray:
    posture = sample_walker(label, seed).posture
    values = np.array([getattr(posture, name) for name in POSTURE_MODEL])
    values = np.append(values, np.log(posture.arm_swing_ratio))
    # The side a curve bends to is not the label: mirror by the evidence-weighted sign.
    weights = np.array([gain / spread for gain, spread in POSTURE_MODEL.values()] + [0.0])
    side = np.sign(values @ weights) or 1.0
    return np.concatenate([values * side, np.abs(values)])


def posture_ceiling(walkers: int = 6000, seed: int = 0) -> float:
    """Balanced-class accuracy of a posture-number classifier on `walkers // 2` new walkers."""
    from sklearn.linear_model import LogisticRegression

    def draw(count: int, first_seed: int):
        labels = [LABELS[i % len(LABELS)] for i in range(count)]
        features = [_posture_features(lab, first_seed + i) for i, lab in enumerate(labels)]
        features = np.stack(features)
        return features, np.array([LABELS.index(lab) for lab in labels])

    train_x, train_y = draw(walkers, seed * 10_000_000)
    test_x, test_y = draw(walkers // 2, seed * 10_000_000 + 5_000_000)
    model = LogisticRegression(max_iter=2000, C=10.0).fit(train_x, train_y)
    return float((model.predict(test_x) == test_y).mean())
