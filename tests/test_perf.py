"""The fast paths give the answers of the straightforward one, and memory does not grow with length.

Speed targets live in the benchmark (`make bench`), never here.
"""

from __future__ import annotations

import threading
import time
import weakref

import numpy as np
import pytest
import torch
from random_models import humanseg_model, pooled_probabilities, random_classifier

from screen.cores import CPU_SHARE_VARIABLE
from screen.frontend.backends import StageChoice
from screen.frontend.concurrency import ordered_map, prefetch
from screen.frontend.extract import Frontend
from screen.frontend.segment import HumanSegmenter
from screen.model.classes import LABELS
from screen.model.classify import bf16_supported, make_clips
from screen.phantom import render_video, sample_walker
from screen.pipeline import Screener, cpu_budget
from screen.settings import Settings

STRAIGHTFORWARD = {"workers": 1, "segment_batch": 1, "detect_every": 1, "precision": "fp32"}


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("perf") / "walk.mp4"
    render_video(path, sample_walker("positive", 11), seconds=5, size=(480, 270), view="side")
    return path


@pytest.fixture(scope="module")
def humanseg(tmp_path_factory):
    return humanseg_model(tmp_path_factory, "mobile")


class Counting:
    """A segmenter that remembers (weakly) every mask it made: how many are still alive."""

    def __init__(self, inner, made: list) -> None:
        self.inner = inner
        self.made = made

    def clone(self):
        return Counting(self.inner.clone(), self.made)

    def segment_many(self, pairs):
        masks = self.inner.segment_many(pairs)
        self.made.extend(weakref.ref(mask) for mask in masks)
        return masks


def screener(humanseg, overlap: bool = True, made=None, **values) -> Screener:
    """Weight-free detector (its boxes follow the walker), random PP-HumanSeg, random ScoNet."""
    settings = Settings.of(
        detector="background", segmenter="pp-humanseg-v2-mobile", overlap=overlap, **values
    )
    segmenter = HumanSegmenter(humanseg)
    if made is not None:
        segmenter = Counting(segmenter, made)
    frontend = Frontend(
        settings,
        settings.runtime.workers,
        segmenter=(segmenter, StageChoice("pp-humanseg-v2-mobile")),
    )
    classifier = random_classifier(seed=3, precision=settings.classifier.precision)
    return Screener(settings, classifier, frontend)


@pytest.fixture(scope="module")
def reference(video, humanseg):
    return screener(humanseg, overlap=False, **STRAIGHTFORWARD).screen(video)


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_threads_batches_and_prefetch_give_identical_silhouettes(video, humanseg, reference):
    fast = screener(humanseg, workers=2, segment_batch=4, detect_every=1, precision="fp32")
    fast = fast.screen(video)
    assert len(reference.stored) >= 40
    np.testing.assert_array_equal(fast.stored, reference.stored)
    assert fast.result.probabilities == reference.result.probabilities
    assert fast.result.pipeline.workers == 2


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_default_fast_path_keeps_the_verdict_and_probabilities(video, humanseg, reference):
    fast = screener(humanseg, workers=2).screen(video)  # the defaults, precision auto
    assert fast.result.pipeline.precision == ("bf16" if bf16_supported() else "fp32")
    assert fast.result.verdict == reference.result.verdict
    for label in LABELS:
        assert fast.result.probabilities[label] == pytest.approx(
            reference.result.probabilities[label], abs=0.01
        )
    used = reference.result.quality.silhouettes_used
    assert fast.result.quality.silhouettes_used >= used - 3


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
@pytest.mark.parametrize("keep_masks", [False, True])
def test_masks_held_stay_bounded_unless_kept(video, humanseg, keep_masks):
    made: list[weakref.ref] = []
    alive: list[int] = []
    fast = screener(humanseg, made=made, workers=2, segment_batch=4)
    original = fast.frontend.extract

    def extract(*args, on_silhouette, **kwargs):
        def watch(silhouette, info):
            on_silhouette(silhouette, info)
            alive.append(sum(ref() is not None for ref in made))

        return original(*args, on_silhouette=watch, **kwargs)

    fast.frontend.extract = extract
    screening = fast.screen(video, keep_masks=keep_masks)
    frames = len(screening.frontend.silhouettes)
    assert frames >= 40
    if keep_masks:
        assert alive[-1] == frames  # every mask is still there for the overlay
        assert all(s.mask is not None for s in screening.frontend.silhouettes)
    else:
        assert max(alive) <= 2 * 4 * 2 + 4  # batches in flight, whatever the video's length
        assert all(s.mask is None for s in screening.frontend.silhouettes)


