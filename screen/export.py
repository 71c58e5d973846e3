"""`screen silhouettes`: anonymous silhouettes out, never frames or colour images.

Per video, in a Scoliosis1K-style tree that `screen train` reads:
    OUT/<id>/<label>/<view>/<id>.pkl     uint8 [T, 64, 64], the stored form
    OUT/<id>/<label>/<view>/<id>.json    frame timestamps, quality, stages
    OUT/<id>/<label>/<view>/masks/*.png  single-channel 0/255 masks
A folder already laid out as Scoliosis1K (`<id>/<label>/<view>/<file>`, as `screen phantom
videoset` writes) keeps its ids, labels and views, so its export is a training set as it
stands.  With --pseudonymize, <id> is a salted hash of the file's path (of the id in such a
tree), so exported data carries no student names; the sidecar then omits the source path too.
A video already exported is skipped (a rerun resumes); one that fails is reported and the
others go on.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from pathlib import Path

import cv2
import numpy as np

from .batch import find_videos
from .errors import FileProblem, ScreenError
from .frontend.extract import Frontend
from .model.classes import Label
from .pipeline import cpu_budget, participant_sequence
from .progress import ProgressCallback
from .settings import Settings
from .silhouettes.pickles import write_silhouette_pickle

UNLABELLED = "unlabelled"  #: the label folder when --label is not given (screen train needs one)
SALT_FILE = ".pseudonym-salt"


def _safe_id(relative: str) -> str:
    """A folder-safe id from a relative path: no separators, no dot-dot, no odd characters."""
    stem = relative.rsplit(".", 1)[0].replace("/", "__")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem).lstrip(".") or "video"


def scoliosis1k_place(relative: str) -> tuple[str, str, str] | None:
    """(id, label, view) of a video at `<id>/<label>/<view>/<file>`, else None."""
    parts = relative.split("/")
    if len(parts) != 4 or parts[1] not in {label.value for label in Label}:
        return None
    subject, label, view = parts[:3]
    return (subject, label, view) if _plain_name(subject) and _plain_name(view) else None


def _plain_name(text: str) -> bool:
    """A folder name that cannot climb, hide or surprise: letters, digits, _ . - only."""
    return bool(re.fullmatch(r"[A-Za-z0-9_.-]+", text)) and not text.startswith(".")


def pseudonym(relative: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}\0{relative}".encode()).hexdigest()[:16]


def _salt(out: Path, given: str | None) -> str:
    """The salt given, else the one kept in OUT (made once), so reruns give the same names."""
    if given:
        return given
    path = out / SALT_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    salt = secrets.token_hex(16)
    path.write_text(salt + "\n", encoding="utf-8")
    return salt


def _inside(out: Path, path: Path) -> Path:
    """Refuse any output path that would leave the output folder."""
    if out.resolve() not in path.resolve().parents:
        raise ScreenError(f"{path}: refusing to write outside the output folder {out}")
    return path


def export_silhouettes(
    source: Path,
    out: Path,
    settings: Settings,
    label: str | None = None,
    view: str = "000_180",
    full: bool = False,
    pseudonymize: bool = False,
    salt: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> tuple[list[str], list[str]]:
    """Export every video under `source` (or the one video): one line per video exported or
    skipped, and one per video of a folder that failed (a lone video's failure raises)."""
    if label is not None:
        try:
            label = Label(label.lower()).value
        except ValueError:
            raise ScreenError(
                f"unknown label {label!r}: use positive, neutral or negative"
            ) from None
    if not _plain_name(view):
        raise ScreenError(f"view {view!r} must be a plain folder name like 000_180")
    if source.is_dir():
        videos = {p.relative_to(source).as_posix(): p for p in find_videos(source)}
        if not videos:
            raise ScreenError(f"{source}: no video files found")
    elif source.is_file():
        videos = {source.name: source}
    else:
        raise FileProblem(source, "no such file or folder")
    out.mkdir(parents=True, exist_ok=True)
    secret = _salt(out, salt) if pseudonymize else None
    # One front end for the whole folder: its networks load once, not once per video.
    runner = Frontend(settings, cpu_budget(settings))
    lines, failures = [], []
    for relative, video in videos.items():
        place = scoliosis1k_place(relative) if source.is_dir() and label is None else None
        subject, video_label, video_view = place or (relative, label, view)
        name = pseudonym(subject, secret) if secret else _safe_id(subject)
        folder = _inside(out, out / name / (video_label or UNLABELLED) / video_view)
        if (folder / f"{name}.json").exists():
            lines.append(f"{relative}: already exported to {folder.relative_to(out)}")
            continue
        try:
            frontend = runner.extract(video, on_progress)
        except ScreenError as error:  # one unreadable video must not cost the folder's others
            if not source.is_dir():
                raise
            failures.append(f"{relative}: {error}")
            continue
        participant = participant_sequence(frontend)
        if not participant.silhouettes:
            lines.append(
                f"{relative}: no usable silhouette ({', '.join(frontend.flags) or 'none'})"
            )
            continue
        write_silhouette_pickle(folder / f"{name}.pkl", participant.stored)
        masks = folder / "masks"
        masks.mkdir(parents=True, exist_ok=True)
        for silhouette, stored in zip(participant.silhouettes, participant.stored, strict=True):
            image = (
                silhouette.mask.mask if full else np.where(stored >= 128, 255, 0).astype(np.uint8)
            )
            cv2.imwrite(str(masks / f"{silhouette.index:06d}.png"), image)  # single channel
        sidecar = {
            "id": name,
            "source": None if secret else relative,
            "label": video_label,
            "view": video_view,
            "fps": settings.video.fps,
            "png_form": "cropped full resolution" if full else "normalised 64x64, binarised at 128",
            "frames": [
                {"index": s.index, "timestamp": round(s.timestamp, 4)}
                for s in participant.silhouettes
            ],
            "quality": {
                "flags": list(frontend.flags),
                "silhouettes_used": len(participant.silhouettes),
                "silhouettes_cut_by_edge": participant.cut,
                "track_coverage": frontend.participant.coverage,
            },
            "detector": frontend.detector.backend,
            "segmenter": frontend.segmenter.backend,
            "note": "silhouettes only: no video frames or colour images are exported",
        }
        (folder / f"{name}.json").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
        lines.append(
            f"{relative} -> {folder.relative_to(out)} ({len(participant.silhouettes)} silhouettes)"
        )
    return lines, failures
