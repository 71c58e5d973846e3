"""The batch state file: resumable, nothing recorded twice, changed files screened again."""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import replace

from screen.batch import STRIP_KEY, BatchState, VideoRow, find_videos, write_csv
from screen.outputs.report import render_report
from screen.outputs.result import ModelInfo, Probabilities, Quality, ScreeningResult
from screen.outputs.verdict import Verdict

MODEL = ModelInfo("demo", "0" * 64, ("negative", "neutral", "positive"), False, "phantoms")


def result(verdict: str, p_positive: float, flags=()) -> ScreeningResult:
    others = (1 - p_positive) / 2
    return ScreeningResult(
        verdict=Verdict(verdict),
        confidence=max(p_positive, others),
        probabilities=Probabilities(others, others, p_positive),
        whole_sequence_probabilities=None,
        clips=(),
        quality=Quality(tuple(flags), 40),
        model=MODEL,
        note=MODEL.note,
        video=f"{verdict}.mp4",
    )


def test_find_videos_is_recursive_and_skips_other_files(tmp_path):
    for name in ["a.mp4", "class1/b.MOV", "class1/deep/c.avi", "notes.txt", ".hidden/d.mp4"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in find_videos(tmp_path)]
    assert found == ["a.mp4", "class1/b.MOV", "class1/deep/c.avi"]


def test_state_resumes_and_rescreens_changed_files(tmp_path):
    state = BatchState(tmp_path)
    assert state.register({"a.mp4": "h1", "b.mp4": "h2", "c.mp4": "h3"}) == [
        "a.mp4",
        "b.mp4",
        "c.mp4",
    ]
    state.record("a.mp4", result("negative", 0.1), None, 1.0)
    state.record("b.mp4", None, "b.mp4: not a video", 0.1)
    state.close()  # as if the process died here

    state = BatchState(tmp_path)
    assert state.register({"a.mp4": "h1", "b.mp4": "h2", "c.mp4": "h3"}) == ["c.mp4"]
    assert state.register({"a.mp4": "CHANGED", "b.mp4": "h2", "c.mp4": "h3"}) == ["a.mp4", "c.mp4"]
    rows = state.rows(["a.mp4", "b.mp4", "c.mp4"])
    assert [row.status for row in rows] == ["pending", "failed", "pending"]


def test_a_stored_result_reads_back_with_its_silhouette_strip(tmp_path):
    state = BatchState(tmp_path)
    state.register({"a.mp4": "h1"})
    state.record("a.mp4", result("positive", 0.8, ["edge_cut"]), None, 1.0, strip="UE5H")
    (row,) = state.rows(["a.mp4"])
    assert row.result == result("positive", 0.8, ["edge_cut"]) and row.strip == "UE5H"
    state.close()
    # the state file keeps the result's documented JSON, the strip beside its keys
    stored = sqlite3.connect(tmp_path / "state.sqlite").execute("SELECT result FROM videos")
    data = json.loads(stored.fetchone()[0])
    assert data.pop(STRIP_KEY) == "UE5H"
    assert data == result("positive", 0.8, ["edge_cut"]).to_dict()


def test_csv_has_one_row_per_file_with_reasons(tmp_path):
    state = BatchState(tmp_path)
    state.register({"a.mp4": "h1", "b.mp4": "h2"})
    state.record("a.mp4", result("positive", 0.8, ["two_walkers"]), None, 1.0)
    state.record("b.mp4", None, "b.mp4: not a video", 0.1)
    write_csv(tmp_path / "results.csv", state.rows(["a.mp4", "b.mp4"]))
    with (tmp_path / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["video"] for row in rows] == ["a.mp4", "b.mp4"]
    assert rows[0]["verdict"] == "positive" and rows[0]["p_positive"] == "0.8000"
    assert rows[0]["flags"] == "two_walkers" and rows[0]["action"] == "refer"
    assert rows[0]["note"].startswith("NOT FOR CLINICAL USE")
    assert rows[1]["status"] == "failed" and rows[1]["error"] == "b.mp4: not a video"


def test_report_lists_referrals_failures_and_the_honesty_note():
    rows = [
        VideoRow("anna.mp4", "done", result("positive", 0.9), None, 1.0, strip="UE5H"),
        VideoRow("ben.mp4", "done", result("negative", 0.05, ["edge_cut"]), None, 1.0),
        VideoRow("broken.mp4", "failed", None, "broken.mp4: truncated", 0.1),
    ]
    page = render_report(rows, MODEL, {"detector": "yolo11n"}, "# card")
    assert "<span class='pill refer'>refer</span> 1<" in page and "anna.mp4" in page  # 1 referred
    assert "data:image/png;base64,UE5H" in page  # anna's silhouette strip
    assert "broken.mp4: truncated" in page and "edge_cut" in page
    assert "NOT FOR CLINICAL USE" in page
    assert "data:image/png;base64," in page  # the histogram is inline
    assert "http://" not in page and "https://" not in page  # self-contained


def test_csv_and_report_carry_the_advice_of_an_inconclusive_video(tmp_path):
    advice = ("Two people walked in view at the same time: record one student at a time.",)
    retake = replace(result("inconclusive", 0.4, ["two_walkers"]), advice=advice)
    state = BatchState(tmp_path)
    state.register({"a.mp4": "h1", "b.mp4": "h2"})
    state.record("a.mp4", retake, None, 1.0)
    state.record("b.mp4", result("negative", 0.1), None, 1.0)
    rows = state.rows(["a.mp4", "b.mp4"])
    assert rows[0].result == retake  # the advice survives the state file
    write_csv(tmp_path / "results.csv", rows)
    with (tmp_path / "results.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0])[-1] == "advice"  # a new last column: the others keep their places
    assert table[0]["advice"] == advice[0] and table[1]["advice"] == ""
    page = render_report(rows, MODEL, {}, None)
    assert "Record again" in page and "record one student at a time" in page
