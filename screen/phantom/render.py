"""A walker's ground-truth silhouettes: params -> route -> posed body -> binary masks."""

from __future__ import annotations

import numpy as np

from ..errors import ScreenError
from ..settings import ANALYSIS_FPS
from .body import Shape, leg_length, pose_body
from .camera import Stage, make_stage
from .motion import Route, gait_angles, walk_route
from .params import WalkerParams
from .raster import project_figure

DEFAULT_FPS = ANALYSIS_FPS  #: phantoms are rendered at the rate the tool analyses
DEFAULT_SECONDS = 20.0
DEFAULT_SIZE = (1280, 720)


def frame_times(fps: float, seconds: float | None = None, frames: int | None = None) -> np.ndarray:
    """[T] timestamps in seconds: `frames` frames if given, else `seconds` worth."""
    if fps <= 0:
        raise ScreenError(f"the frame rate must be positive, got {fps}")
    count = frames if frames is not None else round((seconds or 0.0) * fps)
    if count < 1:
        raise ScreenError("a phantom needs at least one frame: raise the duration or fps")
    return np.arange(count) / fps


def shapes_on_route(params: WalkerParams, route: Route) -> list[Shape]:
    """Pose one person's body along a route."""
    angles = gait_angles(route, params.gait, params.posture, leg_length(params))
    return pose_body(params, route, angles)


def walker_shapes(params: WalkerParams, stage: Stage, times: np.ndarray) -> list[Shape]:
    """The participant, walking the stage's line back and forth."""
    return shapes_on_route(params, walk_route(stage.start, stage.end, params.gait, times))


def render_masks(
    params: WalkerParams,
    *,
    frames: int | None = None,
    seconds: float = DEFAULT_SECONDS,
    fps: float = DEFAULT_FPS,
    size: tuple[int, int] = DEFAULT_SIZE,
    view: str = "front",
    scale: float = 1.0,
) -> np.ndarray:
    """Binary silhouettes [T, H, W] (bool) of the walker, as the video of `size` would
    show them, drawn at `scale` times that resolution (masks for a dataset can be
    small: they are normalised to 64x64 anyway)."""
    times = frame_times(fps, seconds, frames)
    stage = make_stage(params.scene, view, size, params.body.height_m)
    camera = stage.camera.scaled(scale)
    figure = project_figure(walker_shapes(params, stage, times), camera)
    masks = np.zeros((len(times), camera.height, camera.width), np.uint8)
    for index in range(len(times)):
        figure.fill(index, masks[index])
    return masks.view(bool)
