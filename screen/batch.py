"""`screen batch`: a whole school's recordings, resumable and parallel.

State lives in OUT/state.sqlite, one row per video file: its content hash,
status, result JSON, error and timing.  Only the main process writes it, one
committed transaction per finished video, so after Ctrl-C, `kill -9` or a power
cut the same command continues where it stopped: finished videos are kept,
unfinished ones are done again, none is recorded twice.
"""

from __future__ import annotations

import csv
import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .batch_workers import Engine, LocalEngine, VideoScreener
from .modelfiles.files import file_sha256
from .outputs.report import VideoRow
from .outputs.result import ModelInfo, ScreeningResult
from .outputs.verdict import Action

if TYPE_CHECKING:
    from .progress import ProgressCallback
    from .settings import Settings

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp")
STATE_FILE = "state.sqlite"
CSV_FILE = "results.csv"
REPORT_FILE = "report.html"
STRIP_KEY = "silhouette_strip_png"  #: in a stored result: base64 PNG of a few silhouettes
ATTENTION_KEY = "attention_png"  #: in a referred student's stored result: base64 PNG, the map
CSV_COLUMNS = (
    "video", "status", "verdict", "action", "confidence",
    "p_negative", "p_neutral", "p_positive", "flags", "error", "note", "advice",
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

    def record(
        self,
        path: str,
        result: ScreeningResult | None,
        error: str | None,
        seconds: float,
        strip: str = "",
        attention: str = "",
    ) -> None:
        """Store one finished video (its result, strip and attention map, or the error) in
        one transaction."""
        status = "done" if error is None else "failed"
        pictures = {STRIP_KEY: strip, **({ATTENTION_KEY: attention} if attention else {})}
        stored = json.dumps({**result.to_dict(), **pictures}) if result else None
        with self.connection:
            self.connection.execute(
                "UPDATE videos SET status=?, result=?, error=?, seconds=?, finished=? WHERE path=?",
                (status, stored, error, seconds, time.time(), path),
            )

    def rows(self, paths: Iterable[str]) -> list[VideoRow]:
        """The state of each path, in the order given."""
        wanted = list(paths)
        query = "SELECT path, status, result, error, seconds FROM videos"
        found = {}
        for path, status, stored, error, seconds in self.connection.execute(query):
            result, strip, attention = None, "", ""
            if stored:
                data = json.loads(stored)
                strip = data.pop(STRIP_KEY, "")
                attention = data.pop(ATTENTION_KEY, "")  # none kept before maps were
                result = ScreeningResult.from_dict(data)
            found[path] = VideoRow(path, status, result, error, seconds, strip, attention)
        return [found[path] for path in wanted if path in found]

    def close(self) -> None:
        self.connection.close()


def csv_row(row: VideoRow) -> dict[str, str]:
    """One CSV row; the result's columns are empty for a file with no result."""
    cells = dict.fromkeys(CSV_COLUMNS, "")
    cells.update(video=row.path, status=row.status, error=row.error or "")
    if (result := row.result) is not None:
        p = result.probabilities
        cells.update(
            verdict=result.verdict.value,
            action=result.action.value,
            confidence=f"{result.confidence:.4f}",
            p_negative=f"{p.negative:.4f}",
            p_neutral=f"{p.neutral:.4f}",
            p_positive=f"{p.positive:.4f}",
            flags=";".join(result.quality.flags),
            note=result.note,  # e.g. NOT FOR CLINICAL USE: a filtered spreadsheet says it too
            advice=" ".join(result.advice),  # sentences, each ending in a full stop
        )
    return cells


def write_csv(path: Path, rows: Iterable[VideoRow]) -> Path:
    temporary = path.with_name(path.name + ".partial")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(csv_row(row))
    temporary.replace(path)
    return path


def make_video_screener(settings: Settings, model_sha256: str | None = None) -> VideoScreener:
    """Build (once per worker) the function that screens one video for the batch.

    `model_sha256`: the classifier the batch reports (the driver's): a worker that
    finds another file under the same name (another machine's copy) refuses to start.
    """
    from .errors import ScreenError
    from .outputs.report_pictures import attention_map_png, silhouette_strip_png
    from .pipeline import Screener

    screener = Screener(settings)
    found = ModelInfo.of(screener.classifier)
    if model_sha256 is not None and found.sha256 != model_sha256:
        raise ScreenError(
            f"classifier {found.name} here has sha256 {found.sha256[:12]}, the batch's "
            f"{model_sha256[:12]}: give every machine the same model file"
        )

    def screen_one(video: Path) -> tuple[ScreeningResult, str, str]:
        screening = screener.screen(video)
        attention = ""
        if screening.result.action == Action.REFER:  # why a student was referred; a second
            # backbone pass, so only for them
            attention = attention_map_png(screener.classifier, screening.stored)
        return screening.result, silhouette_strip_png(screening.stored), attention

    return screen_one


@dataclass(frozen=True)
class BatchRun:
    """What one run of the batch core left in its output folder."""

    out: Path
    rows: list[VideoRow]  #: one per video given, in the order given
    processed: int  #: videos screened by this run (the others were done before)
    workers: int
    model: ModelInfo  #: the classifier every result came from

    @property
    def csv(self) -> Path:
        return self.out / CSV_FILE

    @property
    def report(self) -> Path:
        return self.out / REPORT_FILE

    def summary(self) -> str:
        """One line: counts, referrals, failures, and where the results are."""
        screened = [row.screened for row in self.rows if row.screened is not None]
        failed = sum(row.status == "failed" for row in self.rows)
        referred = sum(result.action == Action.REFER for result in screened)
        return (
            f"{len(self.rows)} videos: {len(screened)} screened ({referred} to refer), "
            f"{failed} failed, {self.processed} processed now; {self.csv}, {self.report}"
        )


def _refuse_other_models(
    state: BatchState, names: Iterable[str], model: ModelInfo, out: Path
) -> None:
    from .errors import ScreenError

    others = Counter(
        f"{row.result.model.name} (sha256 {row.result.model.sha256[:12]})"
        for row in state.rows(names)
        if row.result is not None and row.result.model.sha256 != model.sha256
    )
    if others:
        kept = ", ".join(f"{n} by {name}" for name, n in others.items())
        raise ScreenError(
            f"{out}: holds results of another classifier ({kept}), not of {model.name} "
            f"(sha256 {model.sha256[:12]}): choose a new --out, or delete that folder"
        )


def run_batch(
    folder: Path,
    out: Path,
    settings: Settings,
    workers: int | None,
    on_progress: ProgressCallback | None = None,
    engine: Engine | None = None,
) -> str:
    """Screen every video under `folder` into `out`; returns a one-line summary.

    `on_progress("screening", done, total)` after each finished video, counting those
    finished by an earlier run: the caller draws it (the CLI a bar).  `engine`: where
    the videos are screened (default: this machine's processes).
    """
    from .errors import FileProblem, ScreenError

    if not folder.is_dir():
        raise FileProblem(folder, "not a folder")
    videos = find_videos(folder)
    if not videos:
        raise ScreenError(f"{folder}: no video files ({', '.join(VIDEO_SUFFIXES)}) found")
    named = [(video, video.relative_to(folder).as_posix()) for video in videos]
    return screen_videos(named, out, settings, workers, on_progress, engine=engine).summary()


def screen_videos(
    videos: Sequence[tuple[Path, str]],
    out: Path,
    settings: Settings,
    workers: int | None,
    on_progress: ProgressCallback | None = None,
    one_model: bool = False,
    engine: Engine | None = None,
) -> BatchRun:
    """The batch core: screen each (video file, name) into `out`, resumably, in parallel.

    A name (unique; a path relative to the input, as the CSV and the report show it)
    is the video's key in the state file: a rerun screens only the videos not
    finished before, or whose content changed.  Writes OUT/results.csv and
    OUT/report.html for every video given.  `on_progress("screening", done, total)`
    after each finished video, counting those finished by an earlier run.
    `one_model`: refuse, before screening, an OUT whose kept results came from
    another classifier (an evaluation must not mix two models' verdicts).
    `engine`: where the videos are screened (default: `LocalEngine`, this machine's
    processes); it is closed before this returns.
    """
    import functools

    from .errors import ScreenError
    from .modelfiles.specs import get_spec
    from .outputs.report import write_report
    from .pipeline import classifier_from_settings

    relative = {name: Path(video) for video, name in videos}
    if len(relative) != len(videos):
        repeated = sorted(n for n, k in Counter(name for _, name in videos).items() if k > 1)
        raise ScreenError(f"videos named twice: {', '.join(repeated[:5])}")
    out = out.resolve()
    engine = engine or LocalEngine()
    # The classifier is loaded here once to fail early and to describe it in the report.
    classifier = classifier_from_settings(settings)
    model = ModelInfo.of(classifier)
    state = BatchState(out)
    try:
        hashes = {name: file_sha256(path) for name, path in relative.items()}
        pending = state.register(hashes)
        if one_model:
            _refuse_other_models(state, relative, model, out)
        workers = max(1, min(workers or engine.cores(), len(pending))) if pending else 1
        jobs = [(relative[name], name) for name in pending]
        factory = functools.partial(make_video_screener, settings, model.sha256)
        report = on_progress or (lambda task, done, total: None)
        done = len(relative) - len(jobs)
        report("screening", done, len(relative))
        shown: set[str] = set()
        for outcome in engine.run(jobs, factory, workers) if jobs else ():
            for message in outcome.warnings:
                if message not in shown:  # once per run, not once per worker
                    shown.add(message)
                    name, text = message.split(": ", 1)
                    logging.getLogger(name).warning("%s", text)  # as the worker would have
            state.record(
                outcome.path,
                outcome.result,
                outcome.error,
                outcome.seconds,
                outcome.strip,
                outcome.attention,
            )
            done += 1
            report("screening", done, len(relative))
        rows = state.rows(relative)
        write_csv(out / CSV_FILE, rows)
        spec_card = None
        try:
            spec_card = get_spec(model.name).card_text()
        except ScreenError:
            pass  # a checkpoint with no spec in models/ has no card to show
        pipeline = {
            f"{section}.{name}": value
            for section, values in settings.to_dict().items()
            for name, value in values.items()
        }
        pipeline["batch workers"] = workers
        pipeline["batch engine"] = engine.name
        write_report(out / REPORT_FILE, rows, model, pipeline, spec_card)
    finally:
        state.close()
        engine.close()
    return BatchRun(out, rows, len(jobs), workers, model)
