"""Automatic orientation: sideways or upside-down videos are turned upright, upright ones never.

Real footage (PETS 2009, the phantom examples) is re-encoded turned 90/180/270
degrees clockwise with no rotation tag, as a phone does when it stores a
portrait recording as landscape; the check must find the turn back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SHARED_DATA

from screen.cli import main
from screen.frontend.extract import Frontend, extract_silhouettes
from screen.frontend.orientation import (
    ORIENTATION_SAMPLES,
    OrientationDecision,
    PersonProbability,
    decide_rotation,
    segmenter_person_probability,
    turn,
)
from screen.frontend.video import FrameSource
from screen.outputs.result import PipelineInfo, RotationInfo, StageInfo
from screen.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
V1_LITE = "human_pp_humansegv1_lite_192x192_inference_model_with_softmax"
TURNS = (0, 90, 180, 270)
WEIGHT_FREE = {"detector": "background", "segmenter": "background", "max_side": 384}


def write_turned(source: Path, target: Path, rotation: int, frames: int | None = None) -> Path:
    """`source` re-encoded with every frame turned `rotation` degrees clockwise, no rotation tag."""
    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS)
    writer = None
    count = 0
    while frames is None or count < frames:
        ok, image = capture.read()
        if not ok:
            break
        image = turn(image, rotation)
        if writer is None:
            size = (image.shape[1], image.shape[0])
            writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        writer.write(image)
        count += 1
    capture.release()
    assert writer is not None, f"{source} gave no frames"
    writer.release()
    return target


def undo(rotation: int) -> int:
    """The clockwise turn that brings back a picture turned `rotation` degrees clockwise."""
    return (360 - rotation) % 360


# --- the rule, with a fake segmenter (no weights, no shared data) ---------------


def walkers(count: int = ORIENTATION_SAMPLES, height: int = 240, width: int = 320) -> list:
    """Frames of two upright 'people' (white body, red head on top) crossing a textured floor."""
    rng = np.random.default_rng(0)
    scene = rng.integers(40, 120, (height, width, 3), dtype=np.uint8)
    frames = []
    for k in range(count):
        image = scene.copy()
        for start, top in ((10, 60), (250, 110)):
            x = int(start + (1 if start < 100 else -1) * k * 25)
            image[top : top + 14, x + 3 : x + 17] = (0, 0, 255)  # head
            image[top + 14 : top + 80, x : x + 20] = (255, 255, 255)  # body
        frames.append(image)
    return frames


def fake_segmenter(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Sure of a person (0.95) only where the red head sits above the white body, else 0.75."""
    out = []
    for image in images:
        b, g, r = (image[..., i].astype(int) for i in range(3))
        body = (b > 200) & (g > 200) & (r > 200)
        head = (r > 200) & (g < 80) & (b < 80)
        probability = np.zeros(image.shape[:2], np.float32)
        if body.any() and head.any():
            (by, bx), (hy, hx) = (np.argwhere(m).mean(axis=0) for m in (body, head))
            upright = by - hy > abs(bx - hx)
            probability[body | head] = 0.95 if upright else 0.75
        out.append(probability)
    return out


@pytest.mark.parametrize("rotation", TURNS)
def test_turned_frames_are_turned_back_with_a_segmenter(rotation):
    samples = [turn(image, rotation) for image in walkers()]
    decision = decide_rotation(samples, fake_segmenter)
    assert decision.rotation == undo(rotation), decision
    if rotation:
        assert f"turned {undo(rotation)} degrees clockwise" in decision.reason
    assert all(turn(image, decision.rotation).shape[0] == 240 for image in samples)  # upright


def test_without_a_segmenter_sideways_is_reported_but_not_guessed():
    samples = [turn(image, 90) for image in walkers()]
    decision = decide_rotation(samples, None)
    assert decision.rotation == 0  # 90 or 270 cannot be told from shape: no gamble
    assert decision.cue == "shape" and decision.left_sideways
    assert "sideways" in decision.reason and "--rotate" in decision.reason
    assert decide_rotation(walkers(), None).rotation == 0


