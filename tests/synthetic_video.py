"""Small synthetic videos with ground truth for the video front-end tests.

A textured static background, figure-like people (head, torso, swinging legs)
drawn with OpenCV: a walker crossing the scene, optionally a person standing
at the side, a passer-by, an occluding pillar and a floor reflection.  Each
frame's true mask and box per person come back with the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 320, 240


@dataclass(frozen=True)
class Actor:
    """A figure whose feet are at place(t) -> (x, y) with body height height(t) pixels."""

    name: str
    place: Callable[[float], tuple[float, float]]
    height: Callable[[float], float]
    colour: tuple[int, int, int]
    visible: tuple[float, float] = (0.0, 1e9)  #: seconds
    stride: float = 1.0  #: 0 for someone standing still


@dataclass
class Truth:
    """Per frame: each visible actor's box (xyxy) and mask, and the occluder."""

    boxes: list[dict[str, np.ndarray]] = field(default_factory=list)
    masks: list[dict[str, np.ndarray]] = field(default_factory=list)  #: [h, w] bool, visible part


def textured_background(seed: int = 0, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(60, 200, (height // 8, width // 8, 3), dtype=np.uint8)
    image = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    image[height * 2 // 3 :] = (image[height * 2 // 3 :] * 0.6).astype(np.uint8)  # a floor
    return cv2.GaussianBlur(image, (5, 5), 0)


def draw_figure(canvas: np.ndarray, actor: Actor, t: float, colour=None) -> None:
    """A person-like figure standing on its feet point, legs swinging with the gait phase."""
    x, y = actor.place(t)
    h = actor.height(t)
    colour = colour or actor.colour
    swing = actor.stride * 0.18 * h * np.sin(2 * np.pi * 1.0 * t)  # one stride per second
    hip = (int(x), int(y - 0.48 * h))
    thick = max(2, int(0.09 * h))
    for sign in (1, -1):
        cv2.line(canvas, hip, (int(x + sign * swing), int(y)), colour, thick)
    cv2.ellipse(
        canvas,
        (int(x), int(y - 0.68 * h)),
        (max(2, int(0.1 * h)), int(0.22 * h)),
        0,
        0,
        360,
        colour,
        -1,
    )
    for sign in (1, -1):  # arms swing against the legs
        cv2.line(
            canvas,
            (int(x), int(y - 0.85 * h)),
            (int(x - sign * swing * 0.6), int(y - 0.5 * h)),
            colour,
            max(2, thick // 2),
        )
    cv2.circle(canvas, (int(x), int(y - 0.93 * h)), max(2, int(0.07 * h)), colour, -1)


def walker(seconds: float, colour=(40, 40, 220), height: float = 110.0, y: float = 200.0) -> Actor:
    """Crosses the frame from left to right over `seconds`."""
    return Actor(
        "walker",
        lambda t: (30 + (WIDTH - 60) * min(t / seconds, 1.0), y),
        lambda t: height,
        colour,
    )


def standing(x: float = 270.0, colour=(220, 120, 40), height: float = 105.0) -> Actor:
    """Someone standing at the side, swaying slightly."""
    return Actor(
        "standing", lambda t: (x + 1.5 * np.sin(t), 198.0), lambda t: height, colour, stride=0.0
    )


def passer_by(
    start: float, seconds: float = 1.4, colour=(40, 200, 60), height: float = 95.0
) -> Actor:
    """Crosses quickly from right to left between `start` and `start + seconds`."""
    return Actor(
        "passer_by",
        lambda t: (WIDTH - 10 - (WIDTH - 20) * (t - start) / seconds, 205.0),
        lambda t: height,
        colour,
        visible=(start, start + seconds),
    )


def render(
    path: Path,
    actors: list[Actor],
    seconds: float = 6.0,
    fps: float = 15.0,
    fourcc: str = "MJPG",
    occluder: tuple[int, int] | None = None,
    reflection: float = 0.0,
    seed: int = 0,
    noise: float = 2.0,
) -> Truth:
    """Write the scene to `path`; `occluder` is a pillar's (x0, x1) in front of everyone."""
    background = textured_background(seed)
    rng = np.random.default_rng(seed + 1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (WIDTH, HEIGHT))
    truth = Truth()
    for i in range(round(seconds * fps)):
        t = i / fps
        frame = background.copy()
        boxes, masks = {}, {}
        for actor in actors:
            if not actor.visible[0] <= t <= actor.visible[1]:
                continue
            if reflection:  # a dim mirror image of the figure below its feet
                mirror = np.zeros_like(frame)
                draw_figure(mirror, actor, t)
                flipped = np.zeros_like(mirror)
                top = int(np.flatnonzero(mirror.any(axis=(1, 2)))[-1]) + 1  # the floor line
                span = min(HEIGHT - top, top)
                flipped[top : top + span] = mirror[top - span : top][::-1]
                on = flipped.any(axis=2)
                frame[on] = (frame[on] * (1 - reflection) + flipped[on] * reflection).astype(
                    np.uint8
                )
            mask = np.zeros((HEIGHT, WIDTH), np.uint8)
            draw_figure(mask, actor, t, colour=255)
            draw_figure(frame, actor, t)
            for earlier in masks.values():  # drawn later means in front
                earlier &= mask == 0
            masks[actor.name] = mask > 0
        if occluder is not None:
            frame[:, occluder[0] : occluder[1]] = (90, 160, 160)
            for mask in masks.values():
                mask[:, occluder[0] : occluder[1]] = False
        for name, mask in masks.items():
            ys, xs = np.nonzero(mask)
            if len(xs):
                boxes[name] = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
        noisy = frame.astype(np.float32) + rng.normal(0, noise, frame.shape)
        writer.write(np.clip(noisy, 0, 255).astype(np.uint8))
        truth.boxes.append(boxes)
        truth.masks.append(masks)
    writer.release()
    return truth


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
