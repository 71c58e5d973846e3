"""A phantom dataset in the Scoliosis1K layout, so training and evaluation run as on the real one.

    root/<id>/<label>/<view>/<id>.pkl   uint8 [T, 64, 64], our one normalisation
    root/partition.json                 {"TRAIN_SET": [ids], "TEST_SET": [ids]} (+ "VAL_SET")
    root/phantom.json                   per id: split, label, seed, severity, frames kept

Walker i of a dataset built with seed s is `sample_walker(label_i, seed_i)` with
seed_i fixed by (s, i) alone, so the bytes do not depend on the number of workers.
Validation walkers (`val`, for `screen calibrate`) come after the test ones: adding them
leaves every training and test walker as it was.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FileProblem, ScreenError
from ..model.classes import Label
from ..silhouettes.normalize import normalize_sequence
from ..silhouettes.pickles import write_silhouette_pickle
from .camera import VIEW_NAMES, check_view
from .params import sample_walker
from .render import DEFAULT_FPS, render_masks
from .video import NOTE

#: Ratios are written positive:neutral:negative, as in the paper's partition names (1:1:8).
RATIO_ORDER = (Label.POSITIVE, Label.NEUTRAL, Label.NEGATIVE)
PARTITION_FILE = "partition.json"
MANIFEST_FILE = "phantom.json"
#: Dataset masks: a portrait phone video (the whole body stays in frame at 1.4 m),
#: drawn at half resolution; they are normalised to 64x64 anyway.
DATASET_SIZE = (720, 1280)
MASK_SCALE = 0.5


def parse_ratio(text: str) -> tuple[int, int, int]:
    """'1:1:8' -> (1, 1, 8), read as positive:neutral:negative."""
    parts = text.replace(" ", "").split(":")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 0 or sum(values) == 0:
        raise ScreenError(
            f"bad class ratio {text!r}: write positive:neutral:negative as three whole "
            "numbers, e.g. 1:1:8"
        )
    return values  # type: ignore[return-value]


def parse_views(text: str) -> tuple[str, ...]:
    """'front,side' -> ('front', 'side'), each checked."""
    views = tuple(part.strip() for part in text.split(",") if part.strip())
    if not views:
        raise ScreenError("--view needs at least one of front, side, oblique")
    return tuple(check_view(view) for view in views)


def class_counts(total: int, ratio: tuple[int, int, int]) -> dict[Label, int]:
    """Split `total` walkers by ratio (largest remainders get the leftovers)."""
    shares = np.array(ratio, float) / sum(ratio) * total
    counts = np.floor(shares).astype(int)
    for index in np.argsort(-(shares - counts), kind="stable")[: total - counts.sum()]:
        counts[index] += 1
    return {label: int(n) for label, n in zip(RATIO_ORDER, counts, strict=True)}


@dataclass(frozen=True)
class _Job:
    root: str
    walker_id: str
    label: Label
    seed: int
    frames: int
    fps: float
    view: str


def _build_one(job: _Job) -> dict:
    """Render one walker's masks, normalise them and write its pickle."""
    import cv2

    cv2.setNumThreads(1)  # the pool already uses the cores
    params = sample_walker(job.label, job.seed)
    masks = render_masks(
        params, frames=job.frames, fps=job.fps, size=DATASET_SIZE, view=job.view, scale=MASK_SCALE
    )
    sequence = normalize_sequence(masks)
    if len(sequence.frames) == 0:
        raise ScreenError(f"phantom {job.walker_id} (seed {job.seed}) left no usable frame")
    folder = Path(job.root) / job.walker_id / job.label.value / VIEW_NAMES[job.view]
    write_silhouette_pickle(folder / f"{job.walker_id}.pkl", sequence.frames)
    return {
        "label": job.label.value,
        "view": job.view,
        "seed": job.seed,
        "severity_deg": params.posture.severity_deg,
        "frames": len(sequence.frames),
    }


