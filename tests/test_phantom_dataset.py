"""Phantom datasets: the Scoliosis1K layout, read back with the project's own reader."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from screen.cli import main
from screen.errors import ScreenError
from screen.phantom import build_dataset
from screen.phantom.dataset import class_counts, parse_ratio
from screen.silhouettes.pickles import read_silhouette_pickle

FRAMES = 12
SETTINGS = {"train": 10, "train_ratio": (1, 1, 8), "test": 3, "test_ratio": (1, 1, 1)}
SETTINGS |= {"seed": 5, "frames": FRAMES}


def pickles_on_disk(root: Path) -> dict[str, tuple[str, str, Path]]:
    """id -> (label, view, pkl) for every root/<id>/<label>/<view>/<id>.pkl."""
    found = {}
    for pkl in sorted(root.glob("*/*/*/*.pkl")):
        walker_id, label, view = pkl.relative_to(root).parts[:3]
        assert pkl.name == f"{walker_id}.pkl"
        assert walker_id not in found  # one sequence per walker
        found[walker_id] = (label, view, pkl)
    return found


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("phantoms") / "data"
    partition = build_dataset(root, **SETTINGS, workers=1)
    return root, partition


def test_layout_reads_back_and_partition_lists_exactly_the_ids_on_disk(dataset):
    root, partition_path = dataset
    assert partition_path == root / "partition.json"
    partition = json.loads(partition_path.read_text())
    assert set(partition) == {"TRAIN_SET", "TEST_SET"}
    on_disk = pickles_on_disk(root)
    listed = partition["TRAIN_SET"] + partition["TEST_SET"]
    assert sorted(listed) == sorted(on_disk) and len(set(listed)) == 13
    assert all(len(i) == 5 and i.isdigit() for i in listed)
    for label, view, pkl in on_disk.values():
        frames = read_silhouette_pickle(pkl)
        assert label in {"positive", "neutral", "negative"} and view == "000_180"
        assert frames.dtype == np.uint8 and frames.shape == (FRAMES, 64, 64)
        assert frames.max() == 255  # binary silhouettes, normalised


def test_the_training_loader_opens_both_splits(dataset):
    from screen.training.dataset import SilhouetteDataset, Split

    root, partition_path = dataset
    train = SilhouetteDataset.open(root, partition_path, Split.TRAIN)
    test = SilhouetteDataset.open(root, partition_path, Split.TEST)
    assert list(train.counts().values()) == [8, 1, 1]  # negative, neutral, positive
    assert list(test.counts().values()) == [1, 1, 1]
    assert train.frames(0).shape == (FRAMES, 64, 64)


def test_class_ratio_per_split(dataset):
    root, partition_path = dataset
    partition = json.loads(partition_path.read_text())
    on_disk = pickles_on_disk(root)

    def labels(split):
        return sorted(on_disk[i][0] for i in partition[split])

    assert labels("TRAIN_SET") == ["negative"] * 8 + ["neutral", "positive"]
    assert labels("TEST_SET") == ["negative", "neutral", "positive"]
    manifest = json.loads((root / "phantom.json").read_text())
    for walker_id, entry in manifest["walkers"].items():
        assert entry["label"] == on_disk[walker_id][0]
    assert "clinical accuracy" in manifest["note"]


def test_same_seed_same_bytes_whatever_the_number_of_workers(tmp_path, dataset):
    root, _ = dataset
    again = tmp_path / "again"
    build_dataset(again, **SETTINGS, workers=2)
    for walker_id, (_, _, pkl) in pickles_on_disk(root).items():
        twin = again / pkl.relative_to(root)
        assert twin.read_bytes() == pkl.read_bytes(), walker_id
    for name in ("partition.json", "phantom.json"):
        assert (again / name).read_text() == (root / name).read_text()


@pytest.mark.parametrize(
    ("total", "ratio", "expected"),
    [
        (300, (1, 1, 8), (30, 30, 240)),
        (90, (1, 1, 1), (30, 30, 30)),
        (10, (1, 1, 2), (3, 2, 5)),
        (4, (0, 0, 1), (0, 0, 4)),
    ],
)
def test_class_counts(total, ratio, expected):
    counts = class_counts(total, ratio)
    assert tuple(counts.values()) == expected and sum(expected) == total


@pytest.mark.parametrize("text", ["1:1", "a:b:c", "1:-1:8", "0:0:0", ""])
def test_bad_ratios_are_refused(text):
    with pytest.raises(ScreenError, match="positive:neutral:negative"):
        parse_ratio(text)


def test_a_folder_in_use_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ScreenError, match="not an empty folder"):
        build_dataset(tmp_path, train=1, test=0, frames=5, workers=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_cli_dataset_prints_counts_per_split_and_class(tmp_path, capsys):
    out = tmp_path / "data"
    code = main(
        [
            "phantom",
            "dataset",
            str(out),
            "--train",
            "4",
            "--train-ratio",
            "1:1:2",
            "--test",
            "3",
            "--test-ratio",
            "1:1:1",
            "--frames",
            "6",
            "--workers",
            "1",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "TRAIN_SET" in printed and "TEST_SET" in printed and "partition.json" in printed
    rows = {
        re.search(r"\w+_SET", line)[0]: re.findall(r"\b\d+\b", line)
        for line in printed.splitlines()
        if "_SET" in line
    }
    assert rows == {"TRAIN_SET": ["1", "1", "2", "4"], "TEST_SET": ["1", "1", "1", "3"]}
    assert len(pickles_on_disk(out)) == 7


def test_a_view_list_films_every_class_with_the_same_mix(tmp_path):
    settings = SETTINGS | {"train": 6, "train_ratio": (1, 1, 1), "test": 0, "frames": 6}
    build_dataset(tmp_path / "mixed", **settings, view="front,side", workers=1)
    views: dict[str, list[str]] = {}
    for label, view, _ in pickles_on_disk(tmp_path / "mixed").values():
        views.setdefault(label, []).append(view)
    # two walkers per class: one filmed from the front (000_180), one from the side (090_270)
    assert {label: sorted(v) for label, v in views.items()} == {
        label: ["000_180", "090_270"] for label in ("negative", "neutral", "positive")
    }
    manifest = json.loads((tmp_path / "mixed" / "phantom.json").read_text())
    assert manifest["view"] == "front,side"
    with pytest.raises(ScreenError, match="unknown view 'top'"):
        build_dataset(tmp_path / "bad", **settings, view="front,top", workers=1)
