"""A 3D articulated body posed per frame: ellipsoids and tapered capsules in world space.

Proportions are fractions of standing height (after Drillis & Contini / Winter's
anthropometric tables); build widens the trunk and limbs, loose clothing widens the
clothed segments.  The body frame has x to the walker's right, y up, z forward; the
world has X to the camera's right, Y up and Z away from the camera, so a walker
facing +Z (heading 0) has its right at +X.  Rotations, vectorised over T frames:
- about z by +a raises the right side and tilts the top to the left;
- about x by -a swings a hanging limb forward (flexion) and lifts the toes;
- about y by +a turns the right side backwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .motion import GaitAngles, Route
from .params import WalkerParams

Part = str  #: colour key: "skin", "hair", "shirt", "trousers", "shoes"


@dataclass(frozen=True)
class Capsule:
    """The convex hull of two spheres: a limb segment."""

    name: str
    part: Part
    a: np.ndarray  #: [T, 3] centre of the first sphere
    b: np.ndarray  #: [T, 3] centre of the second sphere
    radius_a: float
    radius_b: float


@dataclass(frozen=True)
class Ellipsoid:
    """centre + axes @ s for unit vectors s: the head, trunk and pelvis."""

    name: str
    part: Part
    centre: np.ndarray  #: [T, 3]
    axes: np.ndarray  #: [T, 3, 3] columns are the semi-axes as vectors


Shape = Capsule | Ellipsoid


def _rotation(axis: int, degrees: np.ndarray | float, frames: int) -> np.ndarray:
    """[T, 3, 3] rotations about one body axis (0 = x, 1 = y, 2 = z)."""
    angle = np.radians(np.broadcast_to(np.asarray(degrees, float), (frames,)))
    c, s = np.cos(angle), np.sin(angle)
    r = np.zeros((frames, 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r[:, axis, axis] = 1.0
    r[:, i, i], r[:, i, j], r[:, j, i], r[:, j, j] = c, -s, s, c
    return r


def _apply(rotation: np.ndarray, vector) -> np.ndarray:
    """Rotate a fixed [3] or per-frame [T, 3] vector by [T, 3, 3] rotations."""
    vector = np.broadcast_to(np.asarray(vector, float), rotation.shape[:2])
    return np.einsum("tij,tj->ti", rotation, vector)


def _ellipsoid(name, part, centre, rotation, radii) -> Ellipsoid:
    return Ellipsoid(name, part, centre, rotation * np.asarray(radii, float)[None, None, :])


def pose_body(params: WalkerParams, route: Route, angles: GaitAngles) -> list[Shape]:
    """Every segment of the body for every frame of the route, in world coordinates."""
    body, posture, look = params.body, params.posture, params.appearance
    h = body.height_m
    n = len(route.phase)
    girth = body.build * body.looseness  # clothed segments
    limb_girth = body.build * (body.looseness if look.long_sleeves else 1.0)
    shank_girth = body.build * (1.0 if look.shorts else body.looseness)

    def rot(axis, degrees):
        return _rotation(axis, degrees, n)

    # Pelvis: origin halfway between the hip joints; sways, rotates and tilts.
    pelvis_rot = rot(1, angles.pelvis_yaw) @ rot(
        2, angles.pelvis_roll + posture.pelvic_obliquity_deg
    )
    origin = np.zeros((n, 3))
    origin[:, 0] = angles.sway
    shapes: list[Shape] = [
        _ellipsoid(
            "pelvis",
            "trousers",
            origin + _apply(pelvis_rot, (0, 0.02 * h, -0.004 * h)),
            pelvis_rot,
            (0.092 * h * body.hip_width * girth, 0.062 * h, 0.066 * h * girth),
        )
    ]

    # Legs hang from the hip joints and bend at hip, knee and ankle.
    feet_bottom = []
    leg_yaw = rot(1, angles.pelvis_yaw)
    for index, (side, sign) in enumerate((("left", -1.0), ("right", 1.0))):
        hip = origin + _apply(pelvis_rot, (sign * 0.052 * h * body.hip_width, 0, 0))
        thigh_rot = leg_yaw @ rot(0, -angles.hip_flex[index])
        knee = hip + _apply(thigh_rot, (0, -0.245 * h, 0))
        shank_rot = thigh_rot @ rot(0, angles.knee_flex[index])
        ankle = knee + _apply(shank_rot, (0, -0.246 * h, 0))
        foot_rot = shank_rot @ rot(0, -angles.ankle_dorsi[index])
        heel = ankle + _apply(foot_rot, (0, -0.021 * h, -0.035 * h))
        toe = ankle + _apply(foot_rot, (0, -0.027 * h, 0.105 * h))
        heel_r, toe_r = 0.019 * h, 0.013 * h
        feet_bottom += [heel[:, 1] - heel_r, toe[:, 1] - toe_r]
        shapes += [
            Capsule(f"{side}_thigh", "trousers", hip, knee, 0.05 * h * girth, 0.035 * h * girth),
            Capsule(
                f"{side}_shank",
                "skin" if look.shorts else "trousers",
                knee,
                ankle,
                0.034 * h * shank_girth,
                0.022 * h * shank_girth,
            ),
            Capsule(f"{side}_foot", "shoes", heel, toe, heel_r, toe_r),
        ]

    # Trunk: leans and shifts sideways above the lumbosacral joint, thorax rotates.
    trunk_rot = rot(1, 0.3 * angles.pelvis_yaw) @ rot(2, -posture.trunk_lean_deg)
    lumbar = origin + _apply(pelvis_rot, (0, 0.07 * h, 0))
    shift = posture.trunk_shift_cm / 100.0
    waist = posture.waist_asymmetry_cm / 100.0
    thorax_rot = trunk_rot @ rot(1, posture.thoracic_rotation_deg - 0.6 * angles.pelvis_yaw)
    thorax = lumbar + _apply(trunk_rot, (shift, 0.13 * h, 0))
    shoulder_width = 0.098 * h * body.shoulder_width
    rise = posture.shoulder_height_cm / 200.0  # right up by half, left down by half
    shapes += [
        _ellipsoid(
            "abdomen",
            "shirt",
            lumbar + _apply(trunk_rot, (shift / 2 + waist, 0.05 * h, 0)),
            trunk_rot,
            (0.075 * h * girth, 0.062 * h, 0.058 * h * girth),
        ),
        _ellipsoid(
            "thorax",
            "shirt",
            thorax,
            thorax_rot,
            (0.088 * h * body.shoulder_width * girth, 0.094 * h, 0.066 * h * girth),
        ),
    ]
    shoulders = {
        "left": thorax + _apply(thorax_rot, (-shoulder_width, 0.058 * h - rise, 0)),
        "right": thorax + _apply(thorax_rot, (shoulder_width, 0.058 * h + rise, 0)),
    }
    # The shoulder line slopes from the base of the neck to each shoulder joint.
    yoke = thorax + _apply(thorax_rot, (0, 0.085 * h, -0.008 * h))
    shapes += [
        Capsule(f"{side}_shoulder", "shirt", yoke, joint, 0.032 * h * girth, 0.03 * h * girth)
        for side, joint in shoulders.items()
    ]

    # Neck and head: the head faces the walking direction and tilts with the trunk.
    head_rot = rot(2, -(posture.trunk_lean_deg + posture.head_tilt_deg))
    neck_base = thorax + _apply(thorax_rot, (0, 0.095 * h, -0.005 * h))
    neck_top = neck_base + _apply(head_rot, (0, 0.05 * h, 0.008 * h))
    head = neck_top + _apply(head_rot, (0, 0.06 * h, 0.012 * h))
    neck_r = 0.026 * h * np.sqrt(body.build)
    shapes += [
        Capsule("neck", "skin", neck_base, neck_top, neck_r, neck_r),
        _ellipsoid("head", "hair", head, head_rot, (0.056 * h, 0.068 * h, 0.064 * h)),
        _ellipsoid(
            "face",
            "skin",
            head + _apply(head_rot, (0, -0.012 * h, 0.014 * h)),
            head_rot,
            (0.049 * h, 0.056 * h, 0.052 * h),
        ),
    ]

    # Arms hang from the shoulders, held out just enough to clear the trunk.
    upper, fore = 0.186 * h, 0.146 * h
    clearance = (0.078 * girth + 0.012 * girth) * h - shoulder_width
    abduction = np.degrees(np.arcsin(np.clip(clearance / upper, 0.0, 0.9))) + 3.0
    for index, (side, sign) in enumerate((("left", -1.0), ("right", 1.0))):
        arm_rot = thorax_rot @ rot(2, sign * abduction) @ rot(0, -angles.shoulder_flex[index])
        elbow = shoulders[side] + _apply(arm_rot, (0, -upper, 0))
        forearm_rot = arm_rot @ rot(0, -angles.elbow_flex[index])
        wrist = elbow + _apply(forearm_rot, (0, -fore, 0))
        fingers = wrist + _apply(forearm_rot, (0, -0.085 * h, 0.01 * h))
        shapes += [
            Capsule(
                f"{side}_upper_arm",
                "shirt",
                shoulders[side],
                elbow,
                0.03 * h * girth,
                0.024 * h * girth,
            ),
            Capsule(
                f"{side}_forearm",
                "shirt" if look.long_sleeves else "skin",
                elbow,
                wrist,
                0.023 * h * limb_girth,
                0.018 * h * limb_girth,
            ),
            Capsule(f"{side}_hand", "skin", wrist, fingers, 0.017 * h, 0.012 * h),
        ]

    # Place the body: the lowest point of either foot touches the floor.
    ground = -np.min(np.stack(feet_bottom), axis=0)  # [T] height of the pelvis origin
    root = np.stack([route.position[:, 0], ground, route.position[:, 1]], axis=1)
    heading = rot(1, np.degrees(route.heading))
    return [_to_world(shape, heading, root) for shape in shapes]


def _to_world(shape: Shape, heading: np.ndarray, root: np.ndarray) -> Shape:
    if isinstance(shape, Capsule):
        return Capsule(
            shape.name,
            shape.part,
            root + _apply(heading, shape.a),
            root + _apply(heading, shape.b),
            shape.radius_a,
            shape.radius_b,
        )
    return Ellipsoid(
        shape.name, shape.part, root + _apply(heading, shape.centre), heading @ shape.axes
    )


def leg_length(params: WalkerParams) -> float:
    """Hip joint to floor, standing: thigh + shank + ankle height."""
    return (0.245 + 0.246 + 0.039) * params.body.height_m
