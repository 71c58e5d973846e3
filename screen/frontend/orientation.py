"""Which way up a video is: the clockwise turn that makes the people in it stand upright.

Phones often store a portrait recording as landscape without a rotation tag (or
with a wrong one), so walkers lie on their side and no person is found.  Two
cues, both from a few frames spread over the video:

1. Shape: walkers are taller than wide.  Moving regions (frame minus the
   per-pixel median of the samples) that are mostly wider than tall mean the
   picture lies sideways.  This tells the axis (0/180 against 90/270), never
   which way round, and it needs no weights.
2. A person segmenter on square crops around those regions, turned each
   candidate way: trained on upright people, it is surest of itself (mean
   probability of its confident pixels) when the crop is upright.  This tells
   the direction within the axis.

A turn is made only when the shape is clear, the segmenter agrees with a
margin over the other candidates and in most crops; otherwise the orientation
stays as the tag says, since a wrong turn feeds upside-down silhouettes to the
classifier, which is worse than finding nobody.  Measured on 2 busy cores with
PP-HumanSegV1-Lite: about 0.3-0.6 s per video (sampling included).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .background import shrink, working_size
from .segment import HumanSegmenter, Segmenter
from .segment import person_probability as output_probability

log = logging.getLogger(__name__)

#: images (square BGR uint8) in, [h, w] person probabilities in 0..1 out, one per image
PersonProbability = Callable[[Sequence[np.ndarray]], Sequence[np.ndarray]]

ORIENTATION_SAMPLES = 9  #: frames sampled over the video (odd: an exact median)
_TURN_CODES = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}
_PAD_VALUE = 127  # grey, as the segmenter pads crops


@dataclass(frozen=True)
class OrientationSettings:
    """Thresholds, chosen on rotated copies of PETS 2009 and the phantom examples (see tests)."""

    work_side: int = 320  #: longer side of the frames the motion is found on
    difference: int = 30  #: a pixel this far (0..255, any channel) from the median is moving
    min_area: float = 0.001  #: smallest moving region, as a share of the frame
    min_blobs: int = 3  #: fewer moving regions than this: no shape cue
    upright_share: float = 0.75  #: area share of tall regions above which people stand
    sideways_share: float = 0.25  #: ... below which they lie sideways
    crops: int = 8  #: crops the segmenter sees per candidate turn (2 largest per frame)
    crop_size: int = 192  #: the segmenter's input side (PP-HumanSeg: 192)
    crop_grow: float = 1.25  #: crop side over the region's longer side
    # The measured lead of the right turn over the runner-up was 0.025-0.17 (12 videos x 4 turns);
    # over the wrong ones it never exceeded 0.
    margin: float = 0.015  #: least lead in mean confidence over every other candidate
    margin_180: float = 0.025  #: the same for upside down (an upright video must never turn)
    votes: float = 2 / 3  #: least share of crops in which the chosen turn leads
    # Upright people scored 0.90-0.95, turned ones 0.73-0.89: a segmenter less sure than this
    # of its best turn is not seeing people (random or unsuitable weights) and is not trusted.
    min_confidence: float = 0.85


@dataclass(frozen=True)
class Blob:
    """A moving region in one sample frame."""

    frame: int  #: index into the samples
    box: np.ndarray  #: xyxy in sample-frame pixels
    area: int  #: pixels at working resolution

    @property
    def tall(self) -> bool:
        x1, y1, x2, y2 = self.box
        return y2 - y1 > x2 - x1


@dataclass(frozen=True)
class OrientationDecision:
    """The clockwise turn to apply on top of the frames as given, and why."""

    rotation: int  #: 0, 90, 180 or 270 clockwise degrees; 0 keeps the frames as they are
    reason: str  #: one line for a person
    cue: str  #: 'segmenter' (shape and segmenter), 'shape' (shape only) or 'none'
    upright_share: float | None = None  #: area share of moving regions taller than wide
    scores: dict[int, float] = field(default_factory=dict)  #: segmenter confidence per turn
    margin: float = 0.0  #: the chosen turn's least lead over the other candidates
    seconds: float = 0.0
    sideways: bool = False  #: the moving shapes lie sideways in the frames as given

    @property
    def left_sideways(self) -> bool:
        """People seem to lie sideways, but the frames were not turned (direction unclear)."""
        return self.sideways and not self.rotation

    def to_dict(self) -> dict[str, Any]:
        return {
            "rotation": self.rotation,
            "reason": self.reason,
            "cue": self.cue,
            "upright_share": None if self.upright_share is None else round(self.upright_share, 3),
            "scores": {str(k): round(v, 4) for k, v in self.scores.items()},
            "margin": round(self.margin, 4),
            "seconds": round(self.seconds, 3),
            "sideways": self.sideways,
        }


def turn(image: np.ndarray, rotation: int) -> np.ndarray:
    """`image` turned `rotation` degrees clockwise."""
    return cv2.rotate(image, _TURN_CODES[rotation]) if rotation % 360 else image


def motion_blobs(
    samples: Sequence[np.ndarray], settings: OrientationSettings | None = None
) -> list[Blob]:
    """Moving regions in each sample: where it differs from the per-pixel median of all."""
    settings = settings or OrientationSettings()
    scale, size = working_size(samples[0].shape, settings.work_side)
    small = [shrink(image, size) for image in samples]
    median = np.median(np.stack(small), axis=0).astype(np.int16)
    opening = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    closing = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))  # joins a body split in parts
    least = settings.min_area * size[0] * size[1]
    blobs = []
    for index, image in enumerate(small):
        moving = np.abs(image.astype(np.int16) - median).max(axis=2) > settings.difference
        mask = cv2.morphologyEx(moving.astype(np.uint8) * 255, cv2.MORPH_OPEN, opening)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, closing)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for x, y, w, h, area in stats[1:count]:
            if area >= least:
                box = np.array([x, y, x + w, y + h], np.float64) / scale
                blobs.append(Blob(index, box, int(area)))
    return blobs


def upright_share(blobs: Sequence[Blob]) -> float:
    """Share of the moving area in regions taller than wide (large regions count most)."""
    total = sum(blob.area for blob in blobs)
    return sum(blob.area for blob in blobs if blob.tall) / total if total else 0.0


def _square_crop(image: np.ndarray, box: np.ndarray, grow: float, side: int) -> np.ndarray:
    """A square around `box` (grey beyond the frame), `side` pixels: the same under any turn."""
    x1, y1, x2, y2 = box
    length = int(max(x2 - x1, y2 - y1) * grow) + 2
    left, top = int((x1 + x2 - length) / 2), int((y1 + y2 - length) / 2)
    padded = cv2.copyMakeBorder(
        image, length, length, length, length, cv2.BORDER_CONSTANT, value=(_PAD_VALUE,) * 3
    )
    square = padded[top + length : top + 2 * length, left + length : left + 2 * length]
    return cv2.resize(square, (side, side), interpolation=cv2.INTER_AREA)


def _largest_per_frame(blobs: Sequence[Blob], count: int, per_frame: int = 2) -> list[Blob]:
    """The largest regions, at most `per_frame` from one frame, so that frames vary."""
    chosen: list[Blob] = []
    taken: dict[int, int] = {}
    for blob in sorted(blobs, key=lambda b: -b.area):
        if taken.get(blob.frame, 0) < per_frame:
            taken[blob.frame] = taken.get(blob.frame, 0) + 1
            chosen.append(blob)
            if len(chosen) == count:
                break
    return chosen


def _confidence(probability: np.ndarray) -> float:
    """Mean probability of the confident person pixels (0.5 where there are none)."""
    sure = probability[probability >= 0.5]
    return float(sure.mean()) if sure.size else 0.5


def segmenter_scores(
    samples: Sequence[np.ndarray],
    blobs: Sequence[Blob],
    person_probability: PersonProbability,
    rotations: Sequence[int],
    settings: OrientationSettings | None = None,
) -> np.ndarray:
    """[crops, rotations] segmenter confidence on crops around the largest moving regions."""
    settings = settings or OrientationSettings()
    crops = [
        _square_crop(samples[blob.frame], blob.box, settings.crop_grow, settings.crop_size)
        for blob in _largest_per_frame(blobs, settings.crops)
    ]
    images = [turn(crop, rotation) for crop in crops for rotation in rotations]
    probabilities = person_probability(images) if images else []
    scores = [_confidence(np.asarray(p)) for p in probabilities]
    return np.array(scores, np.float64).reshape(len(crops), len(rotations))


def decide_rotation(
    samples: Sequence[np.ndarray],
    person_probability: PersonProbability | None = None,
    settings: OrientationSettings | None = None,
) -> OrientationDecision:
    """The clockwise turn that makes the people in `samples` upright, or 0 when unsure.

    `samples`: a few frames spread over the video, as they would be analysed.
    `person_probability`: a person segmenter (see `segmenter_person_probability`);
    without one only the shape cue is used, which cannot tell 90 from 270, so a
    sideways video is then kept as it is and the reason says so.
    """
    started = time.perf_counter()
    settings = settings or OrientationSettings()

    def decided(rotation: int, reason: str, cue: str, **found: Any) -> OrientationDecision:
        seconds = time.perf_counter() - started
        return OrientationDecision(rotation, reason, cue, seconds=seconds, **found)

    if len(samples) < 3:
        return decided(0, "too few frames to judge the orientation: kept as stored", "none")
    blobs = motion_blobs(samples, settings)
    if len(blobs) < settings.min_blobs:
        return decided(0, "no moving people seen to judge the orientation: kept", "none")
    share = upright_share(blobs)
    if settings.sideways_share < share < settings.upright_share:
        reason = f"moving shapes neither clearly upright nor sideways ({share:.0%} tall): kept"
        return decided(0, reason, "none", upright_share=share)
    sideways = share <= settings.sideways_share
    shape = {"upright_share": share, "sideways": sideways}
    if person_probability is None:
        if not sideways:
            return decided(0, f"moving shapes stand upright ({share:.0%} tall)", "shape", **shape)
        reason = (
            f"people seem to lie sideways ({1 - share:.0%} of the moving area is wider than "
            "tall), but without a person segmenter 90 and 270 cannot be told apart: kept as "
            "stored; pass --rotate 90 or --rotate 270"
        )
        return decided(0, reason, "shape", **shape)

    candidates = (90, 270) if sideways else (180,)
    rotations = (0, *candidates)
    table = segmenter_scores(samples, blobs, person_probability, rotations, settings)
    scores = {r: float(table[:, i].mean()) for i, r in enumerate(rotations)}
    best = max(candidates, key=scores.__getitem__) if sideways else 180
    others = [i for i, r in enumerate(rotations) if r != best]
    column = rotations.index(best)
    lead = min(scores[best] - scores[rotations[i]] for i in others) if len(table) else 0.0
    votes = (
        float(np.mean(np.all(table[:, [column]] > table[:, others], axis=1))) if len(table) else 0.0
    )
    found = {**shape, "scores": scores}
    needed = settings.margin if sideways else settings.margin_180
    if lead >= needed and votes >= settings.votes and scores[best] >= settings.min_confidence:
        where = "lie sideways" if sideways else "stand upside down"
        reason = f"people {where} in the file: turned {best} degrees clockwise"
        return decided(best, reason, "segmenter", margin=lead, **found)
    if sideways:
        reason = (
            f"people seem to lie sideways ({1 - share:.0%} of the moving area is wider than "
            "tall), but the segmenter is not clear which way up: kept as stored; pass "
            "--rotate 90 or --rotate 270"
        )
        return decided(0, reason, "segmenter", margin=lead, **found)
    return decided(0, f"people stand upright ({share:.0%} of the moving area is tall)",
                   "segmenter", margin=-lead, **found)  # fmt: skip


def log_decision(decision: OrientationDecision, video: object) -> None:
    """Say on stderr what was done: a turn (info), or people left lying sideways (warning)."""
    if decision.rotation:
        log.info("%s: %s (override with --rotate)", video, decision.reason)
    elif decision.left_sideways:
        log.warning("%s: %s", video, decision.reason)


def segmenter_person_probability(segmenter: Segmenter) -> PersonProbability | None:
    """A whole-image person probability from a `HumanSegmenter`, or None for others.

    The segmenter's predictor is reused (no second model load); images must be
    square at the model's input size, which `decide_rotation` makes them.
    """
    if not isinstance(segmenter, HumanSegmenter):
        return None
    config = segmenter.config
    channel = segmenter.person_channel

    def probabilities(images: Sequence[np.ndarray]) -> list[np.ndarray]:
        if not images:
            return []
        # One image per call: the predictor was run on that shape when it was built, and each
        # new batch shape costs Paddle a one-off 2-4 s (measured: batch 20 -> 2.8 s first call).
        outputs = []
        for image in images:
            rgb = cv2.cvtColor(cv2.resize(image, config["size"]), cv2.COLOR_BGR2RGB)
            normalised = (rgb.astype(np.float32) / 255.0 - config["mean"]) / config["std"]
            batch = np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])
            outputs.append(output_probability(segmenter.infer(batch), channel))
        return outputs

    return probabilities
