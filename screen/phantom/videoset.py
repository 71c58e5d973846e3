"""A phantom video test set: one video per walker of a phantom dataset's split.

Walker `id` of the dataset (`phantom.json`: label and seed) is rendered as a video with
the same `sample_walker(label, seed)`, so its posture, the label's signal, is that
walker's; only the filming varies.  The filming (`VARIETY`) is given by the walker's
rank within its class, so every class gets the same mix of views, distractors, camera
motions and frame shapes:

    OUT/<id>/<label>/<view>/<id>.mp4   (+ <id>.json, <id>.masks.npz: the ground truth)
    OUT/labels.csv                     video,label
    OUT/videoset.json                  the source dataset and every video's filming

A video whose ground truth says it was rendered as planned is kept (a rerun renders only
what is missing; each video is moved into place once complete, its truth JSON last);
the same dataset and options give the same bytes.  `videoset.json` is written last.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import write_text_atomically
from ..errors import FileProblem, ScreenError
from ..model.classes import Label
from ..modelfiles.files import file_sha256
from .camera import VIEW_NAMES
from .dataset import MANIFEST_FILE, PARTITION_FILE, RATIO_ORDER
from .params import sample_walker
from .render import DEFAULT_FPS
from .video import NOTE, render_video

VIDEOSET_FILE = "videoset.json"
LABELS_FILE = "labels.csv"
RENDERING = ".rendering"  #: videos being rendered; hidden, so `find_videos` skips it
#: 8 s at 640x360: the walker comes towards the camera, turns and walks away (frontal and
#: back views) in one video; renders in ~1-2.5 s and screens in ~15 s on 2 cores.
DEFAULT_SECONDS = 8.0
DEFAULT_SIZE = (640, 360)  #: landscape; portrait videos swap the sides
SPLITS = {"test": "TEST_SET", "train": "TRAIN_SET", "val": "VAL_SET"}


@dataclass(frozen=True)
class Variety:
    """How one video is filmed."""

    view: str  #: front (towards and away), side or oblique
    distractor: str  #: none, clinician or passerby
    camera_motion: str  #: none, shake, handheld or pan
    portrait: bool  #: a phone held upright: the size's sides swapped


#: The filming of the k-th walker of each class is VARIETY[k % 10]: front views for most
#: (7 in 10), side and oblique for some; no distractor 5, a clinician 3, a passer-by 2;
#: a fixed camera 6, shake 2, handheld 1, pan 1; landscape 7, portrait 3.
VARIETY: tuple[Variety, ...] = (
    Variety("front", "none", "none", False),
    Variety("front", "clinician", "none", False),
    Variety("front", "passerby", "none", True),
    Variety("front", "none", "shake", False),
    Variety("front", "none", "none", True),
    Variety("front", "clinician", "handheld", False),
    Variety("side", "none", "none", False),
    Variety("oblique", "passerby", "none", False),
    Variety("front", "none", "pan", True),
    Variety("side", "clinician", "shake", False),
)


def variety_of(rank: int) -> Variety:
    """The filming of the walker ranked `rank` (from 0) within its class."""
    return VARIETY[rank % len(VARIETY)]


@dataclass(frozen=True)
class VideoJob:
    """One video to render: the walker and its filming."""

    root: str
    walker_id: str
    label: str
    seed: int
    variety: Variety
    seconds: float
    size: tuple[int, int]  #: width, height of this video (portrait already swapped)
    severity_deg: float | None = None  #: the walker's, from the dataset's manifest
    fps: float = DEFAULT_FPS

    @property
    def relative(self) -> str:
        view = VIEW_NAMES[self.variety.view]
        return f"{self.walker_id}/{self.label}/{view}/{self.walker_id}.mp4"

    @property
    def path(self) -> Path:
        return Path(self.root) / self.relative

    @property
    def frames(self) -> int:
        return round(self.seconds * self.fps)

    @property
    def distractors(self) -> tuple[str, ...]:
        return () if self.variety.distractor == "none" else (self.variety.distractor,)

    def entry(self) -> dict:
        """This video's line in videoset.json."""
        return {
            "video": self.relative,
            "label": self.label,
            "seed": self.seed,
            "severity_deg": self.severity_deg,
            **{k: v for k, v in asdict(self.variety).items() if k != "portrait"},
            "orientation": "portrait" if self.variety.portrait else "landscape",
            "size": list(self.size),
            "seconds": self.seconds,
            "fps": self.fps,
        }


