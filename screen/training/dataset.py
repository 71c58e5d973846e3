"""Scoliosis1K-layout silhouette datasets: `root/<id>/<label>/<view>/<file>.pkl`.

A partition JSON names the ids of each split (`TRAIN_SET`, `TEST_SET`, and an optional
`VAL_SET` for calibration, never the test split); the class comes from the label
folder's name.  Opening a split checks the layout and names the offending path in one
line; the arrays are read lazily through the restricted unpickler (never plain
`pickle.load`) and kept in RAM as uint8.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from ..errors import FileProblem
from ..model.classes import LABELS, Label
from ..progress import ProgressCallback
from ..silhouettes.pickles import read_silhouette_pickle


class LayoutProblem(FileProblem):
    """A dataset folder or partition file does not follow the Scoliosis1K layout."""


class Split(StrEnum):
    """A split of a partition file, spelled as OpenGait's JSON key without `_SET`."""

    TRAIN = "train"
    TEST = "test"
    VAL = "val"  #: optional in a partition: what `screen calibrate` fits on

    @property
    def key(self) -> str:
        return f"{self.value.upper()}_SET"


@dataclass(frozen=True)
class Partition:
    """The ids of each split, as a partition JSON lists them."""

    path: Path
    ids: dict[Split, tuple[str, ...]]
    sha256: str  #: of the file's bytes: training provenance names the exact split


def read_partition(path: str | Path) -> Partition:
    """A checked partition JSON: both splits present, ids unique strings, no id in both."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LayoutProblem(path, f"cannot read partition file ({error.strerror})") from None
    try:
        content = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LayoutProblem(path, f"not valid JSON ({error})") from None
    if not isinstance(content, dict):
        raise LayoutProblem(path, "expected a JSON object with TRAIN_SET and TEST_SET lists")
    ids = {}
    for split in Split:
        listed = content.get(split.key, [] if split is Split.VAL else None)
        if not isinstance(listed, list) or not all(isinstance(i, str) for i in listed):
            raise LayoutProblem(path, f'{split.key} must be a list of id strings like "00042"')
        repeated = sorted(i for i, n in Counter(listed).items() if n > 1)
        if repeated:
            raise LayoutProblem(path, f"{split.key} lists ids twice: {repeated[:5]}")
        ids[split] = tuple(listed)
    for first, second in ((Split.TRAIN, Split.TEST), (Split.TRAIN, Split.VAL),
                          (Split.VAL, Split.TEST)):  # fmt: skip
        shared = sorted(set(ids[first]) & set(ids[second]))
        if shared:
            raise LayoutProblem(
                path, f"ids in both {first.key} and {second.key} (data would leak): {shared[:5]}"
            )
    return Partition(path, ids, hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class SequenceRecord:
    """One silhouette sequence on disk: a view folder's pickle."""

    subject: str  #: the id folder's name
    label: Label
    view: str
    path: Path  #: the .pkl file


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_subject(root: Path, subject: str) -> list[SequenceRecord]:
    """Every sequence of one id folder, with its class from the label folder's name."""
    folder = root / subject
    if not folder.is_dir():
        raise LayoutProblem(folder, "listed in the partition but absent from the dataset")
    labels = _subfolders(folder)
    if not labels:
        raise LayoutProblem(
            folder, "no label folder: expected <id>/negative|neutral|positive/<view>/*.pkl"
        )
    if len(labels) > 1:
        names = ", ".join(p.name for p in labels)
        raise LayoutProblem(folder, f"one label folder expected per id, found {names}")
    label_folder = labels[0]
    try:
        label = Label(label_folder.name)
    except ValueError:
        raise LayoutProblem(
            label_folder,
            f"unknown label {label_folder.name!r}: label folders are "
            + ", ".join(label.value for label in LABELS)
            + " (lower-case)",
        ) from None
    views = _subfolders(label_folder)
    if not views:
        raise LayoutProblem(label_folder, "no view folder (expected <view>/*.pkl under it)")
    records = []
    for view in views:
        pickles = sorted(view.glob("*.pkl"))
        if len(pickles) != 1:
            found = "no .pkl file (empty sequence)" if not pickles else f"{len(pickles)} .pkl files"
            raise LayoutProblem(view, f"{found}: expected one silhouette sequence per view folder")
        records.append(SequenceRecord(subject, label, view.name, pickles[0]))
    return records


def _same_label(records: list[SequenceRecord], label: Label) -> list[SequenceRecord]:
    """`records` of an id from another folder, refused if that folder labels the id otherwise."""
    for record in records:
        if record.label is not label:
            raise LayoutProblem(
                record.path, f"labelled {record.label.value} here but {label.value} in the dataset"
            )
    return records


class SilhouetteDataset:
    """The sequences of one split, with uint8 [T, 64, 64] arrays cached after the first read."""

    def __init__(
        self, root: Path, partition: Partition, split: Split, also: Sequence[Path] = ()
    ) -> None:
        self.root = Path(root)
        self.partition = partition
        self.split = split
        for folder in (self.root, *also):
            if not Path(folder).is_dir():
                raise LayoutProblem(Path(folder), "dataset folder not found")
        self.records: list[SequenceRecord] = []
        for subject in partition.ids[split]:
            own = scan_subject(self.root, subject)
            self.records += own
            for folder in map(Path, also):  # more sequences of the same ids, where there are any
                if (folder / subject).is_dir():
                    self.records += _same_label(scan_subject(folder, subject), own[0].label)
        self._cache: dict[int, np.ndarray] = {}

    @classmethod
    def open(
        cls,
        root: str | Path,
        partition: str | Path | Partition,
        split: Split | str,
        also: Sequence[str | Path] = (),
    ) -> SilhouetteDataset:
        """Check the layout of one split (cheap: no pickle is read yet); `also`: folders with
        more sequences of the same ids (e.g. the front end's silhouettes of their videos)."""
        if not isinstance(partition, Partition):
            partition = read_partition(partition)
        return cls(Path(root), partition, Split(split), [Path(f) for f in also])

    def __len__(self) -> int:
        return len(self.records)

    def frames(self, index: int) -> np.ndarray:
        """The stored silhouettes [T, 64, 64] uint8 of sequence `index` (checked on first read)."""
        if index not in self._cache:
            self._cache[index] = read_silhouette_pickle(self.records[index].path)
        return self._cache[index]

    def preload(self, on_progress: ProgressCallback | None = None) -> None:
        """Read every pickle now, so a bad file stops the run before any training."""
        for index in range(len(self)):
            self.frames(index)
            if on_progress is not None:
                on_progress(f"reading {self.split} sequences", index + 1, len(self))

    def counts(self) -> dict[Label, int]:
        """Sequences per class, every class listed."""
        found = Counter(record.label for record in self.records)
        return {label: found.get(label, 0) for label in LABELS}

    @property
    def subjects(self) -> list[str]:
        """The id of each sequence, in record order."""
        return [record.subject for record in self.records]


def split_counts(
    root: str | Path, partition: Partition, also: Sequence[Path] = ()
) -> dict[Split, dict[Label, int]]:
    """Sequences per class in every split the partition lists (scans folders, reads no pickle);
    `also` adds to the training split only."""
    return {
        split: SilhouetteDataset(
            Path(root), partition, split, also if split is Split.TRAIN else ()
        ).counts()
        for split in Split
        if partition.ids[split] or split is not Split.VAL
    }
