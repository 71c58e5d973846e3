"""A phantom walking video with its ground truth: boxes, masks and every parameter.

The participant walks the stage's line; optional distractors are a clinician
standing at the side and a passer-by crossing once behind the walker.  People are
painted far to near, so the participant's ground-truth mask is exactly its visible
part of the frame.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ..errors import FileProblem, ScreenError
from ..model.classes import Label
from .camera import VIEW_NAMES, Stage, make_stage
from .motion import standing_route, walk_route
from .params import WalkerParams, sample_walker
from .passes import MAX_PASSES, pass_legs, passes_route
from .raster import Figure, project_figure
from .render import (
    DEFAULT_FPS,
    DEFAULT_SECONDS,
    DEFAULT_SIZE,
    frame_times,
    shapes_on_route,
    walker_shapes,
)
from .scene import Sensor, background_plate, bgr

DISTRACTORS = ("clinician", "passerby")
NOTE = (
    "Phantom walkers are synthetic: they test the machinery (detection, tracking, "
    "segmentation, classification) against a known answer and say nothing about "
    "clinical accuracy."
)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Person:
    kind: str  #: "participant" or a distractor's name
    params: WalkerParams
    figure: Figure
    present: np.ndarray  #: [T] bool, False while off stage
    colours: dict[str, np.ndarray]  #: BGR per body part


def _colours(params: WalkerParams) -> dict[str, np.ndarray]:
    look = params.appearance
    return {
        "skin": bgr(look.skin_rgb),
        "hair": bgr(look.hair_rgb),
        "shirt": bgr(look.shirt_rgb),
        "trousers": bgr(look.trousers_rgb),
        "shoes": bgr(look.shoes_rgb),
    }


def _sub_seed(seed: int, kind: str) -> int:
    """A distractor's own seed, fixed by the participant's seed and its role."""
    return int(np.random.SeedSequence([seed, DISTRACTORS.index(kind) + 1]).generate_state(1)[0])


def _clinician(params: WalkerParams, stage: Stage, times: np.ndarray) -> tuple:
    """An adult in a white coat standing still at the side, watching the walker."""
    seed = _sub_seed(params.seed, "clinician")
    rng = np.random.default_rng(seed)
    person = sample_walker(Label.NEGATIVE, seed)
    person = replace(
        person,
        body=replace(person.body, height_m=round(float(rng.uniform(1.6, 1.9)), 3)),
        appearance=replace(
            person.appearance, shirt_rgb=(236, 238, 240), long_sleeves=True, shorts=False
        ),
    )
    side = 1.0 if rng.random() < 0.5 else -1.0
    camera = stage.camera
    if stage.view == "front":
        x0, x1 = stage.room[:2]
        spot = ((x0 + x1) / 2 + side * ((x1 - x0) / 2 - 0.4), float(rng.uniform(2.4, 3.2)))
    else:  # behind the walking line, near the edge of the picture
        depth = max(stage.start[1], stage.end[1]) + 1.0
        spot = (side * 0.7 * camera.width / 2 / camera.focal_px * depth, depth)
    middle = (np.asarray(stage.start) + np.asarray(stage.end)) / 2
    heading = float(np.arctan2(middle[0] - spot[0], middle[1] - spot[1]))
    route = standing_route(spot, heading, times, seed)
    return person, shapes_on_route(person, route), np.ones(len(times), bool)


def _passerby_line(params: WalkerParams, stage: Stage) -> tuple[float, float, float]:
    """Depth of the passer-by's crossing and the x where it starts and ends."""
    rng = np.random.default_rng(_sub_seed(params.seed, "passerby"))
    x0, x1, _, z1 = stage.room
    depth = min(max(stage.start[1], stage.end[1]) + float(rng.uniform(1.2, 2.0)), z1 - 0.8)
    reach = stage.camera.width / 2 / stage.camera.focal_px * depth + 0.6
    left, right = max(x0 + 0.1, -reach), min(x1 - 0.1, reach)
    return (depth, left, right) if rng.random() < 0.5 else (depth, right, left)


