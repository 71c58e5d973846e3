"""Phantom videos filmed by a moving camera: a pan that follows the walker, a hand's shake.

A camera that only turns about its own centre sees every frame as a homography of
one wider picture, whatever the depth of each point: H = K R K^-1.  So the scene is
drawn once per frame on a wider *canvas* (the stage camera with the same focal
length and pose, more pixels on every side) and each frame is that canvas warped
by the turned camera's homography.  The participant's ground-truth mask is warped
by the same map (nearest neighbour), so boxes and masks stay exact for the frame
the video shows.  The small shift of a hand-held phone is rendered as its
image-plane effect (a few pixels of translation), not as parallax: at walking
distances a phone moved by a centimetre shifts near and far points alike to
within about a pixel.

Sensor noise is added after the warp (it belongs to the sensor, not the scene).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ..errors import FileProblem, ScreenError
from .camera import Camera, make_stage
from .params import WalkerParams
from .raster import SUBPIXEL_BITS, Figure
from .render import frame_times
from .scene import Sensor, background_plate

CAMERA_MOTIONS = ("none", "pan", "shake", "handheld")  #: handheld = pan + shake
#: Extra canvas on each side, as a share of the frame's width and height, per motion.
_MARGIN = {"pan": (0.5, 0.25), "shake": (0.1, 0.1), "handheld": (0.55, 0.3)}
PAN_LAG_S = 0.4  #: time constant of the operator following the walker
PAN_TILT = 0.3  #: share of the walker's height in the picture the operator tilts to follow
SHAKE_DEG = 0.6  #: RMS of the hand's yaw and pitch tremor; roll is 0.6 of it
SHAKE_SHIFT_PX = 2.0  #: RMS image-plane shift of the hand (per 720 rows)


def check_camera_motion(kind: str) -> str:
    if kind not in CAMERA_MOTIONS:
        raise ScreenError(f"unknown camera motion {kind!r}: use {', '.join(CAMERA_MOTIONS)}")
    return kind


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Canvas camera -> turned camera (OpenCV axes): turned right by yaw, down by pitch."""
    cy, sy, cp, sp, cr, sr = (f(a) for a in (yaw, pitch, roll) for f in (np.cos, np.sin))
    turn = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])  # a point right of centre -> centre
    tilt = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    spin = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return spin @ tilt @ turn


def _intrinsics(focal: float, cx: float, cy: float) -> np.ndarray:
    return np.array([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]])


def _tremor(rng: np.random.Generator, times: np.ndarray, rms: float) -> np.ndarray:
    """A smooth random signal with the given RMS: a few sines between 0.4 and 5 Hz."""
    signal = np.zeros(len(times))
    for _ in range(4):
        frequency, phase = rng.uniform(0.4, 5.0), rng.uniform(0, 2 * np.pi)
        signal += rng.normal(1.0, 0.3) * np.sin(2 * np.pi * frequency * times + phase)
    spread = float(np.sqrt(np.mean(signal**2))) if len(times) > 1 else 1.0
    return rms * signal / max(spread, 1e-9)