def _truth_matches(job: VideoJob) -> bool:
    """Whether the video is on disk, complete and rendered as `job` plans it."""
    truth_path = job.path.with_suffix(".json")
    if not (
        truth_path.is_file() and job.path.is_file() and job.path.with_suffix(".masks.npz").is_file()
    ):
        return False
    try:
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        motion = truth.get("camera_motion", {}).get("kind", "none")
        kinds = [person["kind"] for person in truth["distractors"]]
        return (
            truth["label"] == job.label
            and truth["seed"] == job.seed
            and truth["view"] == job.variety.view
            and truth["size"] == list(job.size)
            and truth["frames"] == job.frames
            and truth["fps"] == job.fps
            and kinds == list(job.distractors)
            and motion == job.variety.camera_motion
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _render_one(job: VideoJob) -> str:
    """Render one video beside its final place, then move it there (truth JSON last)."""
    import cv2

    cv2.setNumThreads(1)  # the pool already uses the cores
    staging = Path(job.root) / RENDERING / job.walker_id
    shutil.rmtree(staging, ignore_errors=True)
    staged = staging / job.path.name
    render_video(
        staged,
        sample_walker(job.label, job.seed),
        fps=job.fps,
        seconds=job.seconds,
        size=job.size,
        view=job.variety.view,
        distractors=job.distractors,
        camera_motion=job.variety.camera_motion,
    )
    job.path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".mp4", ".masks.npz", ".json"):  # the truth JSON last: it marks complete
        staged.with_suffix(suffix).replace(job.path.with_suffix(suffix))
    shutil.rmtree(staging, ignore_errors=True)
    return job.walker_id


