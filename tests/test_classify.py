"""Silhouettes -> clip and whole-sequence probabilities, named by class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from random_models import random_classifier
from test_checkpoint import sequence

from screen.model.classes import LABELS
from screen.model.classify import Classifier, clip_windows, make_clips, spread_clips
from screen.model.sconet import class_probabilities
from screen.silhouettes.normalize import to_model_input


@pytest.mark.parametrize(
    "frames, length, stride, expected",
    [
        (0, 30, 15, []),
        (12, 30, 15, [(0, 12)]),
        (30, 30, 15, [(0, 30)]),
        (60, 30, 15, [(0, 30), (15, 45), (30, 60)]),
        (50, 30, 15, [(0, 30), (15, 45), (20, 50)]),  # the last clip is flush with the end
        (70, 30, 30, [(0, 30), (30, 60), (40, 70)]),
    ],
)
def test_clip_windows_cover_every_frame(frames, length, stride, expected):
    assert clip_windows(frames, length, stride) == expected


@pytest.mark.parametrize("frames", [1, 29, 30, 31, 59, 60, 61, 299, 300, 451])
def test_spread_clips_span_the_sequence_and_share_no_frame(frames):
    clips = spread_clips(frames, 30)
    assert len(clips) == max(1, frames // 30)
    used = np.concatenate(clips)
    assert len(set(used.tolist())) == len(used)  # no frame in two clips
    assert used.min() == 0 and used.max() < frames
    for clip in clips:
        assert len(clip) == min(30, frames) and (np.diff(clip) > 0).all()
        # every clip reaches into the last thirtieth of the sequence: it spans the walk
        assert clip[-1] >= frames - max(1, frames // 30) - 1


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return random_classifier(seed=3)


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
@pytest.mark.parametrize("sampling", ["spread", "consecutive"])
def test_clip_probabilities_equal_a_direct_forward_of_each_clip(classifier, sampling):
    stored = sequence(95)
    classifier = Classifier(classifier.model, classifier.metadata, classifier.sha256,
                            clip_sampling=sampling)  # fmt: skip
    prediction = classifier.predict(stored)
    frames = torch.from_numpy(to_model_input(stored))
    order = classifier.metadata.class_order.labels
    clips = make_clips(len(stored), 30, 15, sampling)
    assert len(prediction.clips) == len(clips) == (3 if sampling == "spread" else 6)
    for clip, indices in zip(prediction.clips, clips, strict=True):
        assert (clip.start, clip.stop, clip.frames) == (indices[0], indices[-1] + 1, 30)
        with torch.no_grad():
            direct = class_probabilities(classifier.model(frames[None, indices]).logits)[0]
        for index, label in enumerate(order):
            assert clip.probabilities[label] == pytest.approx(float(direct[index]), abs=1e-5)
    with torch.no_grad():
        whole = class_probabilities(classifier.model(frames[None]).logits)[0]
    for index, label in enumerate(order):
        assert prediction.whole_sequence[label] == pytest.approx(float(whole[index]), abs=1e-5)


def test_sequence_probabilities_are_the_clip_mean_and_name_every_class(classifier):
    prediction = classifier.predict(sequence(75))
    assert set(prediction.probabilities) == set(LABELS)
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    for label in LABELS:
        mean = np.mean([clip.probabilities[label] for clip in prediction.clips])
        assert prediction.probabilities[label] == pytest.approx(mean, abs=1e-6)
    assert prediction.confidence == max(prediction.probabilities.values())
    assert prediction.probabilities[prediction.label] == prediction.confidence
    assert not prediction.short


def test_short_sequence_uses_what_it_has_and_is_flagged(classifier):
    prediction = classifier.predict(sequence(12))
    assert prediction.short and len(prediction.clips) == 1
    clip = prediction.clips[0]
    assert (clip.start, clip.stop, clip.frames) == (0, 12, 12)


def test_an_unknown_clip_sampling_is_refused(classifier):
    with pytest.raises(ValueError, match="clip sampling must be one of spread, consecutive"):
        Classifier(classifier.model, classifier.metadata, classifier.sha256, clip_sampling="x")


def test_empty_sequence_is_an_error(classifier):
    with pytest.raises(ValueError, match="non-empty"):
        classifier.predict(np.zeros((0, 64, 64), np.uint8))


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_bf16_stays_close_to_fp32(classifier):
    bf16 = Classifier(classifier.model, classifier.metadata, classifier.sha256, precision="bf16")
    a, b = classifier.predict(sequence(45)), bf16.predict(sequence(45))
    for label in LABELS:
        assert a.probabilities[label] == pytest.approx(b.probabilities[label], abs=0.03)
