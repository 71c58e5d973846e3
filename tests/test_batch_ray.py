"""`screen batch --engine ray` on a 2-CPU local Ray cluster: the batch's guarantees hold.

One local cluster serves the in-process tests (module fixture); the killed-driver test
runs the command in subprocesses, each starting its own, as a user's would.
"""

from __future__ import annotations

import csv
import functools
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from random_models import random_classifier

from screen.batch import find_videos, screen_videos
from screen.cli import main
from screen.model.checkpoint import save_checkpoint
from screen.phantom import render_video, sample_walker
from screen.settings import Settings

TESTS = Path(__file__).resolve().parent
FAST = ["--detector", "background", "--segmenter", "background"]  # no networks but ScoNet


@pytest.fixture(scope="module")
def ray_session():
    """A 2-CPU local Ray cluster for the module; its workers can import this test module."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    before = os.environ.get("PYTHONPATH")
    paths = [str(TESTS), str(TESTS.parent), *([before] if before else [])]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)  # read when the workers start
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR, object_store_memory=128 * 1024**2)  # fmt: skip
    yield ray
    ray.shutdown()
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before


@pytest.fixture(scope="module")
def school(tmp_path_factory) -> Path:
    """Four 3 s phantom walkers (two in a class folder), a text file and a truncated video."""
    folder = tmp_path_factory.mktemp("school")
    (folder / "class_b").mkdir()
    for i in range(4):
        label = "positive" if i % 2 else "negative"
        target = folder / ("class_b" if i >= 2 else "") / f"student_{i:02d}.mp4"
        render_video(target, sample_walker(label, 20 + i), seconds=3, size=(320, 180), view="side")
        for sidecar in target.parent.glob(f"{target.stem}.*"):
            if sidecar != target:
                sidecar.unlink()  # the phantom's truth files are not part of a school's folder
    (folder / "notes.mp4").write_text("not a video at all")
    good = (folder / "student_00.mp4").read_bytes()
    (folder / "corrupt.mp4").write_bytes(good[: len(good) // 3])
    return folder


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """A random-weight classifier: the batch's bookkeeping, not the verdicts, is under test."""
    classifier = random_classifier(seed=5)
    return save_checkpoint(tmp_path_factory.mktemp("w") / "random.safetensors", classifier.model,
                           classifier.metadata)  # fmt: skip