def _read_dataset(dataset: Path, split: str) -> tuple[dict, list[tuple[str, dict]]]:
    """The source's description and the (id, walker) pairs of `split`, ids sorted."""
    if split not in SPLITS:
        raise ScreenError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    manifest_path, partition_path = dataset / MANIFEST_FILE, dataset / PARTITION_FILE
    if not manifest_path.is_file() or not partition_path.is_file():
        raise FileProblem(
            dataset,
            f"not a phantom dataset (no {MANIFEST_FILE} and {PARTITION_FILE}): build one with "
            "`screen phantom dataset`",
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        partition_bytes = partition_path.read_bytes()
        ids = sorted(json.loads(partition_bytes)[SPLITS[split]])
        walkers = [(i, manifest["walkers"][i]) for i in ids]
    except (ValueError, KeyError, TypeError) as error:
        raise FileProblem(dataset, f"unreadable phantom dataset ({error!r})") from None
    if not walkers:
        raise ScreenError(f"{partition_path}: {SPLITS[split]} lists no walker")
    source = {
        "dataset": str(dataset),
        "partition": str(partition_path),
        "partition_sha256": hashlib.sha256(partition_bytes).hexdigest(),
        "split": SPLITS[split],
        "dataset_seed": manifest.get("seed"),
    }
    return source, walkers


def plan_videoset(
    out: Path, dataset: Path, split: str, seconds: float, size: tuple[int, int]
) -> tuple[dict, list[VideoJob]]:
    """The source's description and one job per walker of the split, in id order."""
    source, walkers = _read_dataset(dataset, split)
    ranks: dict[str, int] = {}
    jobs = []
    for walker_id, walker in walkers:
        label = Label(walker["label"]).value
        variety = variety_of(ranks.get(label, 0))
        ranks[label] = ranks.get(label, 0) + 1
        shape = (size[1], size[0]) if variety.portrait else size
        severity = walker.get("severity_deg")
        jobs.append(
            VideoJob(str(out), walker_id, label, int(walker["seed"]), variety, seconds, shape,
                     severity)
        )  # fmt: skip
    return source, jobs


def _check_same_source(out: Path, source: dict) -> None:
    """Refuse to mix two sets in one folder: the old one's videos would be evaluated too."""
    path = out / VIDEOSET_FILE
    if not path.is_file():
        return
    try:
        before = json.loads(path.read_text(encoding="utf-8"))["source"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    for key in ("partition_sha256", "split"):
        if before.get(key) != source[key]:
            raise FileProblem(
                out,
                f"holds a video set made from another dataset or split ({key} differs): "
                "choose a new folder, or delete this one",
            )


@dataclass(frozen=True)
class VideoSet:
    manifest: Path
    labels: Path
    videos: int
    rendered: int  #: by this run (the others were complete already)
    counts: dict[str, int]  #: videos per class
    mix: dict[Variety, dict[str, int]]  #: videos per filming and class


def build_videoset(
    out: str | Path,
    dataset: str | Path,
    *,
    split: str = "test",
    seconds: float = DEFAULT_SECONDS,
    size: tuple[int, int] = DEFAULT_SIZE,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> VideoSet:
    """Render (or keep) one video per walker of `dataset`'s `split` into `out`.

    `progress(done, total)` after each video, counting those already complete.
    """
    out, dataset = Path(out), Path(dataset)
    if seconds <= 0:
        raise ScreenError(f"--seconds must be positive, got {seconds}")
    source, jobs = plan_videoset(out, dataset, split, seconds, size)
    if out.exists() and not out.is_dir():
        raise FileProblem(out, "exists and is not a folder")
    _check_same_source(out, source)
    todo = [job for job in jobs if not _truth_matches(job)]
    done = len(jobs) - len(todo)
    if progress is not None:
        progress(done, len(jobs))
    out.mkdir(parents=True, exist_ok=True)

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(jobs))

    if workers <= 1 or len(todo) <= 1:
        for _ in map(_render_one, todo):
            tick()
    else:
        context = multiprocessing.get_context("spawn")  # no forked torch/paddle threads
        with context.Pool(min(workers, len(todo))) as pool:
            for _ in pool.imap_unordered(_render_one, todo):
                tick()
            pool.close()
            pool.join()
    shutil.rmtree(out / RENDERING, ignore_errors=True)

    labels = io.StringIO()
    writer = csv.writer(labels, lineterminator="\n")
    writer.writerow(("video", "label"))
    writer.writerows((job.relative, job.label) for job in jobs)
    write_text_atomically(out / LABELS_FILE, labels.getvalue())
    counts = {label.value: sum(job.label == label.value for job in jobs) for label in RATIO_ORDER}
    manifest = {
        "note": NOTE,
        "source": source,
        "seconds": seconds,
        "fps": DEFAULT_FPS,
        "size": list(size),
        "variety": {
            "rule": "the k-th walker of each class (ids sorted) is filmed as variety[k % "
            f"{len(VARIETY)}], so every class gets the same mix",
            "cycle": [asdict(variety) for variety in VARIETY],
        },
        "counts": counts,
        "videos": {job.walker_id: {**job.entry(), "sha256": file_sha256(job.path)} for job in jobs},
    }
    write_text_atomically(out / VIDEOSET_FILE, json.dumps(manifest, indent=1) + "\n")
    mix: dict[Variety, dict[str, int]] = {}
    for job in jobs:
        row = mix.setdefault(job.variety, dict.fromkeys(counts, 0))
        row[job.label] += 1
    return VideoSet(
        out / VIDEOSET_FILE, out / LABELS_FILE, len(jobs), len(todo), counts,
        dict(sorted(mix.items(), key=lambda item: VARIETY.index(item[0]))),
    )  # fmt: skip