def _walker_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def build_dataset(
    root: str | Path,
    *,
    train: int = 300,
    train_ratio: tuple[int, int, int] = (1, 1, 8),
    test: int = 90,
    test_ratio: tuple[int, int, int] = (1, 1, 1),
    val: int = 0,
    seed: int = 0,
    frames: int = 300,
    fps: float = DEFAULT_FPS,
    view: str = "front",
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Build `train` + `test` (+ `val`, in the test ratio) phantom walkers under `root`;
    returns the partition JSON's path.

    `view` is one view or a comma list (e.g. 'front,front,side,oblique'): the k-th walker of
    each class in each split is filmed from the list's (k mod length)-th view, so every
    class gets the same mix.  `root` must be new or empty: a dataset is never mixed with
    other files.
    """
    views = parse_views(view)
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileProblem(root, "not an empty folder: choose a new one for the dataset")
    if train + test + val < 1 or min(train, test, val) < 0:
        raise ScreenError("a dataset needs at least one walker (--train / --test)")
    if frames < 5:
        raise ScreenError(f"--frames {frames} is too short: OpenGait wants at least 5 frames")

    rng = np.random.default_rng([seed, 0xDA7A])
    splits = {}
    sizes = [("TRAIN_SET", train, train_ratio), ("TEST_SET", test, test_ratio)]
    if val:  # after the test split, so that adding it changes no other walker
        sizes.append(("VAL_SET", val, test_ratio))
    for name, total, ratio in sizes:
        labels = [lab for lab, n in class_counts(total, ratio).items() for _ in range(n)]
        splits[name] = [labels[i] for i in rng.permutation(len(labels))]
    jobs, split_of = [], {}
    for name, labels in splits.items():
        rank = dict.fromkeys(labels, 0)
        for label in labels:
            index = len(jobs)
            walker_id = f"{index:05d}"
            split_of[walker_id] = name
            chosen = views[rank[label] % len(views)]
            rank[label] += 1
            jobs.append(
                _Job(str(root), walker_id, label, _walker_seed(seed, index), frames, fps, chosen)
            )

    root.mkdir(parents=True, exist_ok=True)
    if workers <= 1:
        walkers = _collect(jobs, map(_build_one, jobs), progress)
    else:
        context = multiprocessing.get_context("spawn")  # no forked threads from torch/paddle
        with context.Pool(min(workers, len(jobs))) as pool:
            walkers = _collect(jobs, pool.imap(_build_one, jobs), progress)

    partition = {name: [w for w in walkers if split_of[w] == name] for name in splits}
    manifest = {
        "note": NOTE,
        "seed": seed,
        "frames": frames,
        "fps": fps,
        "view": ",".join(views),
        "size": list(DATASET_SIZE),
        "mask_scale": MASK_SCALE,
        "ratio_order": "positive:neutral:negative",
        "train_ratio": list(train_ratio),
        "test_ratio": list(test_ratio),
        "walkers": {w: {"split": split_of[w], **walkers[w]} for w in walkers},
    }
    (root / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    partition_path = root / PARTITION_FILE
    partition_path.write_text(json.dumps(partition, indent=1) + "\n", encoding="utf-8")
    return partition_path


def _collect(jobs, results, progress) -> dict[str, dict]:
    walkers = {}
    for done, (job, result) in enumerate(zip(jobs, results, strict=True), start=1):
        walkers[job.walker_id] = result
        if progress is not None:
            progress(done, len(jobs))
    return walkers


def dataset_counts(partition_path: str | Path) -> dict[str, dict[str, int]]:
    """Walkers per split and class, read back from a built dataset's manifest."""
    manifest = json.loads((Path(partition_path).parent / MANIFEST_FILE).read_text("utf-8"))
    counts: dict[str, dict[str, int]] = {}
    for walker in manifest["walkers"].values():
        split = counts.setdefault(walker["split"], {label.value: 0 for label in RATIO_ORDER})
        split[walker["label"]] += 1
    return counts
