"""The camera and the stage: where the walker walks for each view, and a lens that frames it.

World axes: X to the camera's right, Y up, Z away from the camera, metres; the
camera stands at X = Z = 0.  Projection is a pinhole with square pixels and the
principal point at the image centre (phone video after the phone's own lens
correction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ScreenError
from .params import Scene

#: View names as Scoliosis1K spells them: the walker's heading towards / away from the camera.
VIEW_NAMES: dict[str, str] = {"front": "000_180", "side": "090_270", "oblique": "045_225"}
#: The widest lens allowed when framing (focal length / long image side): a phone's 0.5x lens.
WIDEST_LENS = 0.42
#: Margin kept around the walker when framing (fraction of the half image).
FRAME_FILL = 0.94
ROOM_HEIGHT_M = 2.8


def check_view(view: str) -> str:
    if view not in VIEW_NAMES:
        raise ScreenError(f"unknown view {view!r}: use {', '.join(VIEW_NAMES)}")
    return view


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    focal_px: float
    cx: float
    cy: float
    position: tuple[float, float, float]  #: world position
    rotation: np.ndarray  #: [3, 3] world -> camera (OpenCV axes: x right, y down, z forward)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points [..., 3] -> camera coordinates [..., 3] (z = depth)."""
        return (np.asarray(points, float) - np.asarray(self.position)) @ self.rotation.T

    def pixels(self, camera_points: np.ndarray) -> np.ndarray:
        """Camera coordinates [..., 3] (z > 0) -> pixel coordinates [..., 2]."""
        z = camera_points[..., 2:3]
        return self.focal_px * camera_points[..., :2] / z + np.array([self.cx, self.cy])

    def scaled(self, factor: float) -> Camera:
        """The same view at another resolution (e.g. small masks for a dataset)."""
        return Camera(
            round(self.width * factor),
            round(self.height * factor),
            self.focal_px * factor,
            self.cx * factor,
            self.cy * factor,
            self.position,
            self.rotation,
        )

    def to_dict(self) -> dict:
        return {
            "size": [self.width, self.height],
            "focal_px": round(self.focal_px, 3),
            "principal_point": [self.cx, self.cy],
            "position_m": [round(v, 4) for v in self.position],
            "world_to_camera": np.round(self.rotation, 6).tolist(),
        }


@dataclass(frozen=True)
class Stage:
    """The walking line, the room around it and the camera that films it."""

    view: str
    start: tuple[float, float]  #: floor x, z where the walk starts (the far end, front view)
    end: tuple[float, float]  #: the other end of the walking line
    room: tuple[float, float, float, float]  #: floor x0, x1, z0, z1
    camera: Camera


def _walking_line(scene: Scene, view: str) -> tuple[np.ndarray, np.ndarray]:
    """The two floor points the walker goes between, for each view."""
    if view == "front":  # towards and away from the camera, as in Scoliosis1K
        return np.array([scene.lateral_m, scene.far_m]), np.array([scene.lateral_m, scene.near_m])
    depth = (scene.near_m + scene.far_m) / 2 + 0.4
    if view == "side":  # across the image
        return np.array([-1.5, depth]), np.array([1.5, depth])
    diagonal = np.array([np.sin(np.pi / 4), np.cos(np.pi / 4)])  # oblique: 45 degrees
    centre = np.array([scene.lateral_m, depth - 0.3])
    return centre + 1.4 * diagonal, centre - 1.4 * diagonal


def _orientation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """World -> camera rotation for a camera turned right by yaw, up by pitch, rolled."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    forward = np.array([sy * cp, sp, cy * cp])
    right = np.array([cy, 0.0, -sy])
    up = np.array([-sp * sy, cp, -sp * cy])
    right, up = np.cos(roll) * right + np.sin(roll) * up, -np.sin(roll) * right + np.cos(roll) * up
    return np.stack([right, -up, forward])


def make_stage(scene: Scene, view: str, size: tuple[int, int], walker_height_m: float) -> Stage:
    """Place the walking line and the camera, and pick the focal length.

    The focal length is the longest that keeps the walker (with a margin) in frame
    everywhere on the line, but no wider than a phone's ultra-wide lens: where that
    limit bites (landscape at the nearest point) the feet may leave the frame, as
    they do in real recordings.
    """
    check_view(view)
    width, height = size
    start, end = _walking_line(scene, view)
    middle = (start + end) / 2
    rotation = _orientation(
        float(np.arctan2(middle[0], middle[1])),
        np.radians(scene.camera_pitch_deg),
        np.radians(scene.camera_roll_deg),
    )
    position = (0.0, scene.camera_height_m, 0.0)
    unit = Camera(width, height, 1.0, 0.0, 0.0, position, rotation)

    # The walker's bounding volume at points along the line: feet reach further than the head.
    along = np.linspace(0.0, 1.0, 9)[:, None]
    centres = start + along * (end - start)  # [9, 2]
    corners = []
    for dx, dz, y in [
        (sx * 0.4, sz * r, y)
        for y, r in ((0.0, 0.3), (walker_height_m + 0.04, 0.15))
        for sx in (-1, 1)
        for sz in (-1, 1)
    ]:
        corners.append(np.column_stack([centres[:, 0] + dx, np.full(9, y), centres[:, 1] + dz]))
    normalised = unit.pixels(unit.to_camera(np.concatenate(corners)))  # [N, 2] at focal 1
    reach = np.abs(normalised).max(axis=0)
    focal = FRAME_FILL * min(width / 2 / reach[0], height / 2 / reach[1])
    focal = max(focal, WIDEST_LENS * max(width, height))
    camera = Camera(width, height, float(focal), width / 2, height / 2, position, rotation)

    if view == "front":
        half = scene.corridor_width_m / 2
        room = (
            -half + scene.lateral_m / 2,
            half + scene.lateral_m / 2,
            -0.5,
            scene.corridor_length_m,
        )
    else:  # a hall wide enough for a walk across the view
        room = (-4.5, 4.5, -0.5, max(8.0, float(max(start[1], end[1])) + 4.0))
    return Stage(view, tuple(start.tolist()), tuple(end.tolist()), room, camera)