def test_an_unsure_segmenter_never_turns():
    def flat(images: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [np.full(image.shape[:2], 0.9, np.float32) for image in images]

    for rotation in TURNS:
        decision = decide_rotation([turn(image, rotation) for image in walkers()], flat)
        assert decision.rotation == 0, decision


def test_no_motion_keeps_the_orientation():
    still = [walkers()[0]] * ORIENTATION_SAMPLES
    decision = decide_rotation([turn(image, 90) for image in still], fake_segmenter)
    assert decision == OrientationDecision(0, decision.reason, "none", seconds=decision.seconds)
    assert "no moving people" in decision.reason


# --- real footage and the real segmenter ------------------------------------------


@pytest.fixture(scope="module")
def v1_lite() -> Path:
    """PP-HumanSegV1-Lite: bundled in weights/, else ../shared/data, else a clean skip."""
    pytest.importorskip("paddle")
    for folder in (ROOT / "weights" / V1_LITE, SHARED_DATA / V1_LITE):
        if folder.is_dir():
            return folder
    pytest.skip("PP-HumanSegV1-Lite not found (weights/ or ../shared/data)")


@pytest.fixture(scope="module")
def person_probability(v1_lite) -> PersonProbability:
    from screen.frontend.segment import HumanSegmenter

    probability = segmenter_person_probability(HumanSegmenter(v1_lite, threads=1))
    assert probability is not None
    return probability


REAL = {  # name -> (source, frames kept)
    "pets": ("pets2009_vtest.avi", 60),
    "phantom_negative": ("phantom_negative.mp4", None),
    "phantom_neutral": ("phantom_neutral.mp4", None),
    "phantom_positive": ("phantom_positive.mp4", None),
}


def real_source(name: str) -> Path:
    """The upright original: PETS from ../shared/data (or a clean skip), phantoms shipped."""
    if name != "pets":
        return EXAMPLES / REAL[name][0]
    if not (SHARED_DATA / REAL[name][0]).is_file():
        pytest.skip(f"real test material not found at {SHARED_DATA}")
    return SHARED_DATA / REAL[name][0]


@pytest.fixture(scope="module")
def turned(tmp_path_factory) -> Callable[[str, int], Path]:
    """(name, rotation) -> a turned copy, written once per module."""
    folder = tmp_path_factory.mktemp("turned")
    made: dict[tuple[str, int], Path] = {}

    def get(name: str, rotation: int) -> Path:
        if (name, rotation) not in made:
            target = folder / f"{name}_{rotation}.mp4"
            made[name, rotation] = write_turned(real_source(name), target, rotation, REAL[name][1])
        return made[name, rotation]

    return get


@pytest.mark.parametrize("name", list(REAL))
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_real_turned_videos_are_turned_back(name, rotation, turned, person_probability):
    samples = FrameSource(turned(name, rotation)).sample(ORIENTATION_SAMPLES)
    decision = decide_rotation(samples, person_probability)
    assert decision.rotation == undo(rotation), decision
    assert decision.cue == "segmenter"


@pytest.mark.parametrize("name", list(REAL))
def test_real_upright_videos_stay_as_they_are(name, person_probability):
    samples = FrameSource(real_source(name)).sample(ORIENTATION_SAMPLES)
    decision = decide_rotation(samples, person_probability)
    assert decision.rotation == 0, decision
    assert decision.upright_share is not None and decision.upright_share > 0.9
    assert decision.margin > 0  # upright led upside down


@pytest.fixture(scope="module")
def network_settings(v1_lite) -> Settings:
    return Settings.of(
        detector="background",
        segmenter="pp-humanseg-v1-lite",
        segmenter_weights=v1_lite,
        fps=7.5,  # half the frames: fast enough for a test
        max_side=384,  # walkers stay well over 64 pixels tall
        segment_batch=1,  # the shape the predictor was built with: no second warm-up
        threads=1,
    )


@pytest.mark.parametrize(
    ("name", "rotation"),
    [pytest.param("pets", 90, marks=pytest.mark.slow), ("phantom_negative", 270)],
)
def test_a_sideways_video_gives_the_silhouettes_of_the_upright_one(
    name, rotation, turned, network_settings
):
    frontend = Frontend(network_settings)
    upright = frontend.extract(turned(name, 0), keep_masks=False)
    sideways = frontend.extract(turned(name, rotation), keep_masks=False)
    assert len(upright.silhouettes) >= 30
    difference = abs(len(sideways.silhouettes) - len(upright.silhouettes))
    assert difference <= 0.05 * len(upright.silhouettes)
    video = sideways.to_dict()["video"]
    assert (video["rotation"], video["rotation_source"]) == (undo(rotation), "auto")
    assert (video["width"], video["height"]) == (upright.video.width, upright.video.height)
    assert "turned" in video["rotation_reason"]
    assert video["orientation"]["rotation"] == undo(rotation)
    assert "orientation_once" in sideways.ms_per_frame
    assert upright.to_dict()["video"]["rotation_source"] == "tag"
    assert upright.video.rotation == 0


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_the_result_and_the_overlay_carry_the_rotation_applied(turned, v1_lite, tmp_path):
    sideways = turned("phantom_negative", 90)  # a 360x640 portrait walk stored as 640x360
    out, overlay = tmp_path / "result.json", tmp_path / "check.mp4"
    args = ["--detector", "background", "--segmenter", "pp-humanseg-v1-lite",
            "--segmenter-weights", str(v1_lite), "--quiet"]  # fmt: skip
    assert main([str(sideways), *args, "--json", str(out), "--overlay", str(overlay)]) == 0
    rotation = json.loads(out.read_text(encoding="utf-8"))["pipeline"]["rotation"]
    assert (rotation["degrees"], rotation["source"]) == (270, "auto")
    assert "turned 270 degrees clockwise" in rotation["reason"]
    capture = cv2.VideoCapture(str(overlay))
    size = (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    capture.release()
    assert size == (360, 640)  # drawn on the upright frames the boxes belong to


def test_rotate_overrides_and_weight_free_keeps_sideways(turned, caplog):
    caplog.set_level(logging.WARNING)  # an earlier `screen --quiet` may have raised the level
    sideways = turned("phantom_neutral", 90)
    kept = extract_silhouettes(sideways, Settings.of(**WEIGHT_FREE))
    assert kept.video.rotation == 0 and kept.rotation_source == "tag"
    assert "--rotate" in kept.rotation_reason  # says why it did not turn, and what to do
    assert "lie sideways" in caplog.text and "--rotate 90" in caplog.text  # on stderr too
    assert "sideways_video" in kept.flags  # and in the batch table's flags column

    forced = extract_silhouettes(sideways, Settings.of(**WEIGHT_FREE, rotate=270))
    assert (forced.video.rotation, forced.rotation_source, forced.orientation) == (
        270,
        "user",
        None,
    )
    assert forced.rotation_reason == "set by --rotate"
    assert forced.silhouettes and "sideways_video" not in forced.flags


def test_the_check_can_be_switched_off(turned):
    off = extract_silhouettes(
        turned("phantom_neutral", 90), Settings.of(**WEIGHT_FREE, orient=False)
    )
    assert (off.video.rotation, off.rotation_source, off.orientation) == (0, "tag", None)
    assert "orientation_once" not in off.ms_per_frame and "sideways_video" not in off.flags


def test_an_old_result_without_rotation_reads_back():
    stage = StageInfo("auto", "background")
    info = PipelineInfo(stage, "bytetrack", stage, 15.0, 30, 15, "fp32", 1, 4, 1, {})
    assert "rotation" not in info.to_dict() and PipelineInfo.from_dict(info.to_dict()) == info
    turned_info = replace(info, rotation=RotationInfo(90, "auto", "why"))
    keys = list(turned_info.to_dict())
    assert keys.index("rotation") == keys.index("classifier") + 1  # after the stages
    assert PipelineInfo.from_dict(turned_info.to_dict()) == turned_info