@dataclass
class CameraPath:
    """The turned camera frame by frame: homographies from the canvas to the frame.

    `aim` is fed the walker's canvas position each frame (pan); shake comes from the
    seed.  Every frame's angles (degrees) and shift (pixels) are kept for the truth.
    """

    kind: str
    camera: Camera  #: the output camera (stage camera, unturned)
    canvas: Camera  #: the same camera with a wider image
    shake: np.ndarray  #: [T, 5] yaw, pitch, roll (rad), dx, dy (px)
    lag: float  #: share of the way to the walker the pan moves per frame
    yaw: float = 0.0
    pitch: float = 0.0
    started: bool = False

    @classmethod
    def make(cls, kind: str, camera: Camera, times: np.ndarray, seed: int) -> CameraPath:
        check_camera_motion(kind)
        mx, my = (round(camera.width * _MARGIN[kind][0]), round(camera.height * _MARGIN[kind][1]))
        canvas = Camera(
            camera.width + 2 * mx, camera.height + 2 * my, camera.focal_px,
            camera.cx + mx, camera.cy + my, camera.position, camera.rotation,
        )  # fmt: skip
        shake = np.zeros((len(times), 5))
        if kind in ("shake", "handheld"):
            rng = np.random.default_rng([seed, 0x5AC3])
            angle = np.radians(SHAKE_DEG)
            shift = SHAKE_SHIFT_PX * camera.height / 720
            shake = np.stack(
                [_tremor(rng, times, rms) for rms in (angle, angle, 0.6 * angle, shift, shift)], 1
            )
        step = float(times[1] - times[0]) if len(times) > 1 else 1.0
        return cls(kind, camera, canvas, shake, lag=1.0 - float(np.exp(-step / PAN_LAG_S)))

    @property
    def offset(self) -> tuple[int, int]:
        """Where the output camera's unturned frame sits on the canvas (left, top)."""
        return round(self.canvas.cx - self.camera.cx), round(self.canvas.cy - self.camera.cy)

    def _homography(self, yaw: float, pitch: float, row: np.ndarray) -> np.ndarray:
        inner = _intrinsics(self.canvas.focal_px, self.canvas.cx, self.canvas.cy)
        outer = _intrinsics(self.camera.focal_px, self.camera.cx + row[3], self.camera.cy + row[4])
        rotation = _rotation(yaw + row[0], pitch + row[1], row[2])
        return outer @ rotation @ np.linalg.inv(inner)

    def _fits(self, homography: np.ndarray) -> bool:
        """Whether every pixel of the frame comes from the canvas."""
        w, h = self.camera.width, self.camera.height
        corners = np.array([[[0, 0]], [[w, 0]], [[0, h]], [[w, h]]], np.float64)
        back = cv2.perspectiveTransform(corners, np.linalg.inv(homography))[:, 0]
        return bool(
            np.all(back >= 0) and np.all(back[:, 0] <= self.canvas.width)
            and np.all(back[:, 1] <= self.canvas.height)
        )  # fmt: skip

    def homography(self, index: int, walker: Sequence[float] | None) -> np.ndarray:
        """Canvas -> frame for frame `index`; `walker`: the walker's canvas (x, y), if seen."""
        if self.kind in ("pan", "handheld") and walker is not None:
            x, y = (np.asarray(walker, float) - [self.canvas.cx, self.canvas.cy]) / (
                self.canvas.focal_px
            )
            yaw, pitch = float(np.arctan(x)), PAN_TILT * float(np.arctan2(y, np.hypot(x, 1.0)))
            share = 1.0 if not self.started else self.lag
            self.yaw += share * (yaw - self.yaw)
            self.pitch += share * (pitch - self.pitch)
            self.started = True
        row = self.shake[index]
        for tilt, turn in (
            (1.0, 1.0),
            (0.5, 1.0),
            (0.0, 1.0),
            *((0.0, t / 10) for t in range(9, -1, -1)),
        ):
            homography = self._homography(turn * self.yaw, tilt * self.pitch, row)
            if self._fits(homography):  # the canvas ends: tilt, then turn, no further
                self.yaw, self.pitch = turn * self.yaw, tilt * self.pitch
                return homography
        return self._homography(0.0, 0.0, np.zeros(5))

    def record(self, homography: np.ndarray, index: int) -> list[float]:
        """[yaw, pitch, roll] (degrees) and [dx, dy] (px) of a frame, for the ground truth."""
        row = self.shake[index]
        angles = np.degrees([self.yaw + row[0], self.pitch + row[1], row[2]])
        return [round(float(v), 4) for v in (*angles, row[3], row[4])]