def _passerby(params: WalkerParams, stage: Stage, times: np.ndarray) -> tuple:
    """Someone crossing once, behind the walker, at some moment of the video."""
    seed = _sub_seed(params.seed, "passerby")
    rng = np.random.default_rng(seed + 1)
    person = sample_walker(Label.NEGATIVE, seed)
    depth, start, end = _passerby_line(params, stage)
    enter = float(rng.uniform(0.25, 0.6)) * float(times[-1] if len(times) > 1 else 1.0)
    route = walk_route(
        (start, depth), (end, depth), person.gait, times - enter, back_and_forth=False
    )
    crossing = abs(end - start) / person.gait.speed_mps
    present = (times >= enter) & (times <= enter + crossing)
    return person, shapes_on_route(person, route), present


class MaskArchive:
    """Writes bool [T, H, W] masks frame by frame into an .npz that `np.load(path)["masks"]`
    reads, without holding the whole video's masks in memory.  A fixed zip timestamp
    keeps the bytes reproducible."""

    def __init__(self, path: Path, shape: tuple[int, int, int]) -> None:
        self.archive = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        entry = zipfile.ZipInfo("masks.npy", date_time=(1980, 1, 1, 0, 0, 0))
        entry.compress_type = zipfile.ZIP_DEFLATED
        self.stream = self.archive.open(entry, "w", force_zip64=True)
        header = {"descr": "|b1", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(self.stream, header)

    def write(self, mask: np.ndarray) -> None:
        self.stream.write(np.ascontiguousarray(mask, dtype=bool).tobytes())

    def close(self) -> None:
        self.stream.close()
        self.archive.close()


def _box(mask: np.ndarray) -> list[int] | None:
    """[x1, y1, x2, y2] pixel edges of a mask's foreground, or None when empty."""
    points = cv2.findNonZero(mask)
    if points is None:
        return None
    x, y, w, h = cv2.boundingRect(points)
    return [int(x), int(y), int(x + w), int(y + h)]


def _people(
    params: WalkerParams,
    stage: Stage,
    times: np.ndarray,
    distractors: Sequence[str],
    passes: int = 1,
) -> list[Person]:
    camera = stage.camera
    if passes == 1:  # back and forth along the stage's line, always in view
        shapes, on_stage = walker_shapes(params, stage, times), np.ones(len(times), bool)
    else:
        route, on_stage = passes_route(pass_legs(stage, params.gait.turn_sign), params.gait, times)
        shapes = shapes_on_route(params, route)
    participant = project_figure(shapes, camera, layers=3)
    people = [Person("participant", params, participant, on_stage, _colours(params))]
    makers = {"clinician": _clinician, "passerby": _passerby}
    for kind in distractors:
        person, shapes, present = makers[kind](params, stage, times)
        figure = project_figure(shapes, camera, layers=3)
        people.append(Person(kind, person, figure, present, _colours(person)))
    return people


def truth_header(
    params: WalkerParams,
    view: str,
    fps: float,
    size: tuple[int, int],
    frames: int,
    out_mp4: Path,
    masks_path: Path,
) -> dict:
    """The first keys of a phantom video's ground-truth JSON, in their order."""
    return {
        "label": params.label.value,
        "seed": params.seed,
        "view": view,
        "view_name": VIEW_NAMES[view],
        "fps": fps,
        "size": list(size),
        "frames": frames,
        "seconds": round(frames / fps, 3),
        "video": out_mp4.name,
        "masks": masks_path.name,
        "note": NOTE,
        "params": params.to_dict(),
    }  # fmt: skip


def render_video(
    out_mp4: str | Path,
    params: WalkerParams,
    *,
    fps: float = DEFAULT_FPS,
    seconds: float = DEFAULT_SECONDS,
    size: tuple[int, int] = DEFAULT_SIZE,
    view: str = "front",
    distractors: Sequence[str] = (),
    passes: int = 1,
    progress: Progress | None = None,
    camera_motion: str = "none",
) -> Path:
    """Render the walker as an mp4 plus OUT.json (ground truth) and OUT.masks.npz.

    `passes` 2: the walker passes, leaves the picture for a few seconds and comes
    back (see `passes.py`; front and side views).  `camera_motion` 'pan', 'shake'
    or 'handheld' films with a moving camera (see `handheld.py`; one pass only).
    Returns the path of the ground-truth JSON.  The same parameters give the same
    bytes (cv2's 'mp4v' encoder is deterministic).
    """
    out_mp4 = Path(out_mp4)
    if out_mp4.suffix.lower() != ".mp4":
        raise ScreenError(f"{out_mp4}: the phantom video must be an .mp4 file")
    for name in distractors:
        if name not in DISTRACTORS:
            raise ScreenError(f"unknown distractor {name!r}: use {' or '.join(DISTRACTORS)}")
    if not 1 <= passes <= MAX_PASSES:
        raise ScreenError(f"passes must be 1..{MAX_PASSES}, got {passes}")
    distractors = tuple(dict.fromkeys(distractors))  # once each, in the order given
    if camera_motion != "none":
        if passes != 1:
            raise ScreenError("a moving camera films one pass: use --passes 1 with --camera-motion")
        from .handheld import check_camera_motion, render_moving_video

        out_mp4.parent.mkdir(parents=True, exist_ok=True)
        return render_moving_video(
            out_mp4, params, camera_motion=check_camera_motion(camera_motion), fps=fps,
            seconds=seconds, size=size, view=view, distractors=distractors, progress=progress,
        )  # fmt: skip
    times = frame_times(fps, seconds)
    stage = make_stage(params.scene, view, size, params.body.height_m)
    people = _people(params, stage, times, distractors, passes)
    openings = (_passerby_line(params, stage)[0],) if "passerby" in distractors else ()
    plate = background_plate(params.scene, stage, openings)

    out_mp4.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out_mp4), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise FileProblem(out_mp4, "cannot write an mp4 here (check the folder and disk space)")
    width, height = size
    masks_path = out_mp4.with_suffix(".masks.npz")
    masks = MaskArchive(masks_path, (len(times), height, width))
    own = np.zeros((height, width), np.uint8)
    covered = np.zeros((height, width), np.uint8)
    sensor = Sensor(params.scene, plate.shape, params.seed)
    boxes = []
    try:
        for index, time_s in enumerate(times):
            present = [p for p in people if p.present[index]]
            nearest_first = sorted(present, key=lambda p: p.figure.root_depth[index])
            covered[:] = 0
            entry: dict = {"participant": None, "others": [], "others_kind": []}
            for person in nearest_first:
                own[:] = 0
                person.figure.fill(index, own)
                visible = own & (covered == 0)
                covered |= own
                box = _box(visible)
                if person.kind == "participant":
                    masks.write(visible)
                    entry["participant"] = box
                elif box is not None:
                    entry["others"].append(box)
                    entry["others_kind"].append(person.kind)
            if not people[0].present[index]:  # the participant is away: an empty mask
                masks.write(np.zeros((height, width), bool))
            boxes.append(entry)
            frame = plate.copy()
            for person in reversed(nearest_first):
                person.figure.paint(index, frame, person.colours)
            writer.write(sensor.expose(frame, float(time_s)))
            if progress is not None:
                progress(index + 1, len(times))
    finally:
        writer.release()
        masks.close()

    truth = {
        **truth_header(params, view, fps, (width, height), len(times), out_mp4, masks_path),
        "camera": stage.camera.to_dict(),
        "distractors": [{"kind": p.kind, "params": p.params.to_dict()} for p in people[1:]],
        "boxes": boxes,
    }
    if passes > 1:  # only then: a one-pass truth keeps its bytes
        truth = {**truth, "passes": passes}
    truth_path = out_mp4.with_suffix(".json")
    truth_path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth_path
