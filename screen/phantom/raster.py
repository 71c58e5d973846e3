"""Posed shapes -> pixels, with cv2's polygon fill (no per-pixel 3D work).

Each shape projects to a convex outline: a capsule to the hull of two projected
circles, an ellipsoid to the hull of projected surface points.  Masks fill the
outlines; the video paints them far to near (painter's algorithm) in three nested
layers that brighten towards the light, which reads as rounded, lit cloth and skin.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .body import Capsule, Ellipsoid, Shape
from .camera import Camera

SUBPIXEL_BITS = 4  #: cv2 fixed-point fraction bits: outlines keep 1/16-pixel precision
_ONE = 1 << SUBPIXEL_BITS
_CIRCLE = np.stack([np.cos(a := np.linspace(0, 2 * np.pi, 16, endpoint=False)), np.sin(a)], 1)


def _sphere_points(count: int = 48) -> np.ndarray:
    """Evenly spread unit vectors (Fibonacci sphere), pushed out a little so the hull of
    their projection covers the true outline rather than sitting inside it."""
    i = np.arange(count) + 0.5
    polar, azimuth = np.arccos(1 - 2 * i / count), np.pi * (1 + 5**0.5) * i
    points = np.stack(
        [np.sin(polar) * np.cos(azimuth), np.cos(polar), np.sin(polar) * np.sin(azimuth)], 1
    )
    return points * 1.05


_SPHERE = _sphere_points()
#: (size, shift towards the light, brightness) of the painted layers; the first is the silhouette.
LAYERS = ((1.0, 0.0, 0.62), (0.74, 0.16, 0.84), (0.42, 0.3, 1.0))
LIGHT = np.array([0.25, 1.0, -0.6]) / np.linalg.norm([0.25, 1.0, -0.6])  # above, camera side


def _outline(shape: Shape, camera: Camera, size: float, shift: float) -> np.ndarray:
    """[T, P, 2] fixed-point outline points of a shape (scaled and moved towards the light)."""
    if isinstance(shape, Capsule):
        ends = []
        for centre, radius in ((shape.a, shape.radius_a), (shape.b, shape.radius_b)):
            local = camera.to_camera(centre + shift * radius * LIGHT)  # [T, 3]
            pixel_radius = camera.focal_px * size * radius / local[:, 2]  # [T]
            ends.append(camera.pixels(local)[:, None, :] + pixel_radius[:, None, None] * _CIRCLE)
        points = np.concatenate(ends, axis=1)  # [T, 32, 2]
    else:
        towards = np.einsum("tji,j->ti", shape.axes, LIGHT)  # light direction in the unit sphere
        towards /= np.linalg.norm(towards, axis=1, keepdims=True)
        centre = shape.centre + shift * np.einsum("tij,tj->ti", shape.axes, towards)
        surface = centre[:, None, :] + size * np.einsum("tij,pj->tpi", shape.axes, _SPHERE)
        points = camera.pixels(camera.to_camera(surface))  # [T, 48, 2]
    return np.round(points * _ONE).astype(np.int32)


@dataclass(frozen=True)
class Figure:
    """One person's shapes, projected for every frame and ready to fill."""

    parts: tuple[str, ...]  #: colour key of each shape
    outlines: tuple[tuple[np.ndarray, ...], ...]  #: per shape, per layer: [T, P, 2] fixed point
    depth: np.ndarray  #: [T, S] camera depth of each shape's centre
    root_depth: np.ndarray  #: [T] camera depth of the body, to order people

    @property
    def frames(self) -> int:
        return len(self.depth)

    def fill(self, index: int, mask: np.ndarray, value: int = 1) -> None:
        """Fill this person's silhouette at frame `index` into a uint8 mask."""
        for layers in self.outlines:
            hull = cv2.convexHull(layers[0][index])
            cv2.fillConvexPoly(mask, hull, value, cv2.LINE_8, SUBPIXEL_BITS)

    def paint(self, index: int, image: np.ndarray, colours: dict[str, np.ndarray]) -> None:
        """Paint the person at frame `index` onto a BGR image, far shapes first."""
        for shape in np.argsort(-self.depth[index], kind="stable"):
            base = colours[self.parts[shape]]
            for points, (_, _, brightness) in zip(self.outlines[shape], LAYERS, strict=False):
                colour = tuple(float(c) for c in np.minimum(base * brightness, 255))
                hull = cv2.convexHull(points[index])
                cv2.fillConvexPoly(image, hull, colour, cv2.LINE_AA, SUBPIXEL_BITS)


def project_figure(shapes: list[Shape], camera: Camera, *, layers: int = 1) -> Figure:
    """Project posed shapes; layers=1 is enough for masks, 3 for the painted video."""
    outlines, depths = [], []
    for shape in shapes:
        outlines.append(
            tuple(_outline(shape, camera, size, shift) for size, shift, _ in LAYERS[:layers])
        )
        centre = (shape.a + shape.b) / 2 if isinstance(shape, Capsule) else shape.centre
        depths.append(camera.to_camera(centre)[:, 2])
    depth = np.stack(depths, axis=1)
    if depth.min() <= 0.05:
        raise ValueError("a body part is behind the camera: the stage is misplaced")
    root = next(s for s in shapes if isinstance(s, Ellipsoid) and s.name == "pelvis")
    return Figure(
        parts=tuple(s.part for s in shapes),
        outlines=tuple(outlines),
        depth=depth,
        root_depth=camera.to_camera(root.centre)[:, 2],
    )
