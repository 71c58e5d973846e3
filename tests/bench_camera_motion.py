"""Walker frames kept and detector cost on phantoms filmed by a still, panning or shaking camera.

Run: .venv/bin/python tests/bench_camera_motion.py [--size 320x240] [--seconds 4]
For each camera motion and view it renders a phantom (with a clinician standing by)
and runs pass 1 of the front end (detect, ByteTrack, choose the participant) with
each offline detector:
  median    BackgroundDetector (one median background, fixed camera), detect every frame
  humanseg  SegmenterDetector on the bundled PP-HumanSegV1-Lite, detect every frame
(branch `camera` also measured a motion-compensated background: 17-67% kept, not kept.)
"kept" is the share of frames showing the walker whose chosen box has IoU >= 0.5 with
the truth; "ms" is the detector's milliseconds per frame.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from screen.frontend.background import estimate_scene
from screen.frontend.camera_motion import CameraMotion
from screen.frontend.concurrency import StageClock
from screen.frontend.detect import BackgroundDetector
from screen.frontend.frames import box_iou
from screen.frontend.participant import select_participant
from screen.frontend.passes import track_people
from screen.frontend.segdetect import SegmenterDetector
from screen.frontend.segment import HumanSegmenter
from screen.frontend.track import ByteTracker
from screen.frontend.video import FrameSource
from screen.phantom import render_video, sample_walker
from screen.settings import TrackerSettings

HUMANSEG = (
    Path(__file__).resolve().parents[1]
    / "weights/human_pp_humansegv1_lite_192x192_inference_model_with_softmax"
)


def walker_frames_kept(video: Path, detector) -> tuple[float, float, bool, tuple[str, ...]]:
    """(share of the walker's frames kept, detector ms per frame, camera moving, flags)."""
    truth = json.loads(video.with_suffix(".json").read_text())["boxes"]
    clock, camera = StageClock(), CameraMotion()
    history = track_people(
        FrameSource(video), detector, ByteTracker(TrackerSettings()), clock, camera=camera
    )
    choice = select_participant(history)
    shown = [i for i, entry in enumerate(truth) if entry["participant"]]
    kept = sum(
        1
        for i in shown
        if choice.box(i) is not None and box_iou(choice.box(i), truth[i]["participant"]) >= 0.5
    )
    ms = clock.ms_per_frame().get("detect", 0.0)
    return kept / max(len(shown), 1), ms, camera.moving, choice.flags


def candidates(video: Path) -> dict:
    source = FrameSource(video)
    return {
        "median": lambda: BackgroundDetector(estimate_scene(source.sample(15))),
        "humanseg": lambda: SegmenterDetector(HumanSegmenter(HUMANSEG)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--views", default="side,front")
    parser.add_argument("--motions", default="none,pan,shake,handheld")
    parser.add_argument("--seeds", default="7")
    parser.add_argument("--only", default="", help="comma-separated candidate names")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    folder = Path(tempfile.mkdtemp(prefix="bench-camera-"))
    print(f"{'video':28} {'detector':9} {'kept':>6} {'ms':>6} {'moving':>6}  flags")
    for seed in (int(s) for s in args.seeds.split(",")):
        for view in args.views.split(","):
            for motion in args.motions.split(","):
                video = folder / f"{view}_{motion}_{seed}.mp4"
                render_video(
                    video, sample_walker("negative", seed), seconds=args.seconds, size=size,
                    view=view, distractors=("clinician",), camera_motion=motion,
                )  # fmt: skip
                for name, make in candidates(video).items():
                    if args.only and name not in args.only.split(","):
                        continue
                    detector = make()
                    kept, ms, moving, flags = walker_frames_kept(video, detector)
                    print(f"{video.stem:28} {name:9} {kept:6.1%} {ms:6.2f} {moving!s:>6}  {flags}")
                    sys.stdout.flush()


if __name__ == "__main__":
    main()
