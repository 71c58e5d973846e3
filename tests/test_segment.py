"""Segmenters: PP-HumanSeg through Paddle Inference, and the weight-free background segmenter."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import yaml
from random_models import humanseg_model, oracle_model
from synthetic_video import HEIGHT, WIDTH, Actor, draw_figure, mask_iou, render, walker

from screen.errors import FileProblem
from screen.frontend.background import estimate_scene
from screen.frontend.frames import Frame
from screen.frontend.segment import (
    BackgroundSegmenter,
    HumanSegmenter,
    expand_box,
    person_probability,
)
from screen.frontend.video import FrameSource
from screen.settings import SegmenterSettings


def figure_frame(x: float, feet: float, height: float, level: int = 255, ground: int = 60):
    """A dark frame with one bright figure; returns the frame, its true mask and box."""
    actor = Actor("one", lambda t: (x, feet), lambda t: height, (level,) * 3, stride=1.0)
    image = np.full((HEIGHT, WIDTH, 3), ground, np.uint8)
    draw_figure(image, actor, 0.2)
    truth = np.zeros((HEIGHT, WIDTH), np.uint8)
    draw_figure(truth, actor, 0.2, colour=255)
    ys, xs = np.nonzero(truth)
    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
    return Frame(0, 0.0, image), truth, box


@pytest.fixture(scope="session")
def oracle(tmp_path_factory):
    return oracle_model(tmp_path_factory)


@pytest.mark.parametrize(
    ("x", "feet", "height"),
    [(160, 200, 120), (12, 220, 150), (300, 238, 90), (160, 235, 230)],
    ids=["centre", "left-edge", "right-bottom", "taller-than-frame-is-wide"],
)
def test_humanseg_maps_the_crop_back_to_frame_pixels(oracle, x, feet, height):
    frame, truth, box = figure_frame(x, feet, height)
    segmenter = HumanSegmenter(oracle, threads=1)
    crop = segmenter.segment(frame, box)
    assert (crop.x, crop.y, crop.x + crop.mask.shape[1], crop.y + crop.mask.shape[0]) == (
        expand_box(box, frame.size, 0.1)
    )
    assert set(np.unique(crop.mask)) <= {0, 255}
    assert mask_iou(crop.to_frame(frame.size), truth) >= 0.9


def test_humanseg_threshold_is_configurable(oracle):
    # brightness 133 -> the oracle's person probability is about 0.7
    frame, truth, box = figure_frame(160, 200, 120, level=133)
    loose = HumanSegmenter(oracle, SegmenterSettings(mask_threshold=0.5), threads=1).segment(
        frame, box
    )
    strict = HumanSegmenter(oracle, SegmenterSettings(mask_threshold=0.9), threads=1).segment(
        frame, box
    )
    assert mask_iou(loose.to_frame(frame.size), truth) >= 0.8
    assert strict.area == 0


@pytest.mark.parametrize("variant", ["mobile", pytest.param("lite", marks=pytest.mark.slow)])
def test_random_weight_pp_humanseg_v2_runs_with_one_predictor(
    tmp_path_factory, monkeypatch, variant
):
    from paddle import inference

    model = humanseg_model(tmp_path_factory, variant)
    created = []
    real = inference.create_predictor
    monkeypatch.setattr(
        inference, "create_predictor", lambda config: created.append(1) or real(config)
    )
    segmenter = HumanSegmenter(model, threads=1)
    assert segmenter.network.mkldnn is False  # a paddle-3 export (model.json): no oneDNN
    for x in (80, 160, 240):
        frame, _, box = figure_frame(x, 200, 120)
        crop = segmenter.segment(frame, box)
        left, top, right, bottom = expand_box(box, frame.size, 0.1)
        assert crop.mask.shape == (bottom - top, right - left)
        assert crop.mask.dtype == np.uint8 and set(np.unique(crop.mask)) <= {0, 255}
    assert len(created) == 1


def test_onednn_failure_falls_back_to_plain_cpu_kernels(tmp_path_factory, caplog):
    model = humanseg_model(tmp_path_factory, "lite")
    frame, _, box = figure_frame(160, 200, 120)
    plain = HumanSegmenter(model, threads=1, mkldnn=False).segment(frame, box)
    with caplog.at_level(logging.WARNING, logger="screen.frontend.segment"):
        segmenter = HumanSegmenter(model, threads=1, mkldnn=True)
    assert segmenter.network.mkldnn is False
    assert "oneDNN cannot run" in caplog.text
    assert np.array_equal(segmenter.segment(frame, box).mask, plain.mask)


def _no_deploy(folder):
    (folder / "deploy.yaml").unlink()


def _missing_params(folder):
    deploy = yaml.safe_load((folder / "deploy.yaml").read_text())
    deploy["Deploy"]["params"] = "gone.pdiparams"
    (folder / "deploy.yaml").write_text(yaml.safe_dump(deploy))


def _not_yaml(folder):
    (folder / "deploy.yaml").write_text("Deploy: [unclosed")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_no_deploy, "no deploy.yaml"),
        (_missing_params, "missing from the model folder"),
        (_not_yaml, "not a PaddleSeg deploy config"),
    ],
)
def test_a_broken_model_folder_is_a_file_problem(oracle, tmp_path, damage, message):
    folder = tmp_path / "model"
    folder.mkdir()
    for file in oracle.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    damage(folder)
    with pytest.raises(FileProblem, match=message):
        HumanSegmenter(folder)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (np.array([[[[0.2]], [[0.8]]]]), 0.8),  # softmax already applied
        (np.array([[[[0.0]], [[np.log(4.0)]]]]), 0.8),  # logits
        (np.array([[[1]]]), 1.0),  # argmax label map
    ],
    ids=["softmax", "logits", "argmax"],
)
def test_person_probability_reads_every_export_flavour(output, expected):
    assert person_probability(output, channel=1)[0, 0] == pytest.approx(expected)


# --- weight-free -------------------------------------------------------------------


def _background_masks(tmp_path, reflection: float, reflections: bool = True):
    video = tmp_path / "walk.avi"
    truth = render(video, [walker(3.0)], seconds=3.0, reflection=reflection)
    source = FrameSource(video)
    segmenter = BackgroundSegmenter(estimate_scene(source.sample(15)), reflections=reflections)
    results = []
    for frame in source.frames():
        box = truth.boxes[frame.index]["walker"].copy()
        box[3] += 40 if reflection else 0  # a detector's box takes the reflection in too
        crop = segmenter.segment(frame, box)
        results.append((crop.to_frame(frame.size), truth.masks[frame.index]["walker"]))
    return results


def _bottom(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.any(axis=1))[-1])


def test_background_segmenter_matches_the_true_silhouette(tmp_path):
    results = _background_masks(tmp_path, reflection=0.0)
    ious = [mask_iou(found, true) for found, true in results]
    assert np.mean(ious) >= 0.85 and min(ious) >= 0.8
    assert all(abs(_bottom(found) - _bottom(true)) <= 3 for found, true in results)  # feet kept


def test_floor_reflection_is_not_counted_as_legs(tmp_path):
    cut = _background_masks(tmp_path, reflection=0.4)
    kept = _background_masks(tmp_path, reflection=0.4, reflections=False)
    assert np.mean([abs(_bottom(f) - _bottom(t)) for f, t in cut]) <= 3
    assert np.mean([abs(_bottom(f) - _bottom(t)) for f, t in kept]) >= 20
    assert np.mean([mask_iou(f, t) for f, t in cut]) >= 0.8
