"""Evaluating the whole tool on labelled videos: every video through `screen batch`'s core.

The labels come from a CSV (`video,label`, paths relative to the CSV's folder) or from
a folder in the Scoliosis1K layout, `<id>/<label>/<view>/<file>.mp4` (the label is the
path part that names a class; a partition restricts it to one split's ids).  Each video
is screened exactly as `screen batch` screens it (same state file: resumable, nothing
screened twice, a bad file recorded as failed), then:

- the silhouette evaluation's figures (`metrics_from_confusion`) over the videos with a
  conclusive verdict;
- the videos that were not judged, per pipeline stage: inconclusive ones by the flags
  that blocked them (`outputs/verdict.py`), failed ones with their one-line reasons;
- an accuracy over all videos, counting inconclusive and failed ones as not correct.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np

from .atomic import write_text_atomically
from .batch import VIDEO_SUFFIXES, BatchRun, find_videos, screen_videos
from .errors import FileProblem
from .model.calibration import log_probabilities
from .model.classes import LABELS, Label
from .outputs.report import VideoRow
from .outputs.verdict import Stage, Verdict, inconclusive_reasons, stage_of_flag
from .training.dataset import Partition, Split
from .training.evaluate import (
    Proportion,
    confidence_summary,
    confusion_matrix,
    metrics_from_confusion,
)

if TYPE_CHECKING:
    from .progress import ProgressCallback
    from .settings import Settings

EVALUATION_FILE = "evaluation.json"
SETTINGS_FILE = "evaluation-settings.json"  #: the settings OUT's videos were screened with
#: Settings that do not change a result (how the work is spread over the CPU).
RESULT_NEUTRAL_SECTIONS = ("runtime",)
CSV_HEADER = ("video", "label")
PROTOCOL = "videos"  #: the report's one protocol: the tool's verdict on each whole video
DESCRIPTION = (
    "the tool's verdict on each video (the whole pipeline, as `screen batch`), "
    "over the videos with a conclusive verdict"
)
ALL_VIDEOS = "accuracy_all_videos"  #: the protocol's key for the accuracy over every video
ALL_VIDEOS_NOTE = "correct verdicts over all videos: inconclusive and failed videos count as wrong"
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


def _reason(row: VideoRow, video: LabelledVideo) -> str:
    """A failed file's reason, short enough to group files by: without the path its
    error starts with and without the details in brackets or after a semicolon."""
    error = row.error or "unknown error"
    for prefix in (f"{video.path}: ", f"{row.path}: "):
        if error.startswith(prefix):
            error = error[len(prefix) :]
            break
    return error.split(" (")[0].split(";")[0].strip() or error


def failure_stage(error: str) -> Stage:
    """A failed file's stage: the video file (unreadable, truncated, no frames, codec),
    unless the error was unexpected (a bug, not the file)."""
    return Stage.OTHER if error.startswith("unexpected ") else Stage.VIDEO


def _video_row(video: LabelledVideo, row: VideoRow) -> dict:
    result = row.screened
    entry: dict = {"video": video.name, "label": video.label.value, "status": row.status}
    if result is None:
        reason = _reason(row, video)
        return {**entry, "verdict": None, "correct": False, "probabilities": None,
                "flags": [], "stage": failure_stage(reason).value, "reasons": [reason],
                "error": row.error}  # fmt: skip
    reasons = list(inconclusive_reasons(result.quality.flags))
    judged = result.verdict != Verdict.INCONCLUSIVE
    if not judged and not reasons:  # judge() blocks only on these; keep the row honest anyway
        reasons = ["inconclusive"]
    stage = None if judged else min((stage_of_flag(f) for f in reasons), key=list(Stage).index)
    return {
        **entry,
        "verdict": result.verdict.value,
        "correct": judged and result.verdict.value == video.label.value,
        "probabilities": result.probabilities.to_dict(),
        "flags": list(result.quality.flags),
        "stage": None if stage is None else stage.value,
        "reasons": [] if judged else reasons,
        "error": None,
    }


def video_report(videos: Sequence[LabelledVideo], run: BatchRun, data: dict) -> dict:
    """The evaluation of one batch run over labelled videos (plain JSON types).

    Inconclusive videos are put under the earliest stage among the reasons that blocked
    them (`outputs.verdict.inconclusive_reasons`: `no_person` and `too_few_silhouettes`
    together count under detection/tracking, where it started); `with_flags` counts their
    other flags (e.g. why the silhouettes were too few).
    """
    rows = {row.path: row for row in run.rows}
    table = [_video_row(video, rows[video.name]) for video in videos]
    judged = [row for row in table if row["status"] == "done" and row["stage"] is None]
    matrix = confusion_matrix((r["label"] for r in judged), (r["verdict"] for r in judged))
    correct = sum(row["correct"] for row in table)
    figures = {
        "description": DESCRIPTION,
        **metrics_from_confusion(matrix),
        "confidence": confidence_summary(
            (r["label"], r["verdict"], r["probabilities"][r["verdict"]]) for r in judged
        ),
        ALL_VIDEOS: {
            **Proportion(correct, len(table)).to_dict(),
            "note": ALL_VIDEOS_NOTE,
        },
    }
    stages = {
        stage.value: {"inconclusive": 0, "failed": 0, "reasons": Counter(), "with_flags": Counter()}
        for stage in Stage
    }
    for row in table:
        if row["stage"] is None:
            continue
        group = stages[row["stage"]]
        if row["status"] == "failed":
            group["failed"] += 1
        else:
            group["inconclusive"] += 1
            group["with_flags"].update(f for f in row["flags"] if f not in row["reasons"])
        group["reasons"].update(row["reasons"])
    inconclusive = sum(group["inconclusive"] for group in stages.values())
    failed = [
        {"video": row["video"], "label": row["label"], "error": row["error"]}
        for row in table
        if row["status"] == "failed"
    ]
    counts = Counter(video.label for video in videos)
    return {
        "note": run.model.note,
        "model": run.model.to_dict(),
        "data": {
            **data,
            "videos": len(videos),
            "counts": {label.value: counts.get(label, 0) for label in LABELS},
        },
        "outcomes": {
            "videos": len(table),
            "judged": len(judged),
            "inconclusive": inconclusive,
            "failed": len(failed),
        },
        "protocols": {PROTOCOL: figures},
        "not_judged": {
            "by_stage": {
                name: {
                    **group,
                    "reasons": dict(group["reasons"].most_common()),
                    "with_flags": dict(group["with_flags"].most_common()),
                }
                for name, group in stages.items()
            },
            "failed": failed,
        },
        "batch": {
            "out": str(run.out),
            "results_csv": str(run.csv),
            "report_html": str(run.report),
            "evaluation_json": str(run.out / EVALUATION_FILE),
            "screened_now": run.processed,
            "workers": run.workers,
        },
        "videos": table,
    }


def evaluate_videos(
    videos: Sequence[LabelledVideo],
    out: Path,
    settings: Settings,
    workers: int | None,
    data: dict,
    on_progress: ProgressCallback | None = None,
) -> dict:
    """Screen every labelled video into `out` (resumable), evaluate, write OUT/evaluation.json.

    `data`: how the videos were given (source, partition), kept in the report.
    """
    _keep_one_set_of_settings(out, settings)
    named = [(video.path, video.name) for video in videos]
    run = screen_videos(named, out, settings, workers, on_progress, one_model=True)
    report = video_report(videos, run, data)
    write_text_atomically(run.out / EVALUATION_FILE, json.dumps(report, indent=2) + "\n")
    return report


def _keep_one_set_of_settings(out: Path, settings: Settings) -> None:
    """Record the settings in OUT on the first run; refuse a rerun with others.

    The batch state keeps every finished video's result, so a rerun with, say, another
    detector or clip sampling would silently report the first run's verdicts.
    """
    from .errors import ScreenError

    wanted = {
        section: values
        for section, values in json.loads(json.dumps(settings.to_dict())).items()
        if section not in RESULT_NEUTRAL_SECTIONS
    }
    path = out / SETTINGS_FILE
    if path.is_file():
        before = json.loads(path.read_text(encoding="utf-8"))
        changed = [
            f"{section}.{name}"
            for section, values in wanted.items()
            for name, value in values.items()
            if before.get(section, {}).get(name, value) != value
        ]
        if changed:
            raise ScreenError(
                f"{out}: its videos were screened with other settings ({', '.join(changed[:5])} "
                "differ): rerun with the same settings, or choose a new --out"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(wanted, indent=1) + "\n", encoding="utf-8")


def video_clip_log_probabilities(
    videos: Sequence[LabelledVideo],
    work: Path,
    settings: Settings,
    workers: int | None,
    order: Sequence[Label],
    on_progress: ProgressCallback | None = None,
) -> tuple[list[np.ndarray], list[Label], dict[str, int]]:
    """Screen the videos into `work` (resumable) with the model's raw, uncalibrated
    probabilities; per judged video its clips' log-probabilities [clips, 3] in checkpoint
    `order` and its label, with the counts of videos that could not be used."""
    raw = replace(settings, classifier=replace(settings.classifier, calibrated=False))
    _keep_one_set_of_settings(work, raw)
    named = [(video.path, video.name) for video in videos]
    run = screen_videos(named, work, raw, workers, on_progress, one_model=True)
    clips, labels = [], []
    skipped = Counter()
    for video, row in zip(videos, run.rows, strict=True):
        result = row.screened
        if result is None or result.verdict == Verdict.INCONCLUSIVE or not result.clips:
            skipped["failed" if result is None else "inconclusive"] += 1
            continue
        named_clips = [clip.probabilities.to_dict() for clip in result.clips]
        probabilities = np.array([[p[label.value] for label in order] for p in named_clips])
        clips.append(log_probabilities(probabilities))
        labels.append(video.label)
    return clips, labels, dict(skipped)
