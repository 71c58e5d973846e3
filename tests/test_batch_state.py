"""The batch state file: resumable, nothing recorded twice, changed files screened again."""

from __future__ import annotations

import csv

from screen.batch import BatchState, find_videos, write_csv
from screen.outputs.report import render_report


def result(verdict: str, p_positive: float, flags=()) -> dict:
    others = (1 - p_positive) / 2
    return {
        "verdict": verdict,
        "action": {"positive": "refer", "neutral": "rescreen", "negative": "none"}.get(
            verdict, "retake"
        ),
        "confidence": max(p_positive, others),
        "probabilities": {"negative": others, "neutral": others, "positive": p_positive},
        "quality": {"flags": list(flags)},
    }


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
    assert [row["status"] for row in rows] == ["pending", "failed", "pending"]


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
    assert rows[0]["flags"] == "two_walkers"
    assert rows[1]["status"] == "failed" and rows[1]["error"] == "b.mp4: not a video"


def test_report_lists_referrals_failures_and_the_honesty_note():
    rows = [
        {"path": "anna.mp4", "status": "done", "result": result("positive", 0.9), "error": None},
        {
            "path": "ben.mp4",
            "status": "done",
            "result": result("negative", 0.05, ["edge_cut"]),
            "error": None,
        },
        {
            "path": "broken.mp4",
            "status": "failed",
            "result": None,
            "error": "broken.mp4: truncated",
        },
    ]
    model = {"name": "demo", "clinical": False}
    page = render_report(
        rows, model, "NOT FOR CLINICAL USE: demo", {"detector": "yolo11n"}, "# card"
    )
    assert "Referral list (1)" in page and "anna.mp4" in page
    assert "broken.mp4: truncated" in page and "edge_cut" in page
    assert "NOT FOR CLINICAL USE" in page
    assert "data:image/png;base64," in page  # the histogram is inline
    assert "http://" not in page and "https://" not in page  # self-contained
