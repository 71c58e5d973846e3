"""A walker who comes back: passes of one student separated by a long absence.

Students walk past the camera, leave the picture and come back, at the other side or at
another distance.  The tracker gives each pass its own id and the absence is too long
for the occlusion stitching (`participant._continues`), so without this only the
longest pass would count.  A pass is joined to the participant when it looks like the
same walker by its boxes alone (no images are kept in the first pass):

- it walks (the same movement test as the participant);
- it never shares time with the participant's passes: two people in view at once are
  two walkers, never one;
- its body height fits the participant's at the same place in the picture: at the
  same feet height directly, else through the floor's perspective (box height grows
  linearly with how far below the horizon the feet are);
- no other walker is in view during it (then which one came back is a guess).

A different student of the same height walking the same line later looks the same by
these tests: the coverage's `passes` count says how many passes were joined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Boxes = dict[int, np.ndarray]


@dataclass(frozen=True)
class ReturnSettings:
    size_ratio: float = 1.25  #: body heights within this ratio (either way) are "the same"
    same_place: float = 0.1  #: feet within this many body heights: the same distance
    depth_spread: float = 0.3  #: feet spread (body heights) that lets a pass fit a floor line
    ratio_range: tuple[float, float] = (0.8, 2.5)  #: plausible body height / camera height
    min_boxes: int = 5  #: whole-body boxes a size comparison needs on each side


def _whole(boxes: Boxes, size: tuple[int, int] | None) -> np.ndarray:
    """[n, 2] feet y and height of the boxes the frame edge does not cut."""
    xyxy = np.array([boxes[i] for i in sorted(boxes)], np.float64).reshape(-1, 4)
    if size is not None:
        width, height = size
        inside = (
            (xyxy[:, 0] > 1)
            & (xyxy[:, 1] > 1)
            & (xyxy[:, 2] < width - 1)
            & (xyxy[:, 3] < height - 1)
        )
        xyxy = xyxy[inside]
    return np.column_stack([xyxy[:, 3], np.maximum(xyxy[:, 3] - xyxy[:, 1], 1.0)])


def same_size(
    known: Boxes, candidate: Boxes, size: tuple[int, int] | None, settings: ReturnSettings
) -> bool:
    """Whether `candidate`'s body height fits `known`'s, allowing for its place on the floor."""
    a, b = _whole(known, size), _whole(candidate, size)
    if min(len(a), len(b)) < settings.min_boxes:
        return False  # cut by the frame edge nearly throughout: no height to compare
    height = float(np.median(a[:, 1]))
    low, high = np.percentile(a[:, 0], [5, 95])
    if high - low >= settings.depth_spread * height:  # the known passes span distances
        slope, offset = np.polyfit(a[:, 0], a[:, 1], 1)
        expected = np.maximum(slope * b[:, 0] + offset, 1.0)
        ratio = float(np.median(b[:, 1] / expected))
    else:
        feet_a, feet_b = float(np.median(a[:, 0])), float(np.median(b[:, 0]))
        height_b = float(np.median(b[:, 1]))
        if abs(feet_a - feet_b) <= settings.same_place * height:
            ratio = height_b / height
        else:  # another distance: one floor line through both, and a plausible horizon
            slope = (height - height_b) / (feet_a - feet_b)  # body height / camera height
            lowest, highest = settings.ratio_range
            return bool(lowest <= slope <= highest)
    return 1 / settings.size_ratio <= ratio <= settings.size_ratio


def apart(spans: list[tuple[int, int]], first: int, last: int) -> bool:
    """Whether [first, last] shares no frame with any of the spans."""
    return all(last < start or first > stop for start, stop in spans)
