"""The composed front end: backends, the `auto` fallback, neural paths end to end, real footage."""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path

import numpy as np
import pytest
from random_models import block_network, humanseg_model, yolo_weights
from synthetic_video import mask_iou, passer_by, render, walker

from screen.errors import ScreenError, WeightsMissing
from screen.frontend.extract import extract_silhouettes
from screen.settings import Settings
from screen.silhouettes.normalize import normalize_sequence

WEIGHT_FREE = Settings.of(detector="background", segmenter="background")


@pytest.fixture
def no_weights_anywhere(tmp_path, monkeypatch):
    """No model file in weights/, the cache, or the environment."""
    monkeypatch.setenv("SCREEN_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("SCREEN_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("SCREEN_YOLO11N_WEIGHTS", "SCREEN_HUMANSEG_MOBILE_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def no_network(monkeypatch):
    block_network(monkeypatch)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    video = tmp_path_factory.mktemp("scene") / "walk.avi"
    truth = render(video, [walker(5.0), passer_by(3.2, seconds=1.2)], seconds=5.0)
    return video, truth


def test_weight_free_front_end_gives_the_walkers_silhouettes(scene):
    video, truth = scene
    result = extract_silhouettes(video, WEIGHT_FREE)
    assert result.flags == ()
    assert len(result.silhouettes) >= 70  # of 75 frames
    ious = [
        mask_iou(
            s.mask.to_frame((result.video.width, result.video.height)),
            truth.masks[s.index]["walker"],
        )
        for s in result.silhouettes
        if len(truth.boxes[s.index]) == 1  # the passer-by crossing in front spoils a few
    ]
    assert np.mean(ious) >= 0.85
    stored = normalize_sequence(result.masks)  # crop-sized masks feed the one normalisation
    assert stored.frames.shape[1:] == (64, 64) and len(stored.kept) >= 70
    assert result.timestamps == sorted(result.timestamps)
    summary = json.loads(json.dumps(result.to_dict()))
    assert result.detect_every == 1  # auto: the cheap background detector sees every frame
    assert summary["coverage"]["participant_frames"] == len(result.silhouettes)
    assert {"decode", "detect", "track", "segment"} <= set(summary["ms_per_frame"])


def test_progress_reports_both_passes(scene):
    last: dict[str, tuple[int, int | None]] = {}
    result = extract_silhouettes(
        scene[0],
        WEIGHT_FREE,
        on_progress=lambda task, done, total: last.update({task: (done, total)}),
    )
    assert list(last) == ["finding people", "segmenting the participant"]
    assert last["finding people"] == (75, 75)  # 5 s at 15 fps
    assert last["segmenting the participant"][0] - 1 == max(result.participant.boxes)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory) -> Path:
    """A rendered walker (4 s, 320x240): shaded like a person, unlike `scene`'s flat figures,
    which PP-HumanSeg does not take for people."""
    from screen.phantom import render_video, sample_walker

    video = tmp_path_factory.mktemp("phantom") / "walk.mp4"
    render_video(video, sample_walker("negative", 7), seconds=4.0, size=(320, 240), view="side")
    return video


def test_a_fresh_install_finds_and_segments_people_with_the_bundled_network(
    phantom, no_weights_anywhere, caplog
):
    # No download anywhere: auto segments with the bundled PP-HumanSegV1-Lite (checksum
    # pinned) and, the camera being fixed, finds people by background subtraction: a choice
    # made by measurement, not a fallback, so nothing to warn about and no flag.
    with caplog.at_level(logging.WARNING, logger="screen.frontend.backends"):
        result = extract_silhouettes(phantom, Settings.of())
    assert result.detector.backend == "background" and result.detector.fixed_camera
    assert result.segmenter.backend == "pp-humanseg-v1-lite"
    assert result.segmenter.model["checksum"] == "verified"
    assert not any(flag.endswith("fallback_weight_free") for flag in result.flags)
    assert caplog.text == ""
    assert result.detect_every == 1
    assert len(result.silhouettes) >= 54  # of 60 frames


def test_the_whole_frame_detector_shares_the_segmenters_predictor(no_weights_anywhere):
    from screen.frontend.backends import build_detector, build_segmenter

    loaded: dict = {}
    detector, choice = build_detector(
        Settings.of().detector, 1, lambda: None, loaded, moving_camera=True
    )
    assert choice.backend == "humanseg" and choice.model["name"] == "pp-humanseg-v1-lite"
    segmenter, _ = build_segmenter(Settings.of(mask_threshold=0.7).segmenter, 1, None, loaded)
    assert detector.segmenter.network is segmenter.network  # loaded once
    assert (detector.segmenter.threshold, segmenter.threshold) == (0.5, 0.7)


def test_auto_falls_back_to_weight_free_with_a_warning_and_flags(
    scene, no_weights_anywhere, caplog, monkeypatch
):
    monkeypatch.setattr("screen.modelfiles.files.bundled_weights_dir", lambda: None)
    video, _ = scene
    with caplog.at_level(logging.WARNING, logger="screen.frontend.backends"):
        result = extract_silhouettes(video, Settings.of())
    assert result.detector.backend == result.segmenter.backend == "background"
    assert "detector_fallback_weight_free" not in result.flags  # chosen: the camera is fixed
    assert "segmenter_fallback_weight_free" in result.flags
    assert "screen weights download pp-humanseg-v2-mobile" in caplog.text
    assert len(result.silhouettes) >= 70


@pytest.mark.parametrize("detector", ["background", "auto"])
def test_paddle_that_cannot_run_falls_back_with_the_reason(
    scene, no_weights_anywhere, caplog, monkeypatch, detector
):
    def broken(*args, **kwargs):
        raise RuntimeError("no usable CPU kernels")

    monkeypatch.setattr("screen.frontend.backends.HumanSegmenter", broken)
    with caplog.at_level(logging.WARNING, logger="screen.frontend.backends"):
        result = extract_silhouettes(scene[0], Settings.of(detector=detector))
    assert result.segmenter.backend == result.detector.backend == "background"
    assert "segmenter_fallback_weight_free" in result.flags
    assert "detector_fallback_weight_free" not in result.flags  # a fixed camera: chosen
    assert "pp-humanseg-v2-mobile" not in caplog.text  # it was the bundled V1 Lite that failed
    assert "segmenter: pp-humanseg-v1-lite cannot run here (no usable CPU kernels)" in caplog.text


def test_a_named_humanseg_detector_without_any_model_is_an_error(
    scene, no_weights_anywhere, monkeypatch
):
    monkeypatch.setattr("screen.modelfiles.files.bundled_weights_dir", lambda: None)
    with pytest.raises(WeightsMissing, match="screen weights download pp-humanseg-v2-mobile"):
        extract_silhouettes(scene[0], Settings.of(detector="humanseg"))
    with pytest.raises(ScreenError, match="--detector-weights names a YOLO file"):
        extract_silhouettes(scene[0], Settings.of(detector="humanseg", detector_weights="x.pt"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (Settings.of(detector="yolo11n"), "screen weights download yolo11n"),
        (Settings.of(detector_weights=Path("/nowhere/y.pt")), "/nowhere/y.pt: not found"),
        (
            Settings.of(detector="background", segmenter="pp-humanseg-v2-lite"),
            "screen weights download pp-humanseg-v2-lite",
        ),
    ],
    ids=["named-model", "auto-with-explicit-path", "named-segmenter"],
)
def test_missing_weights_are_an_error_when_the_user_asked_for_them(
    scene, no_weights_anywhere, options, message
):
    with pytest.raises(WeightsMissing, match=message):
        extract_silhouettes(scene[0], options)


@pytest.fixture
def paddle3_specs(tmp_path, monkeypatch):
    """The shipped specs, with PP-HumanSeg folders holding a paddle-3 export (model.json)."""
    folder = tmp_path / "models"
    folder.mkdir()
    shipped = Path(__file__).resolve().parents[1] / "models"
    for spec in shipped.glob("*.toml"):
        text = spec.read_text()
        if tomllib.loads(text).get("kind") == "segmenter":
            text = text.replace('"model.pdmodel"', '"model.json"')
        (folder / spec.name).write_text(text)
    monkeypatch.setenv("SCREEN_MODELS_DIR", str(folder))


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_yolo_and_pp_humanseg_run_end_to_end_on_random_weights_offline(
    scene, tmp_path_factory, paddle3_specs, no_network
):
    options = Settings.of(
        detector="yolo11n",
        detector_weights=yolo_weights(tmp_path_factory),
        segmenter="pp-humanseg-v2-lite",
        segmenter_weights=humanseg_model(tmp_path_factory, "lite"),
        imgsz=160,
        threads=1,
    )
    result = extract_silhouettes(scene[0], options)
    assert result.detector.backend == "yolo11n"
    assert result.detector.model["checksum"] == "unverified (explicit path)"
    assert result.segmenter.backend == "pp-humanseg-v2-lite"
    assert result.participant.track_id is not None  # random boxes still get tracked and chosen
    assert len(result.silhouettes) == len(result.participant.boxes) > 0
    assert result.detect_every == 2  # auto: a network detects on every other frame
    for silhouette in result.silhouettes[:5]:
        assert silhouette.mask.mask.dtype == np.uint8


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_real_multi_person_footage_is_tracked(shared_data):
    options = Settings.of(detector="background", segmenter="background", fps=10.0, max_side=384)
    result = extract_silhouettes(shared_data / "pets2009_vtest.avi", options)
    long_tracks = [t for t in result.participant.tracks if t.frames >= 50]
    assert len(long_tracks) >= 3  # several pedestrians followed for 5 s or more
    assert result.participant.track_id is not None
    assert "two_walkers" in result.flags  # never one person alone in this footage
    assert len(result.silhouettes) == len(result.participant.boxes)
