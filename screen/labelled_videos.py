"""Which videos, with which true class: a `video,label` CSV, or a Scoliosis1K-layout folder.

A CSV names each video relative to its own folder (rows count as a spreadsheet shows
them); a folder `<id>/<label>/<view>/<file>.mp4` labels each video by the path part that
names a class, and a partition restricts it to one split's ids.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .batch import VIDEO_SUFFIXES, find_videos
from .errors import FileProblem
from .model.classes import LABELS, Label
from .training.dataset import Partition, Split

CSV_HEADER = ("video", "label")
_LABEL_NAMES = ", ".join(label.value for label in reversed(LABELS))


class LabelsProblem(FileProblem):
    """Labelled videos that cannot be evaluated as given: a usage error (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class LabelledVideo:
    """A video file with its true class."""

    path: Path  #: where the file is
    name: str  #: unique, as given (relative to the CSV or the folder): the batch's key
    label: Label


def is_labels_csv(data: Path) -> bool:
    return data.suffix.lower() == ".csv"


def has_videos(folder: Path) -> bool:
    """Whether a folder holds any video file (else it may be a silhouette dataset)."""
    return folder.is_dir() and bool(find_videos(folder))


def _label(text: str) -> Label | None:
    try:
        return Label(text.strip().lower())
    except ValueError:
        return None


def read_labels_csv(path: str | Path) -> list[LabelledVideo]:
    """The videos a `video,label` CSV lists, each checked to exist; rows count as a
    spreadsheet shows them (the header is row 1)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelsProblem(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LabelsProblem(path, f"cannot read it as a text CSV ({error})") from None
    rows = list(csv.reader(io.StringIO(text)))
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if not set(CSV_HEADER) <= set(header):
        found = ",".join(rows[0]) if rows else "an empty file"
        raise LabelsProblem(
            path, f"the first row must be the header `video,label` (found {found!r})"
        )
    at_video, at_label = header.index("video"), header.index("label")
    videos: list[LabelledVideo] = []
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) <= max(at_video, at_label):
            raise LabelsProblem(path, f"row {number}: expected a video and a label")
        written, label_text = row[at_video].strip(), row[at_label].strip()
        label = _label(label_text)
        if label is None:
            raise LabelsProblem(
                path, f"row {number}: unknown label {label_text!r} (use {_LABEL_NAMES})"
            )
        if not written:
            raise LabelsProblem(path, f"row {number}: no video named")
        name = PurePosixPath(written.replace("\\", "/")).as_posix()
        if name in first_row:
            raise LabelsProblem(
                path, f"row {number}: {name} is listed twice (first in row {first_row[name]})"
            )
        first_row[name] = number
        video = path.parent / name
        if not video.is_file():
            raise LabelsProblem(path, f"row {number}: video {name} not found (looked for {video})")
        videos.append(LabelledVideo(video, name, label))
    if not videos:
        raise LabelsProblem(path, "lists no video under its header")
    return videos


def scan_video_folder(
    root: str | Path,
    partition: Partition | None = None,
    split: Split | str = Split.TEST,
    exclude: Path | None = None,
) -> list[LabelledVideo]:
    """The videos of a `<id>/<label>/<view>/<file>` folder, labelled by their path.

    With a partition, only the ids of `split` (each must have a video).  `exclude`: a
    folder to leave out (the evaluation's own output when it lies inside `root`).
    """
    root = Path(root)
    if not root.is_dir():
        raise LabelsProblem(root, "no such folder")
    skip = exclude.resolve() if exclude is not None else None
    found = [
        video
        for video in find_videos(root)
        if skip is None or not video.resolve().is_relative_to(skip)
    ]
    if not found:
        raise LabelsProblem(
            root,
            f"no video files ({', '.join(VIDEO_SUFFIXES)}) found; for silhouette pickles "
            "(<id>/<label>/<view>/*.pkl) give --partition",
        )
    wanted = set(partition.ids[Split(split)]) if partition is not None else None
    videos, seen = [], set()
    for video in found:
        parts = video.relative_to(root).parts
        labels = {part for part in parts[:-1] if _label(part) is not None and part == part.lower()}
        if not labels:
            raise LabelsProblem(
                video,
                f"no label folder in its path: expected <id>/<{_LABEL_NAMES.replace(', ', '|')}>"
                "/<view>/<file> under the folder",
            )
        if len(labels) > 1:
            raise LabelsProblem(
                video, f"two label folders in its path: {', '.join(sorted(labels))}"
            )
        subject = parts[0]
        if wanted is not None and subject not in wanted:
            continue
        seen.add(subject)
        videos.append(LabelledVideo(video, "/".join(parts), Label(labels.pop())))
    if wanted is not None:
        missing = sorted(wanted - seen)
        if missing:
            key = Split(split).key
            raise LabelsProblem(
                root,
                f"{len(missing)} id(s) of {key} in {partition.path} have no video here: "
                f"{', '.join(missing[:5])}",
            )
        if not videos:
            raise LabelsProblem(partition.path, f"{Split(split).key} lists no id")
    return videos
