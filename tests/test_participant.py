"""Choosing the participant: the track that walks, not a clinician standing by or a passer-by."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_video import passer_by, render, standing, walker

from screen.frontend.extract import extract_silhouettes
from screen.frontend.frames import Detections, Frame, box_iou
from screen.frontend.participant import TrackHistory, select_participant
from screen.frontend.passes import track_people
from screen.frontend.track import ByteTracker
from screen.frontend.video import FrameSource
from screen.settings import Settings


def box(x: float, feet: float = 200.0, height: float = 110.0) -> np.ndarray:
    return np.array([x - 0.2 * height, feet - height, x + 0.2 * height, feet], np.float32)


def history_of(tracks: dict[int, dict[int, np.ndarray]], frames: int = 90) -> TrackHistory:
    history = TrackHistory()
    for i in range(frames):
        present = [(tid, b[i]) for tid, b in tracks.items() if i in b]
        ids = np.array([tid for tid, _ in present], np.int64)
        boxes = np.array([b for _, b in present], np.float32).reshape(-1, 4)
        history.add(i, i / 15, Detections.from_arrays(boxes, np.ones(len(ids)), ids))
    return history


rng = np.random.default_rng(0)
WALKER = {i: box(30 + 3.2 * i) for i in range(5, 85)}  # crosses ~2.5 body heights
FRONTAL = {i: box(160, 150 + i, 60 + 0.9 * i) for i in range(0, 80)}  # comes closer, grows 2x
STANDING = {i: box(280 + rng.normal(0, 1.5)) for i in range(90)}  # the whole video, still
PASSER = {i: box(300 - 12 * (i - 40), 205, 95) for i in range(40, 60)}  # fast and brief
#: a clinician standing still, found whole in some frames and only from the waist down in
#: others (PP-HumanSeg over a whole frame does that): the box "grows and shrinks" 1.8x
FLICKERING = {i: box(280, height=110 if rng.random() < 0.5 else 60) for i in range(90)}


@pytest.mark.parametrize(
    ("tracks", "chosen", "flags"),
    [
        ({1: WALKER, 2: STANDING, 3: PASSER}, 1, ()),
        ({1: FRONTAL, 2: STANDING}, 1, ()),
        ({1: FRONTAL, 2: FLICKERING}, 1, ()),
        ({1: STANDING, 2: PASSER, 3: WALKER}, 3, ()),
        ({1: WALKER, 2: {i: b for i, b in FRONTAL.items() if i >= 10}}, 1, ("two_walkers",)),
        (
            {1: {i: b for i, b in WALKER.items() if i < 45}, 2: PASSER},
            1,
            ("participant_uncertain",),
        ),
        ({1: STANDING, 2: {i: b for i, b in STANDING.items() if i < 30}}, 1, ("no_walker",)),
        ({}, None, ("no_person",)),
        ({1: {i: box(30 + 10 * i) for i in range(5, 25)}}, 1, ("few_participant_frames",)),
    ],
    ids=[
        "walker-clinician-passer",
        "frontal-walker",
        "frontal-walker-and-a-clinician-found-in-halves",
        "order-does-not-matter",
        "two-walkers-at-once",
        "doubtful",
        "nobody-walks",
        "nobody",
        "short",
    ],
)
def test_selection_table(tracks, chosen, flags):
    choice = select_participant(history_of(tracks))
    assert choice.track_id == chosen
    assert choice.flags == flags


def test_coverage_statistics_describe_the_chosen_track():
    choice = select_participant(history_of({1: WALKER, 2: STANDING, 3: PASSER}))
    coverage = choice.coverage
    assert coverage["frames"] == 90 and coverage["tracks_seen"] == 3
    assert coverage["participant_frames"] == 80
    assert coverage["coverage"] == pytest.approx(80 / 90, abs=1e-3)
    assert coverage["first_seconds"] == pytest.approx(5 / 15, abs=1e-3)
    assert coverage["last_seconds"] == pytest.approx(84 / 15, abs=1e-3)
    assert coverage["travel_body_heights"] == pytest.approx(2.1, abs=0.2)
    assert set(choice.boxes) == set(WALKER)


def test_fragments_of_one_walker_are_stitched_across_a_long_occlusion():
    first = {i: b for i, b in WALKER.items() if i < 40}
    second = {i: b for i, b in WALKER.items() if i >= 72}  # 32 frames hidden
    elsewhere = {i: box(30 + 3.2 * i, feet=100) for i in range(72, 85)}  # someone else, far off
    choice = select_participant(history_of({1: first, 2: second, 3: elsewhere, 4: STANDING}))
    assert choice.track_id == 1
    assert choice.coverage["track_ids"] == [1, 2]
    assert set(choice.boxes) == set(first) | set(second)


class TruthDetector:
    """The true boxes of a synthetic scene, as a perfect detector would give them."""

    def __init__(self, boxes: list[dict[str, np.ndarray]]) -> None:
        self.boxes = boxes

    def detect(self, frame: Frame) -> Detections:
        found = list(self.boxes[frame.index].values())
        return Detections.from_arrays(np.array(found).reshape(-1, 4), np.full(len(found), 0.9))


def test_the_walker_is_chosen_over_a_clinician_and_a_passer_by(tmp_path):
    video = tmp_path / "scene.avi"
    truth = render(video, [standing(), walker(6.0), passer_by(2.0)], seconds=6.0)
    history = track_people(FrameSource(video), TruthDetector(truth.boxes), ByteTracker())
    choice = select_participant(history)
    assert choice.flags == ()
    matched = [box_iou(b, truth.boxes[i]["walker"]) for i, b in choice.boxes.items()]
    assert len(matched) >= 85 and np.mean(matched) > 0.95
    assert len(choice.tracks) == 3  # all three people were tracked and weighed


def test_weight_free_pipeline_follows_one_participant_behind_a_pillar(tmp_path):
    video = tmp_path / "pillar.avi"
    truth = render(video, [walker(5.0)], seconds=5.0, occluder=(150, 180))
    options = Settings.of(detector="background", segmenter="background")
    result = extract_silhouettes(video, options)
    choice = result.participant
    left = [i for i in choice.boxes if truth.boxes[i].get("walker", [0, 0, 999])[2] < 145]
    right = [i for i in choice.boxes if truth.boxes[i].get("walker", [0])[0] > 185]
    assert len(left) > 20 and len(right) > 20  # one participant on both sides
    assert len(choice.coverage["track_ids"]) >= 2  # ByteTrack lost them; selection joined up


# A walker's two passes: across to the right, out of view for 4 s, back across to the left.
OUT = {i: box(20 + 5 * (i - 5)) for i in range(5, 50)}
BACK = {i: box(240 - 5 * (i - 110)) for i in range(110, 155)}
STILL = {i: box(300 + rng.normal(0, 1.5)) for i in range(160)}  # a clinician all along


def test_a_walker_who_comes_back_counts_both_passes():
    choice = select_participant(history_of({1: OUT, 2: BACK, 3: STILL}, frames=160))
    assert choice.flags == ()
    assert choice.coverage["track_ids"] == [1, 2] and choice.coverage["passes"] == 2
    assert set(choice.boxes) == set(OUT) | set(BACK)


def test_a_pass_further_away_is_joined_through_the_floor_perspective():
    # 1.2x smaller with the feet 15 px higher: body height / camera height = 1.5 (plausible)
    further = {i: box(240 - 4 * (i - 110), feet=185, height=90) for i in range(110, 155)}
    choice = select_participant(history_of({1: OUT, 2: further}, frames=160))
    assert choice.coverage["passes"] == 2 and choice.flags == ()


@pytest.mark.parametrize(
    "second",
    [
        {i: box(240 - 5 * (i - 110), height=160) for i in range(110, 155)},  # taller, same place
        {i: box(240 - 5 * (i - 40), height=110) for i in range(40, 85)},  # overlaps in time
    ],
    ids=["another-size", "same-time"],
)
def test_another_walker_is_not_joined(second):
    choice = select_participant(history_of({1: OUT, 2: second}, frames=160))
    assert choice.coverage["passes"] == 1 and len(choice.coverage["track_ids"]) == 1
    assert choice.flags in (("participant_uncertain",), ("two_walkers",))


def test_a_pass_with_a_look_alike_in_view_is_not_joined():
    twin = {i: box(60 + 5 * (i - 110)) for i in range(110, 155)}  # same size, same time as BACK
    choice = select_participant(history_of({1: OUT, 2: BACK, 3: twin}, frames=160))
    assert choice.coverage["passes"] == 1
