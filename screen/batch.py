"""`screen batch`: a whole school's recordings, resumable and parallel.

State lives in OUT/state.sqlite, one row per video file: its content hash,
status, result JSON, error and timing.  Only the main process writes it, one
committed transaction per finished video, so after Ctrl-C, `kill -9` or a power
cut the same command continues where it stopped: finished videos are kept,
unfinished ones are done again, none is recorded twice.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .cores import CPU_SHARE_VARIABLE, available_cores

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp")
STATE_FILE = "state.sqlite"
CSV_FILE = "results.csv"
CSV_COLUMNS = (
    "video", "status", "verdict", "action", "confidence",
    "p_negative", "p_neutral", "p_positive", "flags", "error", "note",
)  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    path TEXT PRIMARY KEY,      -- relative to the input folder
    sha256 TEXT NOT NULL,       -- content hash: a changed file is screened again
    status TEXT NOT NULL,       -- pending | done | failed
    result TEXT,                -- the result JSON of a done video
    error TEXT,                 -- one line, for a failed video
    seconds REAL,               -- processing time
    finished REAL               -- unix time
)
"""


def find_videos(root: Path) -> list[Path]:
    """Every file under `root` with a common video extension, sorted (hidden folders skipped)."""
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            found.append(path)
    return sorted(found)


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class BatchState:
    """The SQLite state file of one batch output folder."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(out_dir / STATE_FILE)
        self.connection.execute(
            "PRAGMA journal_mode=WAL"
        )  # durable commits, readable while running
        self.connection.execute(_SCHEMA)
        self.connection.commit()

    def register(self, videos: dict[str, str]) -> list[str]:
        """Record {relative path: sha256}; return the paths still to screen, in order."""
        known = dict(self.connection.execute("SELECT path, sha256 FROM videos"))
        with self.connection:
            for path, sha in videos.items():
                if known.get(path) != sha:
                    self.connection.execute(
                        "INSERT OR REPLACE INTO videos (path, sha256, status) "
                        "VALUES (?, ?, 'pending')",
                        (path, sha),
                    )
        rows = self.connection.execute("SELECT path FROM videos WHERE status = 'pending'")
        pending = {path for (path,) in rows}
        return [path for path in videos if path in pending]

    def record(self, path: str, result: dict | None, error: str | None, seconds: float) -> None:
        status = "done" if error is None else "failed"
        with self.connection:
            self.connection.execute(
                "UPDATE videos SET status=?, result=?, error=?, seconds=?, finished=? WHERE path=?",
                (status, json.dumps(result) if result else None, error, seconds, time.time(), path),
            )

    def rows(self, paths: Iterable[str]) -> list[dict]:
        """The state of each path, in the order given."""
        wanted = list(paths)
        query = "SELECT path, status, result, error, seconds FROM videos"
        found = {}
        for path, status, result, error, seconds in self.connection.execute(query):
            result = json.loads(result) if result else None
            found[path] = {"path": path, "status": status, "result": result, "error": error,
                           "seconds": seconds}  # fmt: skip
        return [found[path] for path in wanted if path in found]

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class Outcome:
    path: str
    result: dict | None
    error: str | None
    seconds: float


# Each worker process builds its screening function once (models loaded once per worker).
_worker_screen: Callable[[Path], dict] | None = None


def _init_worker(factory: Callable[[], Callable[[Path], dict]], threads: int) -> None:
    global _worker_screen
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ[CPU_SHARE_VARIABLE] = str(threads)  # read by cpu_budget
    import torch

    torch.set_num_threads(threads)
    _worker_screen = factory()


def _run_one(job: tuple[Path, str]) -> Outcome:
    from .errors import ScreenError

    video, relative = job
    started = time.perf_counter()
    try:
        result = _worker_screen(video)
        return Outcome(relative, result, None, time.perf_counter() - started)
    except ScreenError as error:
        return Outcome(relative, None, str(error), time.perf_counter() - started)
    except Exception as error:  # noqa: BLE001 - one bad video must never stop the batch
        reason = (
            f"unexpected {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        )
        return Outcome(relative, None, reason, time.perf_counter() - started)


def run_jobs(
    jobs: list[tuple[Path, str]],
    factory: Callable[[], Callable[[Path], dict]],
    workers: int,
) -> Iterator[Outcome]:
    """Screen each (video, relative path) in `workers` processes; yield outcomes as they finish."""
    if not jobs:
        return
    threads = max(1, available_cores() // max(1, workers))
    if workers <= 1:
        _init_worker(factory, threads)
        for job in jobs:
            yield _run_one(job)
        return
    context = multiprocessing.get_context("spawn")  # no forked torch/paddle state
    with context.Pool(workers, initializer=_init_worker, initargs=(factory, threads)) as pool:
        yield from pool.imap_unordered(_run_one, jobs, chunksize=1)
        # Let the workers exit on their own: the context's terminate() would SIGTERM them,
        # and Paddle prints a crash banner on SIGTERM.
        pool.close()
        pool.join()


def csv_row(relative: str, state: dict) -> dict:
    result = state["result"] or {}
    probabilities = result.get("probabilities", {})
    confidence = result.get("confidence")

    def fmt(value):
        return "" if value is None else f"{value:.4f}"

    return {
        "video": relative,
        "status": state["status"],
        "verdict": result.get("verdict", ""),
        "action": result.get("action", ""),
        "confidence": fmt(confidence),
        "p_negative": fmt(probabilities.get("negative")),
        "p_neutral": fmt(probabilities.get("neutral")),
        "p_positive": fmt(probabilities.get("positive")),
        "flags": ";".join(result.get("quality", {}).get("flags", [])),
        "error": state["error"] or "",
        "note": result.get("note", ""),  # e.g. NOT FOR CLINICAL USE: the row says it too
    }


def write_csv(path: Path, rows: list[dict]) -> Path:
    temporary = path.with_name(path.name + ".partial")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(csv_row(row["path"], row))
    temporary.replace(path)
    return path


def make_video_screener(settings) -> Callable[[Path], dict]:
    """Build (once per worker) the function that screens one video for the batch."""
    from .pipeline import Screener
    from .outputs.report import STRIP_KEY, silhouette_strip_png

    screener = Screener(settings)

    def screen_one(video: Path) -> dict:
        screening = screener.screen(video)
        return {**screening.result, STRIP_KEY: silhouette_strip_png(screening.stored)}

    return screen_one


def run_batch(folder: Path, out: Path, settings, workers: int | None, quiet: bool = False) -> str:
    """Screen every video under `folder` into `out`; returns a one-line summary."""
    import functools

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .errors import FileProblem, ScreenError
    from .pipeline import classifier_from_settings
    from .outputs.report import write_report
    from .modelfiles.specs import get_spec
    from .outputs.verdict import honesty_note

    if not folder.is_dir():
        raise FileProblem(folder, "not a folder")
    videos = find_videos(folder)
    if not videos:
        raise ScreenError(f"{folder}: no video files ({', '.join(VIDEO_SUFFIXES)}) found")
    out = out.resolve()
    # The classifier is loaded here once to fail early and to describe it in the report.
    classifier = classifier_from_settings(settings)
    relative = {video.relative_to(folder).as_posix(): video for video in videos}
    state = BatchState(out)
    try:
        hashes = {name: content_hash(path) for name, path in relative.items()}
        pending = state.register(hashes)
        workers = max(1, min(workers or available_cores(), len(pending) or 1))
        jobs = [(relative[name], name) for name in pending]
        factory = functools.partial(make_video_screener, settings)
        progress = Progress(
            TextColumn("screening"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            disable=quiet, transient=True,
        )  # fmt: skip
        with progress:
            already = len(relative) - len(jobs)
            task = progress.add_task("videos", total=len(relative), completed=already)
            for outcome in run_jobs(jobs, factory, workers):
                state.record(outcome.path, outcome.result, outcome.error, outcome.seconds)
                progress.advance(task)
        rows = state.rows(relative)
        write_csv(out / CSV_FILE, rows)
        metadata = classifier.metadata
        spec_card = None
        try:
            spec_card = get_spec(metadata.name).card_text()
        except ScreenError:
            pass  # a checkpoint with no spec in models/ has no card to show
        note = honesty_note(metadata.name, metadata.clinical, metadata.trained_on)
        pipeline = {**settings.to_dict(), "workers": workers}
        write_report(out / "report.html", rows, classifier.describe(), note, pipeline, spec_card)
    finally:
        state.close()
    done = sum(row["status"] == "done" for row in rows)
    failed = sum(row["status"] == "failed" for row in rows)
    referred = sum(row["status"] == "done" and row["result"]["action"] == "refer" for row in rows)
    return (
        f"{len(rows)} videos: {done} screened ({referred} to refer), {failed} failed, "
        f"{len(jobs)} processed now; {out / CSV_FILE}, {out / 'report.html'}"
    )
