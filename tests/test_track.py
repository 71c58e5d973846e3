"""ByteTracker: ids that persist, through occlusions, fed by either detector."""

from __future__ import annotations

import numpy as np
import pytest
from random_models import yolo_weights
from synthetic_video import render, textured_background, walker

from screen.frontend.background import estimate_scene
from screen.frontend.detect import BackgroundDetector, YoloDetector
from screen.frontend.frames import Detections, Frame, box_iou
from screen.frontend.track import ByteTracker
from screen.frontend.video import FrameSource
from screen.settings import DetectorSettings, TrackerSettings


def moving_box(i: int) -> np.ndarray:
    return np.array([20 + 4 * i, 50, 60 + 4 * i, 170], np.float32)


def test_ids_persist_and_boxes_are_the_detectors_own():
    tracker = ByteTracker()
    ids = set()
    for i in range(20):
        boxes = np.stack([moving_box(i), moving_box(i) + [150, 0, 150, 0]])
        tracked = tracker.update(Detections.from_arrays(boxes, [0.9, 0.8]))
        if i:
            assert len(tracked) == 2
            # each returned box is one of the detector's boxes, unsmoothed
            assert all(any(np.array_equal(t, b) for b in boxes) for t in tracked.xyxy)
            ids.update(tracked.track_id.tolist())
    assert len(ids) == 2


@pytest.mark.parametrize(("buffer", "same_id"), [(30, True), (5, False)])
def test_a_gap_shorter_than_the_buffer_keeps_the_id(buffer, same_id):
    tracker = ByteTracker(TrackerSettings(track_buffer=buffer))
    seen = {}
    for i in range(40):
        hidden = 15 <= i < 25  # ten frames behind something
        boxes = np.zeros((0, 4)) if hidden else moving_box(i)[None]
        tracked = tracker.update(Detections.from_arrays(boxes, [] if hidden else [0.9]))
        if len(tracked):
            seen[i] = int(tracked.track_id[0])
    assert (seen[14] == seen[39]) is same_id


def test_new_track_threshold_is_honoured():
    strict = ByteTracker(TrackerSettings(track_high_thresh=0.6, new_track_thresh=0.9))
    loose = ByteTracker()
    for i in range(5):
        weak = Detections.from_arrays(moving_box(i)[None], [0.7])
        strict_out, loose_out = strict.update(weak), loose.update(weak)
    assert len(strict_out) == 0 and len(loose_out) == 1


def test_one_id_past_a_pole_with_the_background_detector(tmp_path):
    # the pole cuts the walker in two, then hides them whole for a frame
    video = tmp_path / "pole.avi"
    truth = render(video, [walker(5.0)], seconds=5.0, occluder=(150, 162))
    source = FrameSource(video)
    detector = BackgroundDetector(estimate_scene(source.sample(15)))
    tracker = ByteTracker()
    walker_ids = {}
    for frame in source.frames():
        tracked = tracker.update(detector.detect(frame))
        true = truth.boxes[frame.index].get("walker")
        for box, track_id in zip(tracked.xyxy, tracked.track_id, strict=True):
            if true is not None and box_iou(box, true) >= 0.5:
                walker_ids[frame.index] = int(track_id)
    before = [walker_ids[i] for i in walker_ids if truth.boxes[i]["walker"][2] < 145]
    after = [walker_ids[i] for i in walker_ids if truth.boxes[i]["walker"][0] > 167]
    assert len(before) > 20 and len(after) > 20
    assert set(before) == set(after) and len(set(before)) == 1


def test_tracker_takes_yolo_output(tmp_path_factory):
    detector = YoloDetector(yolo_weights(tmp_path_factory), DetectorSettings(imgsz=160), threads=1)
    tracker = ByteTracker()
    frame = Frame(0, 0.0, textured_background())
    outputs = [tracker.update(detector.detect(frame)) for _ in range(3)]
    assert len(outputs[-1]) > 0
    # a still picture: the same boxes keep the same ids
    assert set(outputs[-1].track_id.tolist()) <= set(outputs[0].track_id.tolist())
