"""`screen evaluate` on labelled videos: labels from a CSV or a folder, the whole pipeline
through the batch core, figures over the judged videos, the others counted per stage."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from random_models import random_classifier

from screen.batch import BatchRun
from screen.cli import main
from screen.labelled_videos import LabelledVideo, LabelsProblem, read_labels_csv, scan_video_folder
from screen.model.checkpoint import save_checkpoint
from screen.model.classes import Label
from screen.outputs.report import VideoRow
from screen.outputs.result import ModelInfo, Probabilities, Quality, ScreeningResult
from screen.outputs.verdict import Verdict
from screen.training.dataset import read_partition
from screen.video_evaluation import video_report

MODEL = ModelInfo("demo", "0" * 64, ("negative", "neutral", "positive"), False, "phantoms")


def _touch(path: Path, content: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --- where the labels come from -----------------------------------------------------------


def test_a_csv_lists_videos_relative_to_its_folder(tmp_path):
    _touch(tmp_path / "clips" / "anna.mp4")
    _touch(tmp_path / "ben.MOV")
    (tmp_path / "labels.csv").write_text(
        "video,label\nclips/anna.mp4,positive\n\n ben.MOV , Negative \n", encoding="utf-8"
    )
    videos = read_labels_csv(tmp_path / "labels.csv")
    assert [(v.name, v.label) for v in videos] == [
        ("clips/anna.mp4", Label.POSITIVE),
        ("ben.MOV", Label.NEGATIVE),
    ]
    assert videos[0].path == tmp_path / "clips" / "anna.mp4"


@pytest.mark.parametrize(
    "text, message",
    [
        ("clips/anna.mp4,positive\n", "the first row must be the header `video,label`"),
        ("", "the first row must be the header `video,label`"),
        ("video,label\nanna.mp4,positive\nben.mp4,scoliotic\n", "row 3: unknown label 'scoliotic'"),
        ("video,label\nanna.mp4,positive\ngone.mp4,neutral\n", "row 3: video gone.mp4 not found"),
        ("video,label\nanna.mp4,positive\nanna.mp4,neutral\n", "listed twice (first in row 2)"),
        ("video,label\n", "lists no video"),
    ],
    ids=["no header", "empty", "unknown label", "missing video", "twice", "no rows"],
)
def test_a_bad_csv_is_one_line_with_exit_code_2(tmp_path, capsys, text, message):
    _touch(tmp_path / "anna.mp4")
    (tmp_path / "labels.csv").write_text(text, encoding="utf-8")
    code = main(["evaluate", str(tmp_path / "labels.csv"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_a_folder_is_labelled_by_its_path_and_restricted_by_a_partition(tmp_path):
    root = tmp_path / "set"
    for name in ("001/positive/000_180/001.mp4", "002/negative/000_180/002.mp4",
                 "003/neutral/090_270/003.mp4", "002/negative/000_180/002.json"):  # fmt: skip
        _touch(root / name)
    _touch(root / "out" / "old" / "positive" / "x.mp4")  # the evaluation's own output: left out
    videos = scan_video_folder(root, exclude=root / "out")
    assert [(v.name, v.label.value) for v in videos] == [
        ("001/positive/000_180/001.mp4", "positive"),
        ("002/negative/000_180/002.mp4", "negative"),
        ("003/neutral/090_270/003.mp4", "neutral"),
    ]
    partition = tmp_path / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": ["002", "003"]}))
    test = scan_video_folder(root, read_partition(partition), "test", exclude=root / "out")
    assert [v.name.split("/")[0] for v in test] == ["002", "003"]
    partition.write_text(json.dumps({"TRAIN_SET": ["001"], "TEST_SET": ["002", "004"]}))
    with pytest.raises(LabelsProblem, match="have no video here: 004"):
        scan_video_folder(root, read_partition(partition), "test", exclude=root / "out")
    _touch(root / "loose.mp4")
    with pytest.raises(LabelsProblem, match="no label folder in its path"):
        scan_video_folder(root, exclude=root / "out")


@pytest.mark.parametrize(
    "args, message",
    [
        (["{tmp}/empty", "--out", "{tmp}/out"], "no video files in it"),
        (["{tmp}/labels.csv"], "labelled videos need --out OUT"),
        (["{tmp}/labels.csv", "--out", "{tmp}/out", "--protocol", "clips"], "--protocol is for"),
        (["{tmp}/missing.csv", "--out", "{tmp}/out"], "missing.csv: no such file"),
    ],
    ids=["empty folder", "no --out", "--protocol", "no such csv"],
)
def test_usage_problems_are_one_line_with_exit_code_2(tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    _touch(tmp_path / "anna.mp4")
    (tmp_path / "labels.csv").write_text("video,label\nanna.mp4,positive\n")
    code = main(["evaluate", *(arg.format(tmp=tmp_path) for arg in args)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and message in err, err


# --- the figures --------------------------------------------------------------------------


def _result(verdict: str, flags: tuple[str, ...] = ()) -> ScreeningResult:
    return ScreeningResult(
        verdict=Verdict(verdict),
        confidence=0.5,
        probabilities=Probabilities(0.25, 0.25, 0.5),
        whole_sequence_probabilities=None,
        clips=(),
        quality=Quality(flags, 40),
        model=MODEL,
        note=MODEL.note,
        video="v.mp4",
    )


def test_the_report_judges_conclusive_videos_and_counts_the_others_per_stage(tmp_path):
    cases = [  # (label, verdict or None for a failed file, flags or error)
        ("positive", "positive", ("edge_cut",)),
        ("positive", "neutral", ()),
        ("negative", "negative", ()),
        ("neutral", "inconclusive", ("no_walker", "too_few_silhouettes")),
        ("negative", "inconclusive", ("edge_cut", "too_few_silhouettes")),
        ("positive", "inconclusive", ("few_participant_frames", "too_few_silhouettes")),
        ("neutral", None, "not a video OpenCV/FFmpeg can read (no known container format)"),
    ]
    videos, rows = [], []
    for index, (label, verdict, detail) in enumerate(cases):
        video = LabelledVideo(tmp_path / f"v{index}.mp4", f"v{index}.mp4", Label(label))
        videos.append(video)
        if verdict is None:
            rows.append(VideoRow(video.name, "failed", None, f"{video.path}: {detail}", 0.1))
        else:
            rows.append(VideoRow(video.name, "done", _result(verdict, detail), None, 1.0))
    run = BatchRun(tmp_path / "out", rows, processed=7, workers=1, model=MODEL)
    report = video_report(videos, run, {"kind": "csv"})

    assert report["note"].startswith("NOT FOR CLINICAL USE")
    assert report["outcomes"] == {"videos": 7, "judged": 3, "inconclusive": 3, "failed": 1}
    figures = report["protocols"]["videos"]
    assert figures["accuracy"]["successes"] == 2 and figures["accuracy"]["total"] == 3
    assert figures["confusion_matrix"]["rows_truth_columns_predicted"] == [
        [1, 0, 0],
        [0, 0, 0],
        [0, 1, 1],
    ]
    everything = figures["accuracy_all_videos"]  # inconclusive and failed count as wrong
    assert (everything["successes"], everything["total"]) == (2, 7)
    assert "inconclusive and failed" in everything["note"]
    assert everything["ci95"][0] < 2 / 7 < everything["ci95"][1]
    stages = report["not_judged"]["by_stage"]
    assert stages["decode/video"] == {
        "inconclusive": 0,
        "failed": 1,
        "reasons": {"not a video OpenCV/FFmpeg can read": 1},
        "with_flags": {},
    }
    assert stages["detection/tracking"]["inconclusive"] == 2  # no_walker; a track too short
    assert stages["detection/tracking"]["reasons"] == {
        "no_walker": 1,
        "too_few_silhouettes": 2,
        "few_participant_frames": 1,
    }
    assert stages["silhouettes"] == {
        "inconclusive": 1,
        "failed": 0,
        "reasons": {"too_few_silhouettes": 1},
        "with_flags": {"edge_cut": 1},
    }
    assert report["not_judged"]["failed"] == [
        {"video": "v6.mp4", "label": "neutral", "error": rows[6].error}
    ]
    by_video = {row["video"]: row for row in report["videos"]}
    assert by_video["v0.mp4"]["correct"] and not by_video["v1.mp4"]["correct"]
    assert by_video["v3.mp4"]["stage"] == "detection/tracking"
    assert by_video["v0.mp4"]["flags"] == ["edge_cut"] and by_video["v0.mp4"]["probabilities"]

    from rich.console import Console

    from screen._cli.tables import report_tables

    console = Console(width=140, record=True)
    for table in report_tables(report):
        console.print(table)
    text = console.export_text()
    assert "accuracy, all videos (not judged = wrong)" in text and "(2/7)" in text
    assert "videos not judged, by the stage that stopped them" in text
    assert "decode/video" in text and "failed files (1)" in text


# --- the whole tool, on real phantom videos ----------------------------------------------


@pytest.fixture(scope="module")
def evaluated(labelled, tmp_path_factory) -> Path:
    """OUT of one quiet evaluation with the default offline front end."""
    out = tmp_path_factory.mktemp("evaluation") / "out"
    assert main(["evaluate", str(labelled), "--out", str(out), "--workers", "1", "-q"]) == 0
    return out


def test_every_video_goes_through_the_pipeline_and_a_broken_one_counts_as_failed(evaluated):
    report = json.loads((evaluated / "evaluation.json").read_text())
    assert report["batch"]["screened_now"] == 3
    assert report["outcomes"]["videos"] == 3 and report["outcomes"]["failed"] == 1
    assert report["outcomes"]["judged"] + report["outcomes"]["inconclusive"] == 2
    rows = {row["video"]: row for row in report["videos"]}
    broken = rows["videos/broken.mp4"]
    assert broken["status"] == "failed" and broken["stage"] == "decode/video"
    assert "not a video" in broken["error"] and broken["correct"] is False
    for name in ("videos/positive.mp4", "videos/negative.mp4"):
        assert rows[name]["status"] == "done" and rows[name]["verdict"] in {
            "positive", "neutral", "negative", "inconclusive"}  # fmt: skip
        assert set(rows[name]["probabilities"]) == {"negative", "neutral", "positive"}
    assert report["note"].startswith("NOT FOR CLINICAL USE")
    assert report["model"]["clinical"] is False
    everything = report["protocols"]["videos"]["accuracy_all_videos"]
    assert everything["total"] == 3
    assert everything["successes"] == sum(row["correct"] for row in report["videos"])
    assert (evaluated / "results.csv").is_file() and (evaluated / "report.html").is_file()


def test_the_same_command_again_screens_nothing_and_prints_the_tables(evaluated, labelled, capsys):
    with sqlite3.connect(evaluated / "state.sqlite") as db:
        before = sorted(db.execute("SELECT path, finished FROM videos"))
    assert main(["evaluate", str(labelled), "--out", str(evaluated), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    with sqlite3.connect(evaluated / "state.sqlite") as db:
        assert sorted(db.execute("SELECT path, finished FROM videos")) == before
    assert "3 labelled videos" in printed and "0 screened now" in printed
    assert "accuracy, all videos (not judged = wrong)" in printed
    assert "videos not judged, by the stage that stopped them" in printed
    assert "failed files (1)" in printed and "NOT FOR CLINICAL USE" in printed
    report = json.loads((evaluated / "evaluation.json").read_text())
    assert report["batch"]["screened_now"] == 0 and report["outcomes"]["videos"] == 3


def test_json_to_stdout_is_only_json_and_the_plot_is_written(evaluated, labelled, capsys, tmp_path):
    plot = tmp_path / "cm.png"
    assert main(["evaluate", str(labelled), "--out", str(evaluated), "--workers", "1",
                 "--json", "-", "--plot", str(plot)]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["outcomes"]["videos"] == 3 and report["note"].startswith("NOT FOR CLINICAL")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_of_other_settings_are_never_mixed_in(evaluated, labelled, capsys):
    code = main(["evaluate", str(labelled), "--out", str(evaluated), "--detector", "background",
                 "--clip-sampling", "consecutive"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "screened with other settings" in err
    assert "detector.model" in err and "classifier.clip_sampling" in err


def test_results_of_another_classifier_are_never_mixed_in(
    evaluated, labelled, capsys, tmp_path, monkeypatch
):
    classifier = random_classifier(seed=5)
    weights = save_checkpoint(tmp_path / "random.safetensors", classifier.model,
                              classifier.metadata)  # fmt: skip
    # the same settings, another file behind them (as after retraining the demo model)
    monkeypatch.setenv("SCREEN_CLASSIFIER_WEIGHTS", str(weights))
    code = main(["evaluate", str(labelled), "--out", str(evaluated)])
    err = capsys.readouterr().err
    assert code == 1 and "holds results of another classifier" in err and "new --out" in err


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_a_phantom_videoset_is_evaluated_end_to_end(tmp_path, capsys):
    from screen.phantom import build_dataset

    dataset = tmp_path / "phantoms"
    build_dataset(dataset, train=1, test=3, test_ratio=(1, 1, 1), frames=5, workers=1)
    videos = tmp_path / "videos"
    assert main(["phantom", "videoset", str(videos), "--from", str(dataset), "--seconds", "4",
                 "--size", "320x180", "--workers", "2"]) == 0  # fmt: skip
    out = videos / "evaluation"  # inside the set, as `make evaluate-videos` puts it
    partition = dataset / "partition.json"
    assert main(["evaluate", str(videos), "--partition", str(partition), "--out", str(out),
                 "--workers", "2"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    report = json.loads((out / "evaluation.json").read_text())
    manifest = json.loads((videos / "videoset.json").read_text())
    truth = {video["video"]: video["label"] for video in manifest["videos"].values()}
    assert {row["video"]: row["label"] for row in report["videos"]} == truth
    assert report["data"]["partition_sha256"] == manifest["source"]["partition_sha256"]
    assert report["data"]["counts"] == {"negative": 1, "neutral": 1, "positive": 1}
    outcomes = report["outcomes"]
    assert outcomes["videos"] == 3 and outcomes["failed"] == 0
    assert outcomes["judged"] + outcomes["inconclusive"] == 3
    assert report["protocols"]["videos"]["sequences"] == outcomes["judged"]
    assert "3 labelled videos" in printed and "NOT FOR CLINICAL USE" in printed