def read_csv(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open() as handle:
        return list(csv.DictReader(handle))


def state_rows(out: Path) -> list[tuple[str, str, float | None]]:
    """(video, status, when it finished) of every row of OUT/state.sqlite."""
    with sqlite3.connect(out / "state.sqlite") as db:
        return list(db.execute("SELECT path, status, finished FROM videos ORDER BY path"))


def named(folder: Path) -> list[tuple[Path, str]]:
    return [(video, video.relative_to(folder).as_posix()) for video in find_videos(folder)]


def crashing_factory(factory, name: str, crashes: int, marks: Path):
    """A worker that dies (os._exit) mid-video on `name`'s first `crashes` attempts."""
    screen = factory()

    def screen_one(video: Path):
        if video.name == name:
            with (marks / name).open("a") as handle:
                handle.write(f"{os.getpid()}\n")  # one line per attempt
            if len((marks / name).read_text().splitlines()) <= crashes:
                os._exit(1)
        return screen(video)

    return screen_one


def screen_with_crashes(school, weights, out, name, crashes):
    """The batch core on Ray, `name` killing its worker `crashes` times.

    Returns the run, how often `name` was tried, and the progress reported."""
    from screen.batch_ray import RayEngine

    marks = out.parent / "attempts"
    marks.mkdir()

    class Crashing(RayEngine):
        def run(self, jobs, factory, workers):
            crashing = functools.partial(crashing_factory, factory, name, crashes, marks)
            return super().run(jobs, crashing, workers)

    seen = []
    settings = Settings.of(weights=str(weights), detector="background", segmenter="background")
    run = screen_videos(named(school), out, settings, None,
                        lambda task, done, total: seen.append((done, total)),
                        engine=Crashing())  # fmt: skip
    return run, len((marks / name).read_text().splitlines()), seen


def test_a_killed_worker_is_restarted_and_ray_gives_the_local_verdicts(
    ray_session, school, weights, tmp_path
):
    on_ray, local = tmp_path / "ray", tmp_path / "local"
    run, attempts, progress = screen_with_crashes(school, weights, on_ray, "student_01.mp4", 1)
    assert attempts == 2  # its worker killed mid-video, then screened by the restarted one
    assert run.processed == 6 and run.workers == 2
    assert progress == [(done, 6) for done in range(7)]  # the progress, video by video
    rows = read_csv(on_ray)
    assert len(rows) == 6 and len({row["video"] for row in rows}) == 6  # each exactly once
    assert [path for path, _, _ in state_rows(on_ray)] == sorted(row["video"] for row in rows)
    assert [row["status"] for row in rows].count("done") == 4
    failed = {row["video"]: row["error"] for row in rows if row["status"] == "failed"}
    assert set(failed) == {"notes.mp4", "corrupt.mp4"}  # bad files fail; the batch goes on
    assert "not a video" in failed["notes.mp4"] and failed["corrupt.mp4"]
    assert "batch engine" in (on_ray / "report.html").read_text()

    common = [str(school), "--weights", str(weights), *FAST, "--quiet"]
    assert main(["batch", *common, "--out", str(local), "--workers", "1"]) == 0
    reference = read_csv(local)
    assert [row["video"] for row in rows] == [row["video"] for row in reference]
    for ray_row, local_row in zip(rows, reference, strict=True):
        for column in ("status", "verdict", "action", "flags", "error", "note", "advice"):
            assert ray_row[column] == local_row[column], (ray_row["video"], column)
        for column in ("confidence", "p_negative", "p_neutral", "p_positive"):
            assert ray_row[column] == pytest.approx(local_row[column], abs=2e-4)


@pytest.mark.slow  # three worker restarts: kept out of `make test`
def test_a_video_that_kills_every_worker_fails_and_the_batch_goes_on(
    ray_session, school, weights, tmp_path
):
    from screen.batch_ray import ATTEMPTS

    out = tmp_path / "out"
    run, attempts, _ = screen_with_crashes(school, weights, out, "student_01.mp4", 99)
    assert attempts == ATTEMPTS
    row = next(row for row in read_csv(out) if row["video"] == "student_01.mp4")
    assert row["status"] == "failed" and f"died {ATTEMPTS} times" in row["error"]
    assert "\n" not in row["error"]
    assert [row.status for row in run.rows].count("done") == 3  # the others screened


def test_a_machine_with_another_model_file_fails_its_videos_with_one_line(
    ray_session, school, weights, tmp_path, caplog
):
    from screen.batch import make_video_screener
    from screen.batch_ray import RayEngine

    class OtherModel(RayEngine):  # the workers' machine holds another file of that name
        def run(self, jobs, factory, workers):
            other = functools.partial(make_video_screener, factory.args[0], "0" * 64)
            return super().run(jobs, other, workers)

    settings = Settings.of(weights=str(weights), detector="background", segmenter="background")
    with caplog.at_level(logging.WARNING, logger="screen"):
        run = screen_videos(named(school), tmp_path / "out", settings, None, engine=OtherModel())
    assert [row.status for row in run.rows] == ["failed"] * 6  # every video, none lost
    reasons = {row.error for row in run.rows}
    assert len(reasons) == 1
    (reason,) = reasons
    assert "classifier sconet-random here has sha256" in reason and "\n" not in reason
    assert "give every machine the same model file" in reason
    left_out = [r for r in caplog.records if "a batch worker was left out" in r.getMessage()]
    assert len(left_out) == 1  # two workers, one reason: said once


def test_without_ray_the_engine_is_one_line_and_exit_code_2(school, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code = main(["batch", str(school), "--out", str(tmp_path / "out"), "--engine", "ray"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "screen: error: --engine ray needs Ray: pip install 'scoliosis-screen[ray]'\n"
    assert not (tmp_path / "out").exists()  # refused before any work


def test_an_address_without_the_ray_engine_is_a_usage_error(school, tmp_path, capsys):
    code = main(["batch", str(school), "--out", str(tmp_path / "out"), "--address", "auto"])
    assert code == 2 and "add --engine ray" in capsys.readouterr().err


def kill_the_driver_and_resume(command: list[str], out: Path, after_kill=lambda: None) -> None:
    """Run `command`, SIGKILL it (the driver alone) once two videos are recorded, call
    `after_kill`, run it again; check every video is in results.csv and the state once."""
    driver = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    state = out / "state.sqlite"
    deadline = time.time() + 240
    finished = 0
    while time.time() < deadline and driver.poll() is None and finished < 2:
        if state.exists():
            try:
                with sqlite3.connect(state) as db:
                    query = "SELECT COUNT(*) FROM videos WHERE status != 'pending'"
                    finished = db.execute(query).fetchone()[0]
            except sqlite3.OperationalError:  # the driver is creating it: look again
                pass
        time.sleep(0.1)
    assert driver.poll() is None, "the batch ended before it could be killed"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    assert driver.stderr.read() == ""
    after_kill()
    kept = {path: (status, when) for path, status, when in state_rows(out) if status != "pending"}
    assert 2 <= len(kept) < 6

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0 and rerun.stderr == ""
    rows = read_csv(out)
    assert len(rows) == 6 and len({row["video"] for row in rows}) == 6  # each exactly once
    assert [row["status"] for row in rows].count("done") == 4
    final = {path: (status, when) for path, status, when in state_rows(out)}
    assert len(final) == 6 and all(status in ("done", "failed") for status, _ in final.values())
    for path, finished in kept.items():  # what the killed run finished was kept, not redone
        assert final[path] == finished


def batch_command(school: Path, weights: Path, out: Path, *engine: str) -> list[str]:
    return [sys.executable, "-m", "screen.cli", "batch", str(school), "--out", str(out),
            *engine, "--weights", str(weights), *FAST, "--quiet"]  # fmt: skip


def test_a_killed_driver_on_a_cluster_resumes_with_the_same_command(
    ray_session, school, weights, tmp_path
):
    # The module's cluster stands for a running one (`ray start --head`): --address joins it.
    address = ray_session.get_runtime_context().gcs_address
    out = tmp_path / "out"
    kill_the_driver_and_resume(
        batch_command(school, weights, out, "--engine", "ray", "--address", address), out
    )


def _ray_daemons() -> set[int]:
    """PIDs of the Ray processes that make a cluster (raylet, GCS server)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if command.endswith((b"/raylet", b"/gcs_server")):
                found.add(int(entry.name))
    return found


@pytest.mark.slow  # two local clusters started: kept out of `make test`
def test_a_killed_driver_of_a_local_cluster_leaves_none_and_resumes(school, weights, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "out"
    before = _ray_daemons()

    def no_cluster_left() -> None:  # the killed driver's raylet and GCS went with it
        deadline = time.time() + 30
        while _ray_daemons() - before and time.time() < deadline:
            time.sleep(0.5)
        assert not _ray_daemons() - before, "a killed driver's Ray cluster lingers"

    kill_the_driver_and_resume(batch_command(school, weights, out, "--engine", "ray"), out,
                               no_cluster_left)  # fmt: skip
