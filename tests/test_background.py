"""The empty scene at working resolution, and where it could not be seen."""

from __future__ import annotations

import numpy as np

from screen.frontend.background import WORK_SIDE, estimate_scene, unreliable_share


def _frames(count: int = 5, size=(1280, 720)) -> list[np.ndarray]:
    """A textured scene; someone stands in the right quarter of every frame."""
    rng = np.random.default_rng(0)
    scene = rng.integers(0, 255, (size[1], size[0], 3), np.uint8)
    frames = []
    for _ in range(count):
        frame = scene.copy()
        frame[:, 960:] = rng.integers(0, 255, (size[1], 320, 3), np.uint8)  # never the same
        frames.append(frame)
    return frames


def test_the_scene_is_estimated_at_working_resolution_for_full_size_frames():
    scene = estimate_scene(_frames())
    assert scene.frame_shape == (720, 1280, 3)
    assert scene.image.shape == (360, 640, 3) and max(scene.image.shape) == WORK_SIDE
    assert scene.scale == 0.5
    assert scene.agreement[:, :400].mean() > 0.99  # the clear part: every sample agrees


def test_unreliable_share_reads_frame_pixel_boxes_at_working_resolution():
    scene = estimate_scene(_frames())
    hidden = np.array([1000.0, 100.0, 1200.0, 600.0])  # frame pixels, where someone always was
    clear = np.array([100.0, 100.0, 300.0, 600.0])
    assert unreliable_share(scene, [hidden]) > 0.9
    assert unreliable_share(scene, [clear]) < 0.05
