"""Where a walker is and how its joints bend at each instant.

`walk_route` moves a walker back and forth between two floor points (accelerating,
walking, slowing, turning on the spot); `gait_angles` gives periodic joint angles
that resemble normal walking (after the shape of clinical gait curves), scaled
down while the walker turns.  Everything is vectorised over frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import Gait, Posture

RAMP_S = 0.5  #: seconds to reach walking speed from a stop, and to stop again
TURN_STRIDE = 0.35  #: gait amplitude while stepping round a turn


@dataclass(frozen=True)
class Route:
    """Floor position, facing direction and gait state of a walker per frame."""

    position: np.ndarray  #: [T, 2] floor x, z in metres
    heading: np.ndarray  #: [T] radians; 0 faces +z (away from a front camera)
    stride: np.ndarray  #: [T] gait amplitude, 1 = full walking
    phase: np.ndarray  #: [T] stride phase in cycles (left heel strike at whole numbers)


def _heading_of(direction: np.ndarray) -> float:
    return float(np.arctan2(direction[0], direction[1]))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _ramped_distance(tau: np.ndarray, length: float, speed: float) -> np.ndarray:
    """Distance covered `tau` seconds into a straight walk that starts and ends at rest."""
    duration = length / speed + RAMP_S
    start = speed * tau**2 / (2 * RAMP_S)
    middle = speed * (tau - RAMP_S / 2)
    end = length - speed * (duration - tau) ** 2 / (2 * RAMP_S)
    return np.where(tau < RAMP_S, start, np.where(tau > duration - RAMP_S, end, middle))


def walk_route(
    start: tuple[float, float],
    end: tuple[float, float],
    gait: Gait,
    times: np.ndarray,
    *,
    back_and_forth: bool = True,
) -> Route:
    """Walk start -> end, turn, end -> start, turn, ... (or once only), sampled at `times`.

    The gait's start offset moves the clock of a back-and-forth walk (times >= 0);
    with back_and_forth=False the walker passes `start` at speed at time 0, carries
    on past `end`, and stands at `start` before time 0.
    """
    a, b = np.asarray(start, float), np.asarray(end, float)
    length = float(np.linalg.norm(b - a))
    speed = gait.speed_mps
    walk_s = length / speed + RAMP_S
    leg_s = walk_s + gait.turn_s  # one straight walk plus the turn at its end
    if not back_and_forth:
        t = np.asarray(times, float)
        direction = (b - a) / length
        distance = np.clip(t, 0.0, None) * speed
        position = a + distance[:, None] * direction
        heading = np.full(len(t), _heading_of(direction))
        stride = np.where(t >= 0, 1.0, 0.0)
        return Route(position, heading, stride, gait.phase0 + t * gait.cadence_spm / 120.0)

    t = np.asarray(times, float) + gait.start_s
    leg = np.floor(t / leg_s).astype(int)
    tau = t - leg * leg_s
    outward = leg % 2 == 0  # start -> end on even legs
    origin = np.where(outward[:, None], a, b)
    direction = np.where(outward[:, None], b - a, a - b) / length
    walking = tau < walk_s

    distance = _ramped_distance(np.minimum(tau, walk_s), length, speed)
    position = origin + distance[:, None] * direction
    base_heading = np.arctan2(direction[:, 0], direction[:, 1])
    turned = _smoothstep((tau - walk_s) / gait.turn_s)
    heading = base_heading + gait.turn_sign * np.pi * np.where(walking, 0.0, turned)
    # A small arc while turning, to the side the walker turns to.
    side = np.stack([direction[:, 1], -direction[:, 0]], axis=1) * gait.turn_sign
    arc = 0.12 * np.sin(np.pi * np.clip((tau - walk_s) / gait.turn_s, 0, 1))
    position = position + np.where(walking, 0.0, arc)[:, None] * side

    # Gait amplitude follows the speed ramps, and stays small while turning.
    speed_share = np.minimum(tau, walk_s - tau) / RAMP_S
    stride = np.where(walking, np.clip(speed_share, TURN_STRIDE, 1.0), TURN_STRIDE)
    phase = gait.phase0 + t * gait.cadence_spm / 120.0
    return Route(position, heading, stride, phase)


def standing_route(
    position: tuple[float, float], heading: float, times: np.ndarray, seed: int
) -> Route:
    """Someone standing still: fixed place and heading, a slow shift of weight."""
    t = np.asarray(times, float)
    rng = np.random.default_rng(seed)
    phase = rng.random() + t * rng.uniform(0.05, 0.1)  # a weight shift every 10-20 s
    return Route(
        position=np.tile(np.asarray(position, float), (len(t), 1)),
        heading=np.full(len(t), float(heading)),
        stride=np.full(len(t), 0.06),
        phase=phase,
    )


def _bump(phase: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A periodic Gaussian bump on the stride cycle."""
    offset = (phase - centre + 0.5) % 1.0 - 0.5
    return np.exp(-0.5 * (offset / width) ** 2)