def test_streamed_clip_pooling_equals_pooling_all_features(monkeypatch):
    import screen.model.classify as classify

    monkeypatch.setattr(classify, "FEATURE_CHUNK", 16)  # clips straddle chunk borders
    classifier = random_classifier(seed=1)
    stored = np.random.default_rng(0).integers(0, 2, (77, 64, 64), np.uint8) * 255
    clips = make_clips(77, sampling="spread") + make_clips(77, sampling="consecutive")
    clips += [np.arange(77)]
    streamed = classifier.streamed_probabilities(stored, clips)
    whole = pooled_probabilities(classifier, stored, clips)
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_auto_precision_is_recorded_as_the_one_used():
    classifier = random_classifier(seed=0, precision="auto")
    assert classifier.precision == ("bf16" if bf16_supported() else "fp32")
    with pytest.raises(ValueError, match="precision"):
        random_classifier(seed=0, precision="fp8")


def test_classifier_threads_are_restored():
    before = torch.get_num_threads()
    classifier = random_classifier(seed=0, threads=before + 1)
    classifier.predict(np.full((5, 64, 64), 255, np.uint8))
    assert torch.get_num_threads() == before


def test_ordered_map_keeps_input_order_with_uneven_work():
    def slow_for_even(worker, item):
        time.sleep(0.02 if item % 2 == 0 else 0.0)
        return worker, item

    results = list(ordered_map(["a", "b", "c"], slow_for_even, range(20)))
    assert [item for _, item in results] == list(range(20))
    assert {worker for worker, _ in results} == {"a", "b", "c"}  # the work was shared


def test_prefetch_passes_errors_on_and_stops_its_thread_early():
    def broken():
        yield 1
        raise ValueError("truncated")

    stream = prefetch(broken())
    assert next(stream) == 1
    with pytest.raises(ValueError, match="truncated"):
        next(stream)
    before = threading.active_count()
    stream = prefetch(iter(range(1000)), depth=2)
    assert next(stream) == 0
    stream.close()  # the consumer stops early: the producer must not hang
    assert threading.active_count() <= before


def test_a_run_uses_every_core_even_when_torch_was_left_on_one_thread(monkeypatch):
    # Importing Paddle sets OMP_NUM_THREADS=1 for child processes, whose torch then starts on
    # one thread; the budget must not follow it (a bench child once ran on one core of two).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv(CPU_SHARE_VARIABLE, raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    monkeypatch.setattr("screen.cores.available_cores", lambda: 4)
    assert cpu_budget(Settings()) == 4
    assert cpu_budget(Settings.of(workers=3)) == 3  # explicit setting wins
    monkeypatch.setenv(CPU_SHARE_VARIABLE, "2")  # a `screen batch` worker's share
    assert cpu_budget(Settings()) == 2


def test_paddle_gets_one_predictor_with_all_threads_not_copies_that_take_turns(humanseg):
    # Paddle holds the GIL while it runs: two copies in two threads ran at 1.0x one.
    settings = Settings.of(segmenter="pp-humanseg-v2-mobile", threads=1)
    segmenter = HumanSegmenter(humanseg, threads=1)
    frontend = Frontend(settings, 2, segmenter=(segmenter, StageChoice("pp-humanseg-v2-mobile")))
    stages, _ = frontend._stage("segmenter", background=lambda: None)
    assert stages == [segmenter]
    assert segmenter.network.threads == 2
