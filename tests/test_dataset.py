"""Scoliosis1K-layout datasets: reading, counting, and one clear error per bad layout."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from screen.errors import FileProblem
from screen.model.classes import Label
from screen.silhouettes.pickles import write_silhouette_pickle
from screen.training.dataset import (
    LayoutProblem,
    SilhouetteDataset,
    Split,
    read_partition,
    split_counts,
)

#: Shoulder tilt in pixels per class: what a model can learn to tell the classes apart.
TILT = {Label.NEGATIVE: 0, Label.NEUTRAL: 4, Label.POSITIVE: 9}


def toy_sequence(label: Label, frames: int, seed: int) -> np.ndarray:
    """A stored-form [T, 64, 64] walker: a trunk whose shoulder line tilts with the class."""
    rng = np.random.default_rng(seed)
    stack = np.zeros((frames, 64, 64), np.uint8)
    sign = rng.choice([-1, 1])
    for t in range(frames):
        sway = int(rng.integers(-2, 3))
        left, right = 22 + sway, 42 + sway
        stack[t, 20:62, left:right] = 255  # trunk and legs
        stack[t, 4:16, 27 + sway : 37 + sway] = 255  # head
        for column in range(left - 6, right + 6):  # a shoulder bar tilting by class
            lift = round(sign * TILT[label] * (column - 32) / 20)
            stack[t, 18 - lift : 24 - lift, column] = 255
    return stack


def write_toy_dataset(
    root: Path,
    train: dict[Label, int],
    test: dict[Label, int],
    frames: int = 40,
    val: dict[Label, int] | None = None,
) -> Path:
    """A tiny Scoliosis1K tree under `root` and its partition JSON; returns the partition path."""
    ids: dict[str, list[str]] = {"TRAIN_SET": [], "TEST_SET": []}
    splits = [("TRAIN_SET", train), ("TEST_SET", test)] + ([("VAL_SET", val)] if val else [])
    ids.update({key: [] for key, _ in splits})
    number = 0
    for key, per_class in splits:
        for label, count in per_class.items():
            for _ in range(count):
                subject = f"{number:05d}"
                write_silhouette_pickle(
                    root / subject / label.value / "000_180" / f"{subject}.pkl",
                    toy_sequence(label, frames, seed=number),
                )
                ids[key].append(subject)
                number += 1
    partition = root / "partition.json"
    partition.write_text(json.dumps(ids))
    return partition


@pytest.fixture
def toy(tmp_path: Path) -> tuple[Path, Path]:
    counts = {Label.NEGATIVE: 3, Label.NEUTRAL: 1, Label.POSITIVE: 2}
    partition = write_toy_dataset(tmp_path / "data", counts, {label: 1 for label in Label})
    return tmp_path / "data", partition


def test_a_split_reads_back_with_labels_from_folder_names(toy):
    root, partition = toy
    dataset = SilhouetteDataset.open(root, partition, Split.TRAIN)
    assert len(dataset) == 6
    assert dataset.counts() == {Label.NEGATIVE: 3, Label.NEUTRAL: 1, Label.POSITIVE: 2}
    record = dataset.records[0]
    assert (record.subject, record.label, record.view) == ("00000", Label.NEGATIVE, "000_180")
    frames = dataset.frames(0)
    assert frames.dtype == np.uint8 and frames.shape == (40, 64, 64)
    np.testing.assert_array_equal(frames, toy_sequence(Label.NEGATIVE, 40, seed=0))
    assert dataset.frames(0) is frames  # cached, not read twice


def test_counts_cover_every_split_and_class(toy):
    root, partition = toy
    counts = split_counts(root, read_partition(partition))
    assert counts[Split.TEST] == {label: 1 for label in Label}
    assert sum(counts[Split.TRAIN].values()) == 6


def test_also_adds_sequences_of_training_ids_and_refuses_another_label(toy, tmp_path):
    """`screen train --also`: the front end's silhouettes of the same walkers join their ids."""
    root, partition = toy
    extra = tmp_path / "frontend"
    for subject, label in (
        ("00000", Label.NEGATIVE),
        ("00005", Label.POSITIVE),
        ("00006", Label.NEGATIVE),
    ):
        write_silhouette_pickle(extra / subject / label.value / "090_270" / f"{subject}.pkl",
                                toy_sequence(label, 30, seed=99))  # fmt: skip
    dataset = SilhouetteDataset.open(root, partition, Split.TRAIN, also=[extra])
    assert len(dataset) == 8  # six ids, two of them twice; 00006 is a test id: not added
    assert dataset.subjects.count("00000") == 2 and dataset.subjects.count("00005") == 2
    assert split_counts(root, read_partition(partition), [extra])[Split.TEST] == {
        label: 1 for label in Label}  # fmt: skip
    _move(extra, "00005/positive", "00005/neutral")
    with pytest.raises(LayoutProblem, match="labelled neutral here but positive"):
        SilhouetteDataset.open(root, partition, Split.TRAIN, also=[extra])


def test_partition_hash_changes_with_its_content(toy, tmp_path):
    root, partition = toy
    other = tmp_path / "other.json"
    data = json.loads(partition.read_text())
    data["TEST_SET"] = data["TEST_SET"][:1]
    other.write_text(json.dumps(data))
    assert read_partition(partition).sha256 != read_partition(other).sha256