@dataclass(frozen=True)
class GaitAngles:
    """Joint angles in degrees per frame ([T] each); left/right pairs are (left, right)."""

    hip_flex: tuple[np.ndarray, np.ndarray]
    knee_flex: tuple[np.ndarray, np.ndarray]
    ankle_dorsi: tuple[np.ndarray, np.ndarray]
    shoulder_flex: tuple[np.ndarray, np.ndarray]
    elbow_flex: tuple[np.ndarray, np.ndarray]
    pelvis_yaw: np.ndarray  #: positive brings the left hip forward
    pelvis_roll: np.ndarray  #: positive raises the right hip
    sway: np.ndarray  #: lateral pelvis shift in metres, positive to the right


def _leg(phase: np.ndarray, stride: np.ndarray, hip_amplitude: float):
    """Hip, knee and ankle flexion of one leg (heel strike at phase 0)."""
    hip = 8.0 + hip_amplitude * np.cos(2 * np.pi * (phase + 0.07))
    knee = 14.0 * _bump(phase, 0.14, 0.05) + 56.0 * _bump(phase, 0.72, 0.09)
    ankle = (
        -5.0 * _bump(phase, 0.05, 0.03)
        + 9.0 * _bump(phase, 0.42, 0.1)
        - 17.0 * _bump(phase, 0.63, 0.05)
        + 3.0 * _bump(phase, 0.85, 0.08)
    )
    return 3.0 + stride * (hip - 3.0), 4.0 + stride * knee, stride * ankle


def gait_angles(route: Route, gait: Gait, posture: Posture, leg_length_m: float) -> GaitAngles:
    """Joint angles for each frame of a route; the right side runs half a cycle behind."""
    p, s = route.phase % 1.0, route.stride
    # The hip amplitude that makes the legs' geometry match the step length.
    ratio = np.clip(gait.step_length_m / (2 * leg_length_m * np.cos(np.radians(8))), 0, 0.9)
    hip_amplitude = float(np.degrees(np.arcsin(ratio)))
    left = _leg(p, s, hip_amplitude)
    right = _leg((p + 0.5) % 1.0, s, hip_amplitude)

    # Arms swing against the legs: the left arm goes forward with the right leg.
    swing = np.cos(2 * np.pi * (p + 0.07))
    shoulder_left = -gait.arm_swing_deg * s * swing - 2.0
    shoulder_right = gait.arm_swing_deg * posture.arm_swing_ratio * s * swing - 2.0
    elbow_left = gait.elbow_flex_deg + 0.6 * np.clip(shoulder_left, 0, None)
    elbow_right = gait.elbow_flex_deg + 0.6 * np.clip(shoulder_right, 0, None)

    cycle = np.sin(2 * np.pi * (p + 0.05))
    return GaitAngles(
        hip_flex=(left[0], right[0]),
        knee_flex=(left[1], right[1]),
        ankle_dorsi=(left[2], right[2]),
        shoulder_flex=(shoulder_left, shoulder_right),
        elbow_flex=(elbow_left, elbow_right),
        pelvis_yaw=gait.pelvic_rotation_deg * s * swing,  # the left hip leads the left leg
        pelvis_roll=-gait.pelvic_drop_deg * s * cycle,  # the right side drops in its swing
        sway=-gait.sway_m * np.clip(s * 1.5, 0, 1) * cycle,  # over the left foot in its stance
    )
