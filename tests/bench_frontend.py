"""Per-stage milliseconds per frame of the video front end, and weight-free mask IoU on phantoms.

Run: .venv/bin/python tests/bench_frontend.py [--threads 2] [--frames 40]
Neural models are random-weight copies of the real architectures (built here, no
download), so their timings are real and their masks meaningless; a trained
YOLO proposes a handful of boxes, so the random YOLO is left unbiased (few boxes)
to keep non-maximum suppression realistic.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "bench-ultralytics"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from random_models import humanseg_model  # noqa: E402
from synthetic_video import mask_iou  # noqa: E402

from screen.frontend.background import estimate_scene  # noqa: E402
from screen.frontend.detect import BackgroundDetector, YoloDetector  # noqa: E402
from screen.frontend.extract import extract_silhouettes
from screen.frontend.segment import BackgroundSegmenter, HumanSegmenter  # noqa: E402
from screen.frontend.track import ByteTracker  # noqa: E402
from screen.frontend.video import FrameSource  # noqa: E402
from screen.phantom import render_video, sample_walker  # noqa: E402
from screen.settings import (
    DetectorSettings,
    Settings,  # noqa: E402
)

PETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pets2009_vtest.avi"


class Folders:
    """The one method of pytest's TempPathFactory that random_models uses."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def mktemp(self, name: str) -> Path:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def unbiased_yolo(folder: Path) -> Path:
    import torch
    from ultralytics import YOLO

    torch.manual_seed(0)
    path = folder / "yolo11n-random-unbiased.pt"
    YOLO("yolo11n.yaml").save(str(path))
    return path


def per_frame_ms(run, items) -> float:
    run(items[0])  # warm-up: first calls allocate and compile
    started = time.perf_counter()
    for item in items[1:]:
        run(item)
    return 1000 * (time.perf_counter() - started) / max(len(items) - 1, 1)


def phantom(folder: Path, seed: int, view: str, size, seconds: float):
    video = folder / f"{view}-{seed}-{size[0]}.mp4"
    truth = render_video(
        video,
        sample_walker("neutral", seed),
        view=view,
        size=size,
        seconds=seconds,
        distractors=("clinician", "passerby"),
    )
    boxes = [e["participant"] for e in json.loads(truth.read_text())["boxes"]]
    return video, boxes, np.load(video.with_suffix(".masks.npz"))["masks"]


def timings(folder: Path, threads: int, count: int) -> list[tuple[str, str, float]]:
    factory = Folders(folder)
    video, boxes, _ = phantom(folder, 1, "side", (1280, 720), 6.0)
    source = FrameSource(video)
    frames = [f for f in source.frames()][:count]
    background = estimate_scene(source.sample(15))
    rows = []
    started = time.perf_counter()
    decoded = sum(1 for _ in source.frames())
    rows.append(
        ("decode + resample", "1280x720 mp4v", 1000 * (time.perf_counter() - started) / decoded)
    )
    yolo = unbiased_yolo(folder)
    for imgsz in (640, 320):
        detector = YoloDetector(yolo, DetectorSettings(imgsz=imgsz), threads=1)
        rows.append(
            (f"detect: YOLO11n imgsz {imgsz}", "1280x720", per_frame_ms(detector.detect, frames))
        )
    detector = BackgroundDetector(background)
    rows.append(("detect: background", "1280x720", per_frame_ms(detector.detect, frames)))
    pairs = [(f, np.array(boxes[f.index], np.float32)) for f in frames]
    for variant in ("mobile", "lite"):
        for paddle_threads in sorted({1, threads}):
            segmenter = HumanSegmenter(humanseg_model(factory, variant), threads=paddle_threads)
            ms = per_frame_ms(lambda pair, s=segmenter: s.segment(*pair), pairs)
            name = f"segment: PP-HumanSegV2-{variant.title()}, {paddle_threads} thread(s)"
            rows.append((name, "one crop, 192x192", ms))
    segmenter = BackgroundSegmenter(background)
    ms = per_frame_ms(lambda pair: segmenter.segment(*pair), pairs)
    rows.append(("segment: background", "1280x720 frame", ms))
    if PETS.is_file():
        pets = FrameSource(PETS)
        pets_frames = [f for _, f in zip(range(count * 2), pets.frames(), strict=False)]
        detector = BackgroundDetector(estimate_scene(pets.sample(15)))
        detections = [detector.detect(f) for f in pets_frames]
        tracker = ByteTracker()
        people = np.mean([len(d) for d in detections])
        rows.append(
            (
                "track: ByteTrack",
                f"PETS, {people:.1f} boxes/frame",
                per_frame_ms(tracker.update, detections),
            )
        )
    return rows


def mask_ious(folder: Path) -> list[tuple[str, int, float, float, tuple]]:
    rows = []
    options = Settings.of(detector="background", segmenter="background")
    for view, seeds in (("side", range(1, 9)), ("front", range(1, 5))):
        for seed in seeds:
            video, _, masks = phantom(folder, seed, view, (640, 360), 8.0)
            result = extract_silhouettes(video, options)
            size = (result.video.width, result.video.height)
            ious = [mask_iou(s.mask.to_frame(size), masks[s.index]) for s in result.silhouettes]
            rows.append((view, seed, float(np.mean(ious)), float(np.median(ious)), result.flags))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="also time Paddle with this many")
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    import cv2
    import torch

    # torch on one thread: more than the free cores makes it far slower (see FrontendOptions)
    torch.set_num_threads(1)
    cv2.setNumThreads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("| stage | input | ms per frame |\n|---|---|---|")
        for stage, what, ms in timings(folder, args.threads, args.frames):
            print(f"| {stage} | {what} | {ms:.1f} |")
        print("\n| view | seed | mask IoU mean | median | flags |\n|---|---|---|---|---|")
        for view, seed, mean, median, flags in mask_ious(folder):
            print(f"| {view} | {seed} | {mean:.3f} | {median:.3f} | {', '.join(flags) or '-'} |")


if __name__ == "__main__":
    main()
