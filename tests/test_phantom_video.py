"""Phantom videos: reproducible, and the ground truth matches what the video shows."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from screen.cli import main
from screen.errors import ScreenError
from screen.phantom import render_video, sample_walker
from screen.phantom.camera import make_stage
from screen.phantom.scene import background_plate

SIZE = (480, 270)
SUFFIXES = (".mp4", ".json", ".masks.npz")


def decode(path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return np.stack(frames)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A 2 s clip of a positive walker with a standing clinician."""
    out = tmp_path_factory.mktemp("phantom") / "walk.mp4"
    params = sample_walker("positive", 21)
    truth = render_video(out, params, seconds=2.0, size=SIZE, distractors=["clinician"])
    return params, out, truth


def test_ground_truth_json_has_every_promised_key(rendered):
    params, out, truth_path = rendered
    truth = json.loads(truth_path.read_text())
    assert truth_path == out.with_suffix(".json")
    assert truth["label"] == "positive" and truth["seed"] == 21
    assert truth["params"] == json.loads(json.dumps(params.to_dict()))
    assert truth["fps"] == 15 and truth["size"] == list(SIZE) and truth["frames"] == 30
    assert truth["masks"] == "walk.masks.npz" and truth["view_name"] == "000_180"
    assert "clinical accuracy" in truth["note"]
    assert len(truth["boxes"]) == 30
    assert [d["kind"] for d in truth["distractors"]] == ["clinician"]


def test_masks_and_boxes_agree_and_the_clinician_is_labelled(rendered):
    _, out, truth_path = rendered
    truth = json.loads(truth_path.read_text())
    masks = np.load(out.with_suffix(".masks.npz"))["masks"]
    assert masks.dtype == np.bool_ and masks.shape == (30, SIZE[1], SIZE[0])
    for mask, entry in zip(masks, truth["boxes"], strict=True):
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert entry["participant"] == [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]
        assert entry["others_kind"] == ["clinician"] and len(entry["others"]) == 1
        x1, y1, x2, y2 = entry["others"][0]
        assert 0 <= x1 < x2 <= SIZE[0] and 0 <= y1 < y2 <= SIZE[1]


def test_the_video_foreground_is_where_the_masks_say(tmp_path):
    """Decoded frames differ from the empty room inside the mask and match it outside."""
    params = sample_walker("negative", 5)
    out = tmp_path / "walk.mp4"
    render_video(out, params, seconds=2.0, size=SIZE)
    masks = np.load(out.with_suffix(".masks.npz"))["masks"]
    stage = make_stage(params.scene, "front", SIZE, params.body.height_m)
    plate = background_plate(params.scene, stage).astype(np.int16)
    frames = decode(out)
    assert len(frames) == len(masks) == 30
    inside, outside, ious = [], [], []
    for frame, mask in zip(frames, masks, strict=True):
        changed = np.abs(frame.astype(np.int16) - plate).max(axis=2) > 30
        # Anti-aliased, compressed edges are neither: leave a 2-pixel band out.
        near = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        inside.append(changed[mask].mean())
        outside.append(changed[~near].mean())
        ious.append((changed & mask).sum() / (changed | mask).sum())
    assert np.mean(inside) > 0.9
    assert np.mean(outside) < 0.005
    assert np.mean(ious) > 0.85


def test_same_seed_same_bytes(tmp_path):
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name / "walk.mp4"
        render_video(
            out, sample_walker("neutral", 9), seconds=1.0, size=(320, 240), distractors=["passerby"]
        )
        outputs.append([out.with_suffix(suffix).read_bytes() for suffix in SUFFIXES])
    assert outputs[0] == outputs[1]


def test_the_passerby_crosses_once_and_leaves(tmp_path):
    out = tmp_path / "walk.mp4"
    truth_path = render_video(
        out, sample_walker("neutral", 4), seconds=12.0, size=(320, 180), distractors=["passerby"]
    )
    seen = [bool(entry["others"]) for entry in json.loads(truth_path.read_text())["boxes"]]
    assert 0 < sum(seen) < len(seen) / 2  # briefly
    first, last = seen.index(True), len(seen) - 1 - seen[::-1].index(True)
    assert all(seen[first : last + 1])  # one crossing, no gaps


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label", "sick"], "unknown label"),
        (["--view", "top"], "unknown view"),
        (["--size", "big"], "WIDTHxHEIGHT"),
        (["--size", "321x240"], "even"),
        (["--distractor", "dog"], "unknown distractor"),
    ],
)
def test_cli_video_errors_are_one_line(tmp_path, capsys, args, message):
    base = ["phantom", "video", str(tmp_path / "walk.mp4"), "--seed", "1", "--seconds", "0.2"]
    if "--label" not in args:
        base += ["--label", "positive"]
    assert main(base + args) == 1
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error
    assert not (tmp_path / "walk.mp4").exists()


def test_cli_video_refuses_other_containers(tmp_path, capsys):
    code = main(
        [
            "phantom",
            "video",
            str(tmp_path / "walk.avi"),
            "--label",
            "positive",
            "--seed",
            "1",
            "--seconds",
            "0.2",
        ]
    )
    assert code == 1 and ".mp4" in capsys.readouterr().err


def test_cli_video_writes_video_truth_and_masks(tmp_path, capsys):
    out = tmp_path / "walk.mp4"
    code = main(
        [
            "phantom",
            "video",
            str(out),
            "--label",
            "negative",
            "--seed",
            "3",
            "--seconds",
            "1",
            "--size",
            "320x240",
            "--fps",
            "30",
            "--view",
            "side",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "negative phantom" in printed and "30 frames" in printed
    truth = json.loads(out.with_suffix(".json").read_text())
    assert truth["view_name"] == "090_270" and truth["frames"] == 30 and truth["fps"] == 30
    assert len(decode(out)) == 30


def test_a_second_pass_follows_an_absence_with_empty_masks(tmp_path):
    video = tmp_path / "twice.mp4"
    params = sample_walker("neutral", 4)
    truth = json.loads(render_video(video, params, view="side", size=(320, 180), seconds=14,
                                    passes=2).read_text())  # fmt: skip
    masks = np.load(video.with_suffix(".masks.npz"))["masks"]
    seen = [entry["participant"] is not None for entry in truth["boxes"]]
    assert truth["passes"] == 2 and len(masks) == len(seen) == truth["frames"]
    assert seen == [bool(mask.any()) for mask in masks]
    changes = np.flatnonzero(np.diff(np.array(seen, int)))
    assert len(changes) >= 3 and np.diff(changes).max() >= 3.5 * 15  # in, out 3.5 s+, in again
    with pytest.raises(ScreenError, match="front or side"):
        render_video(tmp_path / "o.mp4", params, view="oblique", seconds=1, passes=2)