def _shifted(figure: Figure, dx: int, dy: int) -> Figure:
    """The figure drawn `dx`, `dy` pixels further right and down (the canvas's margin)."""
    offset = np.array([dx, dy], np.int32) << SUBPIXEL_BITS
    outlines = tuple(tuple(layer + offset for layer in shape) for shape in figure.outlines)
    return replace(figure, outlines=outlines)


def render_moving_video(
    out_mp4: Path,
    params: WalkerParams,
    *,
    camera_motion: str,
    fps: float,
    seconds: float,
    size: tuple[int, int],
    view: str,
    distractors: tuple[str, ...],
    progress=None,
) -> Path:
    """`render_video` with a moving camera (see the module note); the same outputs, plus the
    camera's per-frame turn in the truth's "camera_motion"."""
    from .video import MaskArchive, _box, _passerby_line, _people, truth_header

    times = frame_times(fps, seconds)
    stage = make_stage(params.scene, view, size, params.body.height_m)
    path = CameraPath.make(camera_motion, stage.camera, times, params.seed)
    dx, dy = path.offset
    people = _people(params, stage, times, distractors)  # placed for the output frame
    figures = [_shifted(person.figure, dx, dy) for person in people]
    openings = (_passerby_line(params, stage)[0],) if "passerby" in distractors else ()
    plate = background_plate(params.scene, replace(stage, camera=path.canvas), openings)

    writer = cv2.VideoWriter(str(out_mp4), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise FileProblem(out_mp4, "cannot write an mp4 here (check the folder and disk space)")
    width, height = size
    masks_path = out_mp4.with_suffix(".masks.npz")
    masks = MaskArchive(masks_path, (len(times), height, width))
    own = np.zeros(plate.shape[:2], np.uint8)
    covered = np.zeros(plate.shape[:2], np.uint8)
    sensor = Sensor(params.scene, (height, width, 3), params.seed)
    boxes, turns = [], []
    try:
        for index, time_s in enumerate(times):
            present = [k for k, p in enumerate(people) if p.present[index]]
            nearest_first = sorted(present, key=lambda k: people[k].figure.root_depth[index])
            covered[:] = 0
            visible: dict[int, np.ndarray] = {}
            for k in nearest_first:
                own[:] = 0
                figures[k].fill(index, own)
                visible[k] = own & (covered == 0)
                covered |= own
            walker = _box(visible[0]) if 0 in visible else None
            centre = (
                None
                if walker is None
                else ((walker[0] + walker[2]) / 2, (walker[1] + walker[3]) / 2)
            )
            homography = path.homography(index, centre)
            turns.append(path.record(homography, index))
            entry: dict = {"participant": None, "others": [], "others_kind": []}
            for k in nearest_first:
                seen = cv2.warpPerspective(
                    visible[k], homography, size, flags=cv2.INTER_NEAREST, borderValue=0
                )
                box = _box(seen)
                if k == 0:
                    masks.write(seen)
                    entry["participant"] = box
                elif box is not None:
                    entry["others"].append(box)
                    entry["others_kind"].append(people[k].kind)
            boxes.append(entry)
            canvas = plate.copy()
            for k in reversed(nearest_first):
                figures[k].paint(index, canvas, people[k].colours)
            frame = cv2.warpPerspective(canvas, homography, size, flags=cv2.INTER_LINEAR)
            writer.write(sensor.expose(frame, float(time_s)))
            if progress is not None:
                progress(index + 1, len(times))
    finally:
        writer.release()
        masks.close()

    truth = {
        **truth_header(params, view, fps, (width, height), len(times), out_mp4, masks_path),
        "camera": stage.camera.to_dict(),
        "camera_motion": {
            "kind": camera_motion,
            "note": "per frame: yaw, pitch, roll (degrees) and image shift dx, dy (pixels) of "
            "the camera relative to its unturned pose in 'camera'",
            "per_frame": turns,
        },
        "distractors": [{"kind": p.kind, "params": p.params.to_dict()} for p in people[1:]],
        "boxes": boxes,
    }
    truth_path = out_mp4.with_suffix(".json")
    truth_path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth_path
