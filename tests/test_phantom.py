"""Phantom walkers: labels follow severity, the posture signal reaches the silhouettes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from screen.errors import ScreenError
from screen.model.classes import Label
from screen.phantom import (
    SEVERITY_BANDS,
    VIEW_NAMES,
    WalkerParams,
    label_for_severity,
    render_masks,
    sample_walker,
)
from screen.silhouettes.normalize import normalize_sequence

SMALL = {"frames": 24, "size": (720, 1280), "scale": 0.25}


@pytest.mark.parametrize(
    ("severity", "label"),
    [
        (0.0, Label.NEGATIVE),
        (9.99, Label.NEGATIVE),
        (10.0, Label.NEUTRAL),
        (19.99, Label.NEUTRAL),
        (20.0, Label.POSITIVE),
        (38.0, Label.POSITIVE),
    ],
)
def test_severity_thresholds(severity, label):
    assert label_for_severity(severity) is label


@pytest.mark.parametrize("label", list(Label))
def test_sampled_walkers_carry_their_label_in_their_severity(label):
    low, high = SEVERITY_BANDS[label]
    for seed in range(50):
        params = sample_walker(label, seed)
        assert params.label is label
        assert low <= params.posture.severity_deg < high
        assert label_for_severity(params.posture.severity_deg) is label


def test_one_seed_is_one_person_whose_asymmetry_grows_with_severity():
    for seed in range(20):
        healthy, scoliotic = sample_walker("negative", seed), sample_walker("positive", seed)
        assert healthy.body == scoliotic.body and healthy.scene == scoliotic.scene
        side = scoliotic.posture.side
        # Along the curve's side, every asymmetry is larger for the larger severity.
        for name in ("shoulder_height_cm", "trunk_shift_cm", "trunk_lean_deg"):
            assert side * getattr(scoliotic.posture, name) > side * getattr(healthy.posture, name)


def test_healthy_walkers_keep_small_natural_asymmetries():
    shoulders = [sample_walker("negative", seed).posture.shoulder_height_cm for seed in range(60)]
    assert 0.2 < np.mean(np.abs(shoulders)) < 2.5  # neither perfectly symmetric nor scoliotic
    assert min(shoulders) < 0 < max(shoulders)  # both sides


def test_params_round_trip_through_json():
    params = sample_walker("neutral", 7)
    text = json.dumps(params.to_dict())
    assert WalkerParams.from_dict(json.loads(text)) == params


def test_same_seed_same_mask_bytes_and_another_seed_differs():
    first = render_masks(sample_walker("positive", 3), **SMALL)
    again = render_masks(sample_walker("positive", 3), **SMALL)
    other = render_masks(sample_walker("positive", 4), **SMALL)
    assert first.dtype == np.bool_ and first.shape == (24, 320, 180)
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


@pytest.mark.parametrize("view", list(VIEW_NAMES))
def test_every_view_keeps_a_whole_walker_in_frame(view):
    masks = render_masks(sample_walker("neutral", 11), view=view, frames=150, scale=0.25)
    assert masks.any(axis=(1, 2)).all()  # somebody in every frame
    # Nobody is cut at the left or right edge of the picture.
    assert not masks[:, :, 0].any() and not masks[:, :, -1].any()
    assert len(normalize_sequence(masks).frames) == len(masks)


def test_walker_comes_towards_the_camera_and_goes_away_in_the_front_view():
    masks = render_masks(sample_walker("negative", 2), frames=150, size=(720, 1280), scale=0.25)
    heights = masks.any(axis=2).sum(axis=1)  # [T] silhouette height in pixels
    assert heights.max() > 2.2 * heights.min()  # 1.4 m vs 4.2 m from the camera


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sample_walker("scoliotic", 1), "unknown label"),
        (lambda: render_masks(sample_walker("neutral", 1), view="top", frames=2), "unknown view"),
        (lambda: render_masks(sample_walker("neutral", 1), fps=0, frames=2), "frame rate"),
        (lambda: render_masks(sample_walker("neutral", 1), seconds=0.01), "at least one frame"),
    ],
)
def test_bad_requests_raise_actionable_errors(call, message):
    with pytest.raises(ScreenError, match=message):
        call()


def shoulder_asymmetry(frames: np.ndarray) -> float:
    """Mean |left - right| shoulder-top height in pixels over 64x64 stored silhouettes.

    The shoulder columns sit at 20% and 80% of the body's width at chest height
    (row 18, below the shoulders, arms included); each shoulder's height is the
    first foreground row around its column.
    """
    differences = []
    for frame in frames > 127:
        columns = np.flatnonzero(frame[18])
        if len(columns) < 4:
            continue
        left, right = columns[0], columns[-1]
        tops = []
        for column in (round(left + 0.2 * (right - left)), round(left + 0.8 * (right - left))):
            tops.append(int(np.argmax(frame[:, column - 1 : column + 2].any(axis=1))))
        differences.append(abs(tops[0] - tops[1]))
    return float(np.mean(differences))


def test_the_shoulder_asymmetry_is_visible_in_normalised_silhouettes():
    measured = {}
    for label in ("positive", "negative"):
        values = []
        for seed in range(8):
            masks = render_masks(
                sample_walker(label, 100 + seed), frames=90, size=(720, 1280), scale=0.5
            )
            values.append(shoulder_asymmetry(normalize_sequence(masks).frames))
        measured[label] = np.mean(values)
    # Same eight people, only the posture differs: at 64x64 the gap is pixels, not noise.
    assert measured["positive"] > measured["negative"] + 1.0, measured
