"""A walker who leaves the view and comes back: two passes with an absence between them.

Real recordings often hold more than one pass of the same student (walk past,
leave the picture, come back).  Each pass starts or ends out of the picture, so
the front end sees the walker vanish and reappear, possibly at the other side or
at another distance; the ground truth still says which frames show the walker.

- front view: towards the camera, past it (out at one side of the picture), and
  after the absence back in from the other side, walking away to the far end;
- side view: across the picture, out at the edge, and back across, 0.6 m further away.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScreenError
from .camera import Stage
from .motion import RAMP_S, TURN_STRIDE, Route, _ramped_distance
from .params import Gait

MAX_PASSES = 2
ABSENCE_S = 4.0  #: seconds out of the picture between passes (longer than a tracker's patience)
PASS_VIEWS = ("front", "side")
OUT_MARGIN_M = 0.7  #: how far past the picture's edge a pass starts or ends
SECOND_PASS_FURTHER_M = 0.6  #: the side view's way back is this much further from the camera


def _half_width(stage: Stage, depth: float) -> float:
    """Half the picture's width in metres at `depth` along the optical axis."""
    return depth * stage.camera.width / 2 / stage.camera.focal_px


def pass_legs(stage: Stage, turn_sign: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two passes' (start, end) floor points for the stage's view."""
    if stage.view not in PASS_VIEWS:
        raise ScreenError(f"--passes 2 needs the {' or '.join(PASS_VIEWS)} view")
    start, end = np.asarray(stage.start, float), np.asarray(stage.end, float)
    if stage.view == "front":  # far -> out beside the camera; back in at the other side -> far
        near = 0.75 * end[1]
        beside = _half_width(stage, near) + OUT_MARGIN_M
        out = np.array([turn_sign * beside, near])
        back_in = np.array([-turn_sign * beside, near])
        return [(start, out), (back_in, start)]
    depth = start[1]
    first = _half_width(stage, depth) + OUT_MARGIN_M
    second = _half_width(stage, depth + SECOND_PASS_FURTHER_M) + OUT_MARGIN_M
    further = depth + SECOND_PASS_FURTHER_M
    return [
        (np.array([-first, depth]), np.array([first, depth])),
        (np.array([second, further]), np.array([-second, further])),
    ]


def passes_route(
    legs: list[tuple[np.ndarray, np.ndarray]], gait: Gait, times: np.ndarray
) -> tuple[Route, np.ndarray]:
    """Walk each leg from rest to rest, with `ABSENCE_S` between legs; where the walker is
    and whether it is on stage ([T] bool) at each time.  Between legs it is off stage
    (never drawn); after the last it stands at its end."""
    t = np.asarray(times, float)
    count = len(t)
    position = np.zeros((count, 2))
    heading = np.zeros(count)
    stride = np.zeros(count)  # standing still between and after the passes
    present = np.zeros(count, bool)
    begin = 0.0
    for number, (a, b) in enumerate(legs, 1):
        length = float(np.linalg.norm(b - a))
        direction = (b - a) / length
        walk_s = length / gait.speed_mps + RAMP_S
        tau = t - begin
        on = (tau >= 0) & (tau <= walk_s)
        after = tau > walk_s
        distance = _ramped_distance(np.clip(tau, 0.0, walk_s), length, gait.speed_mps)
        here = a + distance[:, None] * direction
        position[on | after] = here[on | after]
        heading[on | after] = float(np.arctan2(direction[0], direction[1]))
        speed_share = np.minimum(tau, walk_s - tau) / RAMP_S
        stride[on] = np.clip(speed_share[on], TURN_STRIDE, 1.0)
        present |= on | (after if number == len(legs) else False)  # stays at the last end
        begin += walk_s + ABSENCE_S
    phase = gait.phase0 + t * gait.cadence_spm / 120.0
    return Route(position, heading, stride, phase), present