def _move(root: Path, source: str, target: str) -> None:
    (root / target).parent.mkdir(parents=True, exist_ok=True)
    (root / source).rename(root / target)


def _drop_label_folder(root: Path) -> Path:
    _move(root, "00000/negative/000_180", "00000/000_180")
    (root / "00000/negative").rmdir()
    (root / "00000/000_180").rename(root / "elsewhere")
    return root / "00000"


def _unknown_label(root: Path) -> Path:
    (root / "00001/negative").rename(root / "00001/scoliotic")
    return root / "00001/scoliotic"


def _upper_case_label(root: Path) -> Path:
    (root / "00001/negative").rename(root / "00001/Negative")
    return root / "00001/Negative"


def _two_labels(root: Path) -> Path:
    (root / "00002/positive/000_180").mkdir(parents=True)
    return root / "00002"


def _no_pickle(root: Path) -> Path:
    (root / "00000/negative/000_180/00000.pkl").unlink()
    return root / "00000/negative/000_180"


def _absent_id(root: Path) -> Path:
    for path in sorted((root / "00003").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (root / "00003").rmdir()
    return root / "00003"


def _write_array(array: np.ndarray):
    def corrupt(root: Path) -> Path:
        path = root / "00004/positive/000_180/00004.pkl"
        path.write_bytes(pickle.dumps(array, protocol=4))
        return path

    return corrupt


@pytest.mark.parametrize(
    "damage, message",
    [
        (_drop_label_folder, "no label folder"),
        (_unknown_label, "unknown label 'scoliotic'"),
        (_upper_case_label, "lower-case"),
        (_two_labels, "one label folder expected"),
        (_no_pickle, "empty sequence"),
        (_absent_id, "absent from the dataset"),
        (_write_array(np.zeros((5, 64, 44), np.uint8)), "expected shape [T, 64, 64]"),
        (_write_array(np.zeros((5, 64, 64), np.float32)), "expected uint8"),
        (_write_array(np.zeros((0, 64, 64), np.uint8)), "empty sequence (0 frames)"),
        (_write_array(np.zeros((64, 64), np.uint8)), "expected shape [T, 64, 64]"),
    ],
    ids=[
        "missing-label-folder",
        "unknown-label",
        "upper-case-label",
        "two-label-folders",
        "view-without-pickle",
        "listed-id-absent",
        "wrong-width",
        "float-array",
        "zero-frames",
        "two-dimensional",
    ],
)
def test_each_bad_layout_names_its_path(toy, damage, message):
    root, partition = toy
    bad_path = damage(root)
    with pytest.raises(FileProblem) as caught:
        dataset = SilhouetteDataset.open(root, partition, Split.TRAIN)
        dataset.preload()
    assert message in str(caught.value)
    assert caught.value.path == bad_path
    assert str(bad_path) in str(caught.value)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "TRAIN_SET and TEST_SET"),
        (json.dumps({"TRAIN_SET": ["00000"]}), "TEST_SET must be a list"),
        (json.dumps({"TRAIN_SET": [0, 1], "TEST_SET": []}), "TRAIN_SET must be a list of id"),
        (json.dumps({"TRAIN_SET": ["00000", "00000"], "TEST_SET": []}), "lists ids twice"),
        (json.dumps({"TRAIN_SET": ["00000"], "TEST_SET": ["00000"]}), "would leak"),
    ],
    ids=["bad-json", "not-an-object", "missing-split", "int-ids", "duplicate-id", "overlap"],
)
def test_bad_partition_files_are_refused(tmp_path, content, message):
    path = tmp_path / "partition.json"
    path.write_text(content)
    with pytest.raises(LayoutProblem, match="partition.json") as caught:
        read_partition(path)
    assert message in str(caught.value)


def test_missing_dataset_and_partition_are_named(tmp_path, toy):
    root, partition = toy
    with pytest.raises(LayoutProblem, match="cannot read partition"):
        read_partition(tmp_path / "nothing.json")
    with pytest.raises(LayoutProblem, match="dataset folder not found"):
        SilhouetteDataset.open(tmp_path / "nowhere", partition, Split.TRAIN)


class _TouchesAFile:
    """A pickle payload that would create a file when unpickled."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


@pytest.mark.parametrize("payload", ["object-array", "float-array", "code"])
def test_a_pickle_holding_anything_but_uint8_is_refused(toy, tmp_path, payload):
    root, partition = toy
    target = tmp_path / "pwned"
    pickled = {
        "object-array": lambda: pickle.dumps(np.array([{"a": 1}] * 3, dtype=object)),
        "float-array": lambda: pickle.dumps(np.zeros((3, 64, 64), np.float64)),
        "code": lambda: pickle.dumps(_TouchesAFile(target)),
    }[payload]()
    path = root / "00000/negative/000_180/00000.pkl"
    path.write_bytes(pickled)
    dataset = SilhouetteDataset.open(root, partition, Split.TRAIN)
    with pytest.raises(FileProblem) as caught:
        dataset.frames(0)
    assert caught.value.path == path
    assert not target.exists()
