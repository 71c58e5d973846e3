"""The static background (a corridor or hall seen by the stage's camera) and the sensor.

The room is drawn in perspective from the same camera as the walker: floor tiles,
walls with skirting, doors and notice boards, ceiling lights, then a fixed texture
(uneven paint, grain) and lens vignetting.  Per frame, the `Sensor` adds a slow
lighting drift and noise; the video writer adds compression.
"""

from __future__ import annotations

import cv2
import numpy as np

from .camera import ROOM_HEIGHT_M, Camera, Stage
from .params import Scene
from .raster import SUBPIXEL_BITS

_ONE = 1 << SUBPIXEL_BITS
NEAR_CLIP_M = 0.05


def bgr(rgb) -> np.ndarray:
    return np.asarray(rgb, float)[::-1]


def _clip_near(points: np.ndarray) -> np.ndarray:
    """Clip a camera-space polygon [N, 3] to the half-space z >= NEAR_CLIP_M."""
    kept = []
    for i in range(len(points)):
        a, b = points[i], points[(i + 1) % len(points)]
        a_in, b_in = a[2] >= NEAR_CLIP_M, b[2] >= NEAR_CLIP_M
        if a_in:
            kept.append(a)
        if a_in != b_in:
            kept.append(a + (NEAR_CLIP_M - a[2]) / (b[2] - a[2]) * (b - a))
    return np.array(kept).reshape(-1, 3)


class _Painter:
    """Draws world-space polygons and lines onto the plate through the camera."""

    def __init__(self, image: np.ndarray, camera: Camera) -> None:
        self.image, self.camera = image, camera

    def _pixels(self, world: np.ndarray) -> np.ndarray | None:
        local = _clip_near(self.camera.to_camera(np.asarray(world, float)))
        if len(local) < 2:
            return None
        return np.round(self.camera.pixels(local) * _ONE).astype(np.int32)

    def polygon(self, world, colour) -> None:
        pixels = self._pixels(world)
        if pixels is not None and len(pixels) >= 3:
            colour = tuple(float(c) for c in np.clip(colour, 0, 255))
            cv2.fillPoly(self.image, [pixels], colour, cv2.LINE_AA, SUBPIXEL_BITS)

    def line(self, a, b, colour, thickness: int = 1) -> None:
        pixels = self._pixels([a, b])
        if pixels is not None and len(pixels) == 2:
            colour = tuple(float(c) for c in np.clip(colour, 0, 255))
            cv2.line(
                self.image, pixels[0], pixels[1], colour, thickness, cv2.LINE_AA, SUBPIXEL_BITS
            )


def _wall_rect(wall: str, room, along: float, width: float, bottom: float, top: float):
    """A rectangle on a wall: `along` is its start measured along the wall."""
    x0, x1, _, z1 = room
    corners = [(along, bottom), (along + width, bottom), (along + width, top), (along, top)]
    if wall == "far":  # `along` runs along x
        return [(a, y, z1) for a, y in corners]
    x = x0 if wall == "left" else x1  # `along` runs along z
    return [(x, y, a) for a, y in corners]


