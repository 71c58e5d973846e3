"""Mask quality of the offline front end on phantom walkers: mean mask IoU per view.

Renders phantom videos (front view: towards the camera, turn, away; side view:
across), runs the offline front end (background-subtraction detector, then the
background segmenter or PP-HumanSegV1-Lite) and compares every silhouette with
the phantom's ground-truth mask.  Front-view frames are split by the walker's
heading: `frontal` (facing the camera), `back` (walking away); frames mid-turn
count as `turning`.

    python tests/measure_masks.py            # the table for the README
    python tests/measure_masks.py --seeds 5  # more walkers per view
    python tests/measure_masks.py --examples # the shipped examples/phantom_*.mp4 too

IoU is over the frames where the front end gave a silhouette; `coverage` is the
share of frames with a visible walker that got one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from screen.frontend.backends import StageChoice  # noqa: E402
from screen.frontend.extract import Frontend  # noqa: E402
from screen.frontend.segment import HumanSegmenter  # noqa: E402
from screen.phantom import WalkerParams, render_video, sample_walker  # noqa: E402
from screen.phantom.camera import make_stage  # noqa: E402
from screen.phantom.motion import walk_route  # noqa: E402
from screen.phantom.render import frame_times  # noqa: E402
from screen.settings import Settings  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"
V1_LITE = SHARED_DATA / "human_pp_humansegv1_lite_192x192_inference_model_with_softmax"
LABELS = ("negative", "neutral", "positive")
#: Facing within this angle of the camera (or of straight away from it): frontal (back).
FACING_DEG = 45.0


def render(folder: Path, view: str, seed: int, seconds: float, size: tuple[int, int]) -> Path:
    """A phantom video (with NAME.json and NAME.masks.npz beside it); labels cycle by seed."""
    out = folder / f"{view}_{seed}.mp4"
    if not out.with_suffix(".masks.npz").is_file():
        render_video(out, sample_walker(LABELS[seed % 3], seed), seconds=seconds, size=size,
                     view=view)  # fmt: skip
    return out


def facing(truth: dict) -> np.ndarray:
    """Per frame 'frontal', 'back' or 'side': the walker's heading relative to the camera.

    The route is recomputed from the ground truth's parameters, as the renderer made it.
    """
    params = WalkerParams.from_dict(truth["params"])
    width, height = truth["size"]
    stage = make_stage(params.scene, truth["view"], (width, height), params.body.height_m)
    times = frame_times(truth["fps"], frames=truth["frames"])
    route = walk_route(stage.start, stage.end, params.gait, times)
    heading = np.stack([np.sin(route.heading), np.cos(route.heading)], axis=1)
    to_camera = -route.position / np.linalg.norm(route.position, axis=1, keepdims=True)
    angle = np.degrees(np.arccos(np.clip((heading * to_camera).sum(axis=1), -1, 1)))
    side = "turning" if truth["view"] == "front" else "side"
    return np.where(
        angle <= FACING_DEG, "frontal", np.where(angle >= 180 - FACING_DEG, "back", side)
    )


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks (1 where both are empty)."""
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


@dataclass
class VideoScore:
    """Per-frame IoU of one video's silhouettes, with each frame's facing."""

    ious: dict[int, float]  #: frame index -> IoU, where the front end gave a silhouette
    facing: np.ndarray  #: [T] 'frontal' | 'back' | 'side' | 'turning'
    visible: np.ndarray  #: [T] bool: the walker is in the frame
    ms_per_crop: float


def score_video(frontend: Frontend, video: Path) -> VideoScore:
    """Run the front end on a phantom video and compare its masks with the ground truth."""
    truth = json.loads(video.with_suffix(".json").read_text(encoding="utf-8"))
    with np.load(video.with_suffix(".masks.npz")) as archive:
        masks = archive["masks"]
    result = frontend.extract(video)
    size = (masks.shape[2], masks.shape[1])
    ious = {
        s.index: mask_iou(s.mask.to_frame(size) > 0, masks[s.index])
        for s in result.silhouettes
        if s.index < len(masks)
    }
    visible = masks.reshape(len(masks), -1).any(axis=1)
    return VideoScore(ious, facing(truth), visible, result.ms_per_frame.get("segment", 0.0))


def summarise(scores: Iterable[VideoScore]) -> dict[str, dict[str, float]]:
    """Mean IoU, frame count and coverage per facing."""
    ious: dict[str, list[float]] = defaultdict(list)
    wanted: dict[str, int] = defaultdict(int)
    for score in scores:
        for index, iou in score.ious.items():
            ious[score.facing[index]].append(iou)
        for kind, seen in zip(score.facing, score.visible, strict=True):
            wanted[kind] += int(seen)
    return {
        kind: {
            "iou": float(np.mean(values)),
            "frames": len(values),
            "coverage": len(values) / max(wanted[kind], 1),
        }
        for kind, values in ious.items()
    }


def frontends(threads: int = 1) -> dict[str, Frontend]:
    """The offline front ends to compare: background detector with each segmenter."""
    chosen = {"background": Frontend(Settings.of(detector="background", segmenter="background"))}
    if (V1_LITE / "deploy.yaml").is_file():
        lite = HumanSegmenter(V1_LITE, threads=threads)
        chosen["pp-humanseg-v1-lite"] = Frontend(
            Settings.of(detector="background"),
            segmenter=(lite, StageChoice("pp-humanseg-v2-lite", {"path": str(V1_LITE)})),
        )
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="walkers per view")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--size", default="640x360", help="WIDTHxHEIGHT")
    parser.add_argument("--keep", type=Path, help="render into (and reuse) this folder")
    parser.add_argument("--examples", action="store_true", help="add examples/phantom_*.mp4")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        videos = {
            view: [render(folder, view, seed, args.seconds, size) for seed in range(args.seeds)]
            for view in ("front", "side")
        }
        if args.examples:
            videos["examples"] = sorted((ROOT / "examples").glob("phantom_*.mp4"))
        rows: dict[str, dict] = {}
        timing: dict[str, float] = {}
        for name, frontend in frontends().items():
            started = time.perf_counter()
            scores = [score_video(frontend, v) for vs in videos.values() for v in vs]
            timing[name] = time.perf_counter() - started
            rows[name] = summarise(scores)
            rows[name]["_ms"] = float(np.mean([s.ms_per_crop for s in scores]))
    kinds = ("frontal", "back", "side", "turning")
    print(f"{args.seeds} walkers per view, {args.seconds:g} s, {args.size}; mean mask IoU")
    print(f"{'segmenter':<22}" + "".join(f"{k:>10}" for k in kinds) + f"{'ms/crop':>10}")
    for name, row in rows.items():
        cells = "".join(f"{row[k]['iou']:>10.3f}" if k in row else f"{'-':>10}" for k in kinds)
        print(f"{name:<22}{cells}{row['_ms']:>10.1f}")
    print("frames (coverage): " + ", ".join(
        f"{k} {row[k]['frames']} ({row[k]['coverage']:.0%})" for k in kinds if k in row
    ))  # fmt: skip
    print("seconds per segmenter: " + ", ".join(f"{k} {v:.0f}" for k, v in timing.items()))


if __name__ == "__main__":
    main()
