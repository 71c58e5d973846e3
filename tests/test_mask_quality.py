"""Mask quality of the offline front end: PP-HumanSegV1-Lite behind the background detector.

A phantom walker's ground-truth silhouettes are exact, so the mean IoU of the
front end's masks against them says how good the silhouettes fed to the gait
model are, for a walker facing the camera, walking away and crossing the view.
`python tests/measure_masks.py` prints the full table.
"""

from __future__ import annotations

import pytest
from measure_masks import V1_LITE, render, score_video, summarise

from screen.frontend.backends import StageChoice
from screen.frontend.extract import Frontend
from screen.frontend.segment import HumanSegmenter
from screen.settings import Settings

MIN_IOU = 0.80
MIN_COVERAGE = 0.9  #: share of frames with the walker in view that got a silhouette


@pytest.fixture(scope="module")
def lite_frontend() -> Frontend:
    """The offline front end: weight-free detector, PP-HumanSegV1-Lite segmenter."""
    if not (V1_LITE / "deploy.yaml").is_file():
        pytest.skip(f"PP-HumanSegV1-Lite not found at {V1_LITE}")
    pytest.importorskip("paddle", reason="paddle (Paddle Inference) is not installed")
    segmenter = HumanSegmenter(V1_LITE, threads=1)
    choice = StageChoice("pp-humanseg-v2-lite", {"path": str(V1_LITE)})
    return Frontend(Settings.of(detector="background"), segmenter=(segmenter, choice))


@pytest.mark.parametrize(
    ("view", "seed", "seconds", "facings"),
    [("front", 1, 7.0, ("frontal", "back")), ("side", 2, 5.0, ("side",))],
    ids=["front", "side"],
)
def test_v1_lite_masks_match_the_phantom_ground_truth(
    lite_frontend, tmp_path, view, seed, seconds, facings
):
    video = render(tmp_path, view, seed, seconds, (640, 360))
    summary = summarise([score_video(lite_frontend, video)])
    for facing in facings:
        assert facing in summary, f"no {facing} frames in the {view} video"
        row = summary[facing]
        assert row["coverage"] >= MIN_COVERAGE, f"{facing}: {row}"
        assert row["iou"] >= MIN_IOU, f"{facing}: mean mask IoU {row['iou']:.3f} < {MIN_IOU}"
