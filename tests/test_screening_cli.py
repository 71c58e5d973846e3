"""`screen VIDEO`, `screen batch`, `screen silhouettes` as a user runs them, on phantom videos."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from random_models import random_classifier

from screen.cli import main
from screen.model.checkpoint import save_checkpoint
from screen.phantom import render_video, sample_walker
from screen.silhouettes.pickles import read_silhouette_pickle
from screen.training.dataset import scan_subject

CONTRACT_KEYS = {"video", "verdict", "action", "confidence", "probabilities", "clips", "quality",
                 "model", "pipeline", "timing", "note"}  # fmt: skip


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """Short side-view phantom walkers (the weight-free front end sees them well)."""
    folder = tmp_path_factory.mktemp("videos")
    made = {}
    for label, seed in (("positive", 11), ("negative", 12)):
        path = folder / f"{label}.mp4"
        render_video(path, sample_walker(label, seed), seconds=5, size=(480, 270), view="side")
        made[label] = path
    return made


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """A random-weight classifier: the contract, not the verdict, is under test here."""
    classifier = random_classifier(seed=5)
    return save_checkpoint(tmp_path_factory.mktemp("w") / "random.safetensors", classifier.model,
                           classifier.metadata)  # fmt: skip


def run_json(capsys, *args) -> dict:
    assert main([*map(str, args), "--json", "-", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


def test_screen_video_json_contract(videos, weights, capsys):
    result = run_json(capsys, videos["positive"], "--weights", weights, "--detector", "background",
                      "--segmenter", "background")  # fmt: skip
    assert CONTRACT_KEYS <= set(result)
    assert result["verdict"] in {"positive", "neutral", "negative"}
    assert (
        result["action"]
        == {"positive": "refer", "neutral": "rescreen", "negative": "none"}[result["verdict"]]
    )
    assert set(result["probabilities"]) == {"negative", "neutral", "positive"}
    assert sum(result["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert result["confidence"] == max(result["probabilities"].values())
    quality = result["quality"]
    assert quality["frames_read"] == 75 and quality["silhouettes_used"] >= 60
    assert 0.8 <= quality["track_coverage"]["coverage"] <= 1
    model = result["model"]
    assert {"name", "sha256", "class_order", "clinical"} <= set(model) and model[
        "clinical"
    ] is False
    assert "NOT FOR CLINICAL USE" in result["note"]
    assert result["pipeline"]["detector"]["backend"] == "background"
    assert result["pipeline"]["fps"] == 15
    clip = result["clips"][0]
    assert clip["start_frame"] < clip["stop_frame"] and clip["start_time"] <= clip["stop_time"]
    assert set(clip["probabilities"]) == {"negative", "neutral", "positive"}


def test_screen_video_terminal_summary_says_not_clinical(videos, weights, capsys):
    code = main([str(videos["negative"]), "--weights", str(weights), "--detector", "background",
                 "--segmenter", "background"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "verdict" in out and "NOT FOR CLINICAL USE" in out and "clinical: NO" in out


def test_a_video_without_a_person_is_inconclusive_not_an_error(tmp_path, weights, capsys):
    path = tmp_path / "empty_corridor.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(45):
        writer.write(np.clip(120 + rng.normal(0, 3, (240, 320, 3)), 0, 255).astype(np.uint8))
    writer.release()
    result = run_json(capsys, path, "--weights", weights, "--detector", "background",
                      "--segmenter", "background")  # fmt: skip
    assert result["verdict"] == "inconclusive" and result["action"] == "retake"
    assert "too_few_silhouettes" in result["quality"]["flags"]
    assert sum(result["probabilities"].values()) == pytest.approx(1, abs=1e-4)


@pytest.mark.parametrize(
    "content, expected",
    [(None, "no such file"), (b"this is a text file", "not a video"), (b"", "empty")],
)
def test_unreadable_video_is_one_line_and_non_zero(tmp_path, weights, capsys, content, expected):
    path = tmp_path / "student.mp4"
    if content is not None:
        path.write_bytes(content)
    code = main([str(path), "--weights", str(weights)])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and expected in err.lower(), err


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_settings_come_from_a_config_file_and_the_cli_wins(videos, weights, tmp_path, capsys):
    config = tmp_path / "screen.toml"
    config.write_text(
        '[screen]\ndetector = "background"\nsegmenter = "background"\nclip-stride = 30\n'
    )
    result = run_json(capsys, videos["negative"], "--weights", weights, "--config", config,
                      "--clip-stride", "10")  # fmt: skip
    assert result["pipeline"]["clip_stride"] == 10
    assert result["pipeline"]["segmenter"]["backend"] == "background"
    assert result["pipeline"]["detect_every"] == 1  # auto, for the background detector
    result = run_json(capsys, videos["negative"], "--weights", weights, "--config", config,
                      "--detect-every", "3")  # fmt: skip
    assert result["pipeline"]["detect_every"] == 3
    config.write_text("detectr = 'background'\n")
    assert main([str(videos["negative"]), "--weights", str(weights), "--config", str(config)]) != 0
    assert "unknown setting 'detectr'" in capsys.readouterr().err


def test_overlay_and_explain_are_written_only_when_asked_and_where_named(
    videos, weights, tmp_path, capsys
):
    overlay, maps = tmp_path / "check.mp4", tmp_path / "maps"
    weight_free = ["--weights", weights, "--detector", "background", "--segmenter", "background"]
    result = run_json(
        capsys, videos["negative"], *weight_free, "--overlay", overlay, "--explain", maps
    )
    capture = cv2.VideoCapture(str(overlay))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 75
    assert sorted(tmp_path.iterdir()) == [overlay, maps]  # nothing beside them
    assert sorted(p.name for p in maps.iterdir()) == ["attention.npz", "attention.png", "clips.png"]
    assert result["explain"]["attention"] == str(maps / "attention.png")
    with np.load(maps / "attention.npz") as arrays:
        assert arrays["clips"].shape == (len(result["clips"]), 64, 44)
    (tmp_path / "taken").write_text("a file")
    assert main([str(videos["negative"]), "--explain", str(tmp_path / "taken")]) == 1
    assert "not a folder" in capsys.readouterr().err


def test_silhouettes_export_has_masks_pkl_sidecar_and_no_colour(videos, tmp_path, capsys):
    out = tmp_path / "export"
    code = main(["silhouettes", str(videos["positive"]), "--out", str(out), "--label", "positive",
                 "--detector", "background", "--segmenter", "background", "--quiet"])  # fmt: skip
    assert code == 0
    folder = out / "positive" / "positive" / "000_180"
    stored = read_silhouette_pickle(folder / "positive.pkl")
    assert stored.shape[1:] == (64, 64) and len(stored) >= 60
    sidecar = json.loads((folder / "positive.json").read_text())
    assert len(sidecar["frames"]) == len(stored) and sidecar["label"] == "positive"
    pngs = sorted((folder / "masks").glob("*.png"))
    assert len(pngs) == len(stored)
    for png in pngs[:10]:
        image = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        assert image.ndim == 2 and set(np.unique(image)) <= {0, 255}
    images = [
        p for p in out.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".mp4", ".avi", ".bmp"}
    ]
    assert images == []


def test_pseudonymized_export_carries_no_name(videos, tmp_path):
    out = tmp_path / "anon"
    code = main(
        [
            "silhouettes",
            str(videos["negative"]),
            "--out",
            str(out),
            "--pseudonymize",
            "--salt",
            "s3cret",
            "--detector",
            "background",
            "--segmenter",
            "background",
            "--quiet",
        ]
    )
    assert code == 0
    written = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    assert written and not any(
        "negative.mp4" in name or name.startswith("negative/") for name in written
    )
    sidecar = next(out.rglob("*.json"))
    assert "negative" not in sidecar.read_text().replace('"label": null', "")


def test_export_of_a_scoliosis1k_tree_is_a_training_set_and_resumes(videos, tmp_path, capsys):
    """Labelled videos at <id>/<label>/<view>/<file> come out as a tree `screen train` reads;
    a broken video is reported without costing the others, and a rerun skips what is done."""
    tree = tmp_path / "recordings"
    for relative, source in (("s01/positive/000_180/s01.mp4", videos["positive"]),
                             ("s02/negative/090_270/walk.mp4", videos["negative"])):  # fmt: skip
        (tree / relative).parent.mkdir(parents=True)
        (tree / relative).write_bytes(source.read_bytes())
    (tree / "s03/neutral/000_180").mkdir(parents=True)
    (tree / "s03/neutral/000_180/s03.mp4").write_text("not a video")
    args = ["silhouettes", str(tree), "--out", str(tmp_path / "out"),
            "--detector", "background", "--segmenter", "background"]  # fmt: skip
    assert main(args) == 1
    printed = capsys.readouterr()
    assert "failed: s03/neutral/000_180/s03.mp4" in printed.err
    records = scan_subject(tmp_path / "out", "s01") + scan_subject(tmp_path / "out", "s02")
    assert [(r.subject, r.label.value, r.view) for r in records] == [
        ("s01", "positive", "000_180"), ("s02", "negative", "090_270")]  # fmt: skip
    assert len(read_silhouette_pickle(records[1].path)) >= 60
    assert main(args) == 1
    assert capsys.readouterr().out.count("already exported") == 2


def _batch_folder(tmp_path: Path, videos: dict[str, Path], copies: int) -> Path:
    folder = tmp_path / "school"
    (folder / "class_b").mkdir(parents=True)
    for i in range(copies):
        source = videos["positive" if i % 2 else "negative"]
        target = folder / ("class_b" if i >= copies // 2 else "") / f"student_{i:02d}.mp4"
        target.write_bytes(source.read_bytes())
    (folder / "notes.mp4").write_text("not a video at all")
    good = videos["negative"].read_bytes()
    (folder / "corrupt.mp4").write_bytes(good[: len(good) // 3])
    return folder


def test_batch_with_bad_files_reports_every_file(videos, weights, tmp_path, capsys):
    folder = _batch_folder(tmp_path, videos, copies=2)
    out = tmp_path / "out"
    code = main(["batch", str(folder), "--out", str(out), "--workers", "1",
                 "--weights", str(weights), "--detector", "background", "--segmenter", "background",
                 "--quiet"])  # fmt: skip
    assert code == 0
    with (out / "results.csv").open() as handle:
        rows = {row["video"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"student_00.mp4", "class_b/student_01.mp4", "notes.mp4", "corrupt.mp4"}
    assert rows["notes.mp4"]["status"] == "failed" and "not a video" in rows["notes.mp4"]["error"]
    assert rows["corrupt.mp4"]["status"] == "failed" and rows["corrupt.mp4"]["error"]
    assert rows["student_00.mp4"]["status"] == "done" and rows["student_00.mp4"]["verdict"]
    assert rows["student_00.mp4"]["note"].startswith("NOT FOR CLINICAL USE")
    report = (out / "report.html").read_text()
    assert "notes.mp4" in report and "NOT FOR CLINICAL USE" in report
    # a section per screened student; an attention map for each referred one, and only them
    assert report.count("<article class='student'") == 2
    referred = sum(row["action"] == "refer" for row in rows.values())
    assert report.count("alt='attention map'") == referred


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_batch_resumes_after_sigkill(videos, weights, tmp_path):
    folder = _batch_folder(tmp_path, videos, copies=5)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "screen.cli", "batch", str(folder), "--out", str(out),
               "--workers", "1", "--weights", str(weights), "--detector", "background",
               "--segmenter", "background", "--quiet"]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    state = out / "state.sqlite"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if state.exists():
            with sqlite3.connect(state) as db:
                if (
                    db.execute("SELECT COUNT(*) FROM videos WHERE status != 'pending'").fetchone()[
                        0
                    ]
                    >= 2
                ):
                    break
        time.sleep(0.2)
    assert process.poll() is None, "the batch finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with sqlite3.connect(state) as db:
        finished_before = db.execute(
            "SELECT COUNT(*) FROM videos WHERE status != 'pending'"
        ).fetchone()[0]
    assert 2 <= finished_before < 7
    assert subprocess.run(command, env=os.environ).returncode == 0
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 7 and len({row["video"] for row in rows}) == 7  # each file exactly once
    assert sum(row["status"] == "done" for row in rows) == 5
    assert sum(row["status"] == "failed" for row in rows) == 2


def test_a_bad_class_order_is_one_line(videos, capsys):
    code = main([str(videos["negative"]), "--class-order", "sideways"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "class_order must be one of current, legacy" in err


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_a_missing_model_is_warned_once_per_batch_not_once_per_worker(
    videos, weights, tmp_path, capfd, monkeypatch
):
    # Specs whose PP-HumanSeg folders exist nowhere: every worker falls back and warns.
    models = tmp_path / "models"
    models.mkdir()
    for spec in (Path(__file__).resolve().parents[1] / "models").glob("*.toml"):
        text = spec.read_text().replace("_192x192_inference_model_with_softmax", "_nowhere")
        (models / spec.name).write_text(text)
    monkeypatch.setenv("SCREEN_MODELS_DIR", str(models))
    folder = _batch_folder(tmp_path, videos, copies=2)
    code = main(["batch", str(folder), "--out", str(tmp_path / "out"), "--workers", "2",
                 "--weights", str(weights), "--detector", "background"])  # fmt: skip
    assert code == 0
    err = capfd.readouterr().err
    assert err.count("segmenter: model 'pp-humanseg-v2-mobile' needs") == 1