def background_plate(scene: Scene, stage: Stage, openings: tuple[float, ...] = ()) -> np.ndarray:
    """The empty room as the camera sees it: [H, W, 3] uint8 BGR, the same for every frame.

    `openings` are depths (front view) where a side corridor opens in both walls, for a
    passer-by to come out of.
    """
    camera = stage.camera
    rng = np.random.default_rng(scene.texture_seed)
    image = np.zeros((camera.height, camera.width, 3), np.uint8)
    paint = _Painter(image, camera)
    x0, x1, z0, z1 = stage.room
    top = ROOM_HEIGHT_M
    wall, floor, ceiling = bgr(scene.wall_rgb), bgr(scene.floor_rgb), bgr(scene.ceiling_rgb)

    # Faces of the room; walls facing the light less directly are a little darker.
    paint.polygon([(x0, 0, z0), (x1, 0, z0), (x1, 0, z1), (x0, 0, z1)], floor)
    paint.polygon([(x0, top, z0), (x1, top, z0), (x1, top, z1), (x0, top, z1)], ceiling)
    paint.polygon([(x0, 0, z0), (x0, 0, z1), (x0, top, z1), (x0, top, z0)], wall * 0.9)
    paint.polygon([(x1, 0, z0), (x1, 0, z1), (x1, top, z1), (x1, top, z0)], wall * 0.95)
    paint.polygon([(x0, 0, z1), (x1, 0, z1), (x1, top, z1), (x0, top, z1)], wall * 0.82)

    # Floor tiles and ceiling lights.
    tile = float(rng.uniform(0.3, 0.6))
    for x in np.arange(x0 + tile, x1, tile):
        paint.line((x, 0, max(z0, 0.1)), (x, 0, z1), floor * 0.82)
    for z in np.arange(tile, z1, tile):
        paint.line((x0, 0, z), (x1, 0, z), floor * 0.82)
    spacing = float(rng.uniform(2.0, 3.5))
    for z in np.arange(spacing / 2, z1 - 0.6, spacing):
        xc = (x0 + x1) / 2
        paint.polygon(
            [
                (xc - 0.3, top - 0.01, z),
                (xc + 0.3, top - 0.01, z),
                (xc + 0.3, top - 0.01, z + 0.6),
                (xc - 0.3, top - 0.01, z + 0.6),
            ],
            (250, 250, 250),
        )

    # Walls: skirting, doors, notice boards; the far wall gets a window.
    walls = ["left", "right"] if stage.view == "front" else ["far"]
    for name in walls + ["far"] * (stage.view == "front"):
        length = (max(z0, 0.5), z1) if name != "far" else (x0, x1)
        paint.polygon(
            _wall_rect(name, stage.room, length[0], length[1] - length[0], 0, 0.1), wall * 0.55
        )
        if name == "far" and stage.view == "front":
            middle = (x0 + x1) / 2
            paint.polygon(
                _wall_rect(name, stage.room, middle - 0.5, 1.0, 1.0, 2.1), (245, 240, 235)
            )
            continue
        for start in np.arange(
            length[0] + rng.uniform(0.5, 2.0), length[1] - 1.0, rng.uniform(2.2, 4.0)
        ):
            if rng.random() < 0.55:
                door = bgr(scene.door_rgb) * rng.uniform(0.85, 1.1)
                paint.polygon(_wall_rect(name, stage.room, start, 0.95, 0, 2.1), door * 0.7)
                paint.polygon(_wall_rect(name, stage.room, start + 0.05, 0.85, 0, 2.05), door)
            else:
                board = rng.uniform(40, 240, 3)
                paint.polygon(
                    _wall_rect(
                        name, stage.room, start, rng.uniform(0.6, 1.2), 1.1, rng.uniform(1.6, 1.9)
                    ),
                    board,
                )

    for z in openings if stage.view == "front" else ():
        for name in ("left", "right"):
            paint.polygon(_wall_rect(name, stage.room, z - 0.6, 1.2, 0, 2.2), wall * 0.35)

    # Texture: uneven paint and light (low frequency), grain, and lens vignetting.
    h, w = image.shape[:2]
    blotches = cv2.resize(
        rng.normal(1.0, 0.05, (6, 10)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    radius = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    shade = blotches * (1.0 - 0.12 * radius)
    grain = rng.normal(0.0, 2.0, (h, w, 1)).astype(np.float32)
    plate = cv2.GaussianBlur(image, (3, 3), 0).astype(np.float32) * shade[..., None] + grain
    return np.clip(plate + 0.5, 0, 255).astype(np.uint8)


class Sensor:
    """What the camera records of a lit scene: a slow light drift and sensor noise.

    Fresh Gaussian noise for every 720p frame costs more than everything else in the
    video; instead one long noise strip is drawn up front and every frame reads it
    from a random offset, which looks just as random frame to frame.
    """

    def __init__(self, scene: Scene, shape: tuple[int, ...], seed: int) -> None:
        self.scene = scene
        self.shape = shape
        self.rng = np.random.default_rng([seed, 0xF11E])
        size = int(np.prod(shape))
        self.noise = self.rng.standard_normal(2 * size, dtype=np.float32) * scene.noise_sigma
        self.noise += 0.5  # rounds to nearest when cast to uint8

    def expose(self, frame: np.ndarray, time_s: float) -> np.ndarray:
        scene = self.scene
        gain = 1.0 + scene.light_drift * np.sin(2 * np.pi * time_s / scene.light_period_s)
        offset = int(self.rng.integers(len(self.noise) // 2))
        noise = self.noise[offset : offset + frame.size].reshape(frame.shape)
        lit = cv2.scaleAdd(frame.astype(np.float32), gain, noise)
        return np.clip(lit, 0, 255, out=lit).astype(np.uint8)
