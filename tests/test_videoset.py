"""`screen phantom videoset`: a labelled phantom video test set made from a phantom dataset."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from screen.cli import main
from screen.labelled_videos import read_labels_csv, scan_video_folder
from screen.phantom import build_dataset
from screen.phantom.camera import VIEW_NAMES
from screen.phantom.videoset import VARIETY, build_videoset, plan_videoset

TINY = {"seconds": 1.0, "size": (160, 120)}


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_every_class_gets_the_same_mix_of_filming(tmp_path):
    labels = ["positive", "neutral", "negative"] * 30
    walkers = {f"{i:05d}": {"split": "TEST_SET", "label": label, "seed": i}
               for i, label in enumerate(labels)}  # fmt: skip
    (tmp_path / "phantom.json").write_text(json.dumps({"seed": 0, "walkers": walkers}))
    (tmp_path / "partition.json").write_text(json.dumps({"TRAIN_SET": [],
                                                         "TEST_SET": sorted(walkers)}))  # fmt: skip
    _, jobs = plan_videoset(tmp_path / "set", tmp_path, "test", 8.0, (640, 360))
    mix = {label: Counter(job.variety for job in jobs if job.label == label) for label in labels}
    assert mix["positive"] == mix["neutral"] == mix["negative"]
    assert sum(mix["positive"].values()) == 30 and set(mix["positive"]) == set(VARIETY)
    views = Counter(job.variety.view for job in jobs)
    assert views["front"] > views["side"] + views["oblique"] and views["oblique"] > 0
    assert {job.variety.distractor for job in jobs} == {"none", "clinician", "passerby"}
    assert {job.variety.camera_motion for job in jobs} == {"none", "shake", "handheld", "pan"}
    assert {job.size for job in jobs} == {(640, 360), (360, 640)}
    for job in jobs:  # the walker keeps its dataset label and seed; the layout names its view
        assert walkers[job.walker_id]["seed"] == job.seed
        assert job.relative == f"{job.walker_id}/{job.label}/{VIEW_NAMES[job.variety.view]}/" \
            f"{job.walker_id}.mp4"  # fmt: skip


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("phantoms") / "phantoms"
    build_dataset(root, train=1, test=2, test_ratio=(1, 0, 1), frames=5, workers=1)
    return root


def test_a_videoset_is_byte_identical_resumable_and_labelled(dataset, tmp_path):
    first = build_videoset(tmp_path / "a", dataset, workers=1, **TINY)
    assert (first.videos, first.rendered) == (2, 2)
    second = build_videoset(tmp_path / "b", dataset, workers=2, **TINY)
    files = _files(tmp_path / "a")
    assert files == _files(tmp_path / "b")  # same inputs, same bytes, whatever the workers
    assert sum(name.endswith(".mp4") for name in files) == 2
    assert sum(name.endswith(".masks.npz") for name in files) == 2 and second.rendered == 2
    assert not (tmp_path / "a" / ".rendering").exists()

    manifest = json.loads((tmp_path / "a" / "videoset.json").read_text())
    partition = (dataset / "partition.json").read_bytes()
    import hashlib

    assert manifest["source"]["partition_sha256"] == hashlib.sha256(partition).hexdigest()
    test_ids = json.loads(partition)["TEST_SET"]
    walkers = json.loads((dataset / "phantom.json").read_text())["walkers"]
    assert sorted(manifest["videos"]) == sorted(test_ids)
    for walker_id, video in manifest["videos"].items():
        assert video["label"] == walkers[walker_id]["label"]
        assert video["seed"] == walkers[walker_id]["seed"]
        assert {"view", "distractor", "camera_motion", "size", "seconds"} <= set(video)
        truth = json.loads((tmp_path / "a" / video["video"]).with_suffix(".json").read_text())
        assert (truth["label"], truth["seed"]) == (video["label"], video["seed"])

    # the labels CSV and the folder layout both read back as `screen evaluate` reads them
    from_csv = {(v.name, v.label.value) for v in read_labels_csv(tmp_path / "a" / "labels.csv")}
    from_folder = {(v.name, v.label.value) for v in scan_video_folder(tmp_path / "a")}
    assert from_csv == from_folder and len(from_csv) == 2

    # a rerun renders nothing; a video left incomplete is rendered again, to the same bytes
    assert build_videoset(tmp_path / "a", dataset, **TINY).rendered == 0
    truth = next(p for p in (tmp_path / "a").rglob("*.json") if p.name != "videoset.json")
    truth.unlink()
    assert build_videoset(tmp_path / "a", dataset, **TINY).rendered == 1
    assert _files(tmp_path / "a") == files


def test_the_command_prints_the_mix_and_refuses_another_source(dataset, tmp_path, capsys):
    out = tmp_path / "set"
    args = ["phantom", "videoset", str(out), "--from", str(dataset), "--seconds", "1",
            "--size", "160x120", "--workers", "1"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "2 videos (2 rendered now, 0 kept)" in printed and "labels.csv" in printed
    code = main([*args[:3], "--from", str(dataset), "--split", "train", "--seconds", "1"])
    err = capsys.readouterr().err
    assert code != 0 and "another dataset or split" in err and "Traceback" not in err
    code = main(["phantom", "videoset", str(tmp_path / "x"), "--from", str(tmp_path)])
    err = capsys.readouterr().err
    assert code != 0 and "not a phantom dataset" in err and len(err.strip().splitlines()) == 1
