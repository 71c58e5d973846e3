"""Evaluating the whole tool on labelled videos: every video through `screen batch`'s core.

The labelled videos come from `labelled_videos.py` (a `video,label` CSV or a
Scoliosis1K-layout folder).  Each video
is screened exactly as `screen batch` screens it (same state file: resumable, nothing
screened twice, a bad file recorded as failed), then:

- the silhouette evaluation's figures (`metrics_from_confusion`) over the videos with a
  conclusive verdict;
- the videos that were not judged, per pipeline stage: inconclusive ones by the flags
  that blocked them (`outputs/verdict.py`), failed ones with their one-line reasons;
- an accuracy over all videos, counting inconclusive and failed ones as not correct.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import write_text_atomically
from .batch import BatchRun, screen_videos
from .labelled_videos import LabelledVideo
from .model.calibration import log_probabilities
from .model.classes import LABELS, Label
from .outputs.report import VideoRow
from .outputs.verdict import Stage, Verdict, inconclusive_reasons, stage_of_flag
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
PROTOCOL = "videos"  #: the report's one protocol: the tool's verdict on each whole video
DESCRIPTION = (
    "the tool's verdict on each video (the whole pipeline, as `screen batch`), "
    "over the videos with a conclusive verdict"
)
ALL_VIDEOS = "accuracy_all_videos"  #: the protocol's key for the accuracy over every video
ALL_VIDEOS_NOTE = "correct verdicts over all videos: inconclusive and failed videos count as wrong"


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
