"""The batch report: a summary that fits 1280 px and a section per student, in one file."""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from browser import find_browser, open_page, screenshot

from screen.outputs.explain import attention_png
from screen.outputs.report import VideoRow, render_report
from screen.outputs.report_pictures import clip_plot_svg, silhouette_strip_png
from screen.outputs.result import ClipResult, ModelInfo, Probabilities, Quality, ScreeningResult
from screen.outputs.verdict import ACTION_FOR_VERDICT, Verdict
from screen.silhouettes.files import read_silhouettes

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MODEL = ModelInfo("sconet-mt-demo", "0" * 64, ("negative", "neutral", "positive"), False,
                  "synthetic phantom walkers")  # fmt: skip
LONG_NAME = "class-7b/" + "a-student-whose-recording-has-a-very-long-name-" * 5 + "walk.mp4"
ADVICE = ("The student's body was cut by the frame edge in 17 of 35 frames: step back so the "
          "whole body, head to feet, stays in view.",)  # fmt: skip


def clips(p_positive: float, count: int) -> tuple[ClipResult, ...]:
    """Clips that wobble around p_positive, spread over an 8 s walk."""
    made = []
    for k in range(count):
        positive = float(np.clip(p_positive + 0.08 * np.sin(k + p_positive * 10), 0.01, 0.98))
        rest = 1 - positive
        probabilities = Probabilities(round(rest * 0.6, 6), round(rest * 0.4, 6), positive)
        made.append(ClipResult(10 + k, 120 + k, probabilities, 0.7 + k / 15, 7.9 + k / 15, 30))
    return tuple(made)


def result(name: str, verdict: str, p_positive: float, flags=(), advice=()) -> ScreeningResult:
    rest = 1 - p_positive
    probabilities = Probabilities(round(rest * 0.6, 6), round(rest * 0.4, 6), p_positive)
    return ScreeningResult(
        verdict=Verdict(verdict),
        confidence=max(probabilities.negative, probabilities.neutral, p_positive),
        probabilities=probabilities,
        whole_sequence_probabilities=probabilities,
        clips=clips(p_positive, 3 if verdict != "inconclusive" else 1),
        quality=Quality(tuple(flags), 90 if verdict != "inconclusive" else 18),
        model=MODEL,
        note=MODEL.note,
        video=name,
        advice=tuple(advice),
    )


@pytest.fixture(scope="module")
def pictures() -> dict[str, str]:
    return make_pictures()


def make_pictures() -> dict[str, str]:
    """A real silhouette strip (the positive example's true masks) and an attention map
    drawn over its mean silhouette (a made-up map: no model is needed to lay out a page)."""
    frames = read_silhouettes(EXAMPLES / "phantom_positive.masks.npz").frames
    silhouette = frames[:, :, 10:54].astype(np.float32).mean(0) / 255
    rows, cols = np.mgrid[0:64, 0:44]
    attention = np.exp(-((rows - 24) ** 2 / 120 + (cols - 22) ** 2 / 60)).astype(np.float32)
    picture = attention_png(attention / attention.sum(), silhouette, scale=1, bar=False)
    return {"strip": silhouette_strip_png(frames), "attention": base64.b64encode(picture).decode()}


def school(pictures: dict[str, str], size: int) -> list[VideoRow]:
    """`size` video files of a school: every verdict, flags, advice, a failure, a long name."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(size):
        name = LONG_NAME if i == 1 else f"class-{i % 7 + 1}/student-{i:03d}.mp4"
        if i % 17 == 5:
            rows.append(VideoRow(name, "failed", None, f"{name}: not a video", 0.1))
            continue
        kind = ("positive", "negative", "negative", "neutral", "inconclusive", "negative")[i % 6]
        p = {"positive": 0.6, "neutral": 0.3, "negative": 0.1, "inconclusive": 0.3}[kind]
        p = round(float(np.clip(p + rng.normal(0, 0.08), 0.02, 0.95)), 6)
        flags = ("edge_cut", "too_few_silhouettes") if kind == "inconclusive" else ()
        flags = ("background_uncertain",) if i % 5 == 0 and not flags else flags
        made = result(name, kind, p, flags, ADVICE if kind == "inconclusive" else ())
        referred = ACTION_FOR_VERDICT[made.verdict].value == "refer"
        attention = pictures["attention"] if referred else ""
        rows.append(VideoRow(name, "done", made, None, 9.0, pictures["strip"], attention))
    return rows


def test_the_report_has_a_row_and_a_section_per_student_and_no_network(pictures):
    rows = school(pictures, 24)
    page = render_report(rows, MODEL, {"detector.model": "auto"}, "# card")
    screened = [row for row in rows if row.status == "done"]
    assert page.count("<article class='student'") == len(screened)
    assert page.count("<tr data-verdict=") == len(rows)  # failed files are rows too
    referred = [row for row in screened if row.result.action.value == "refer"]
    assert page.count("alt='attention map'") == len(referred)
    assert page.count("<svg ") == len(screened)  # a clip plot each
    assert html.escape(ADVICE[0]) in page and "Record again" in page
    assert page.count("NOT FOR CLINICAL USE") == len(screened) + 1  # the page's and each one's
    # self-contained: every src and href is inline data or a link within the page
    for link in re.findall(r"(?:src|href)='([^']*)'", page):
        assert link.startswith(("data:image/png;base64,", "#")), link
    assert "http://" not in page and "https://" not in page


def test_a_clip_plot_stacks_each_clips_probabilities():
    svg = clip_plot_svg(clips(0.6, 4))
    assert svg.count("<title>clip ") == 4 and svg.count("<rect ") == 12
    heights = [float(h) for h in re.findall(r"height='([0-9.]+)'", svg)[1:]]
    assert abs(sum(heights[:3]) - 94) < 0.5  # one clip's three bars fill the plot's height
    assert clip_plot_svg(()) == ""


def test_a_result_kept_before_attention_maps_says_it_has_none(pictures):
    (row,) = school(pictures, 1)  # a referred student
    old = VideoRow(row.path, "done", row.result, None, 1.0, row.strip, attention="")
    assert "No attention map kept" in render_report([old], MODEL, {}, None)


def test_the_report_size_for_a_school(pictures):
    """500 videos must stay a file one can mail: measured, and bounded."""
    page = render_report(school(pictures, 200), MODEL, {}, None)
    assert len(page.encode()) < 2_500_000, len(page.encode())


CHECKS = """function () {
  var table = document.getElementById("students"), out = {};
  function names() {
    return Array.prototype.filter.call(table.tBodies[0].rows, function (r) { return !r.hidden; })
      .map(function (r) { return r.cells[0].textContent; });
  }
  function positives() {
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return parseFloat(r.cells[4].textContent);
    }).filter(function (v) { return !isNaN(v); });
  }
  out.sections = document.querySelectorAll("article.student").length;
  out.maps = document.querySelectorAll("article.student img.map").length;
  out.first = names()[0];
  var header = table.tHead.rows[0].cells;
  header[0].querySelector("button").click();
  out.byName = names();
  out.nameSort = header[0].getAttribute("aria-sort");
  header[4].querySelector("button").click();
  out.byPositive = positives();
  header[4].querySelector("button").click();
  out.byPositiveAgain = positives();
  var verdict = document.getElementById("filter-verdict");
  verdict.value = "positive";
  verdict.dispatchEvent(new Event("change"));
  out.positiveRows = names().length;
  out.shown = document.getElementById("shown").textContent;
  verdict.value = "";
  verdict.dispatchEvent(new Event("change"));
  var text = document.getElementById("filter-text");
  text.value = "student-00";
  text.dispatchEvent(new Event("input"));
  out.textRows = names();
  return out;
}"""


@pytest.fixture(scope="module")
def browser() -> str:
    found = find_browser()
    if found is None:
        pytest.skip("no Chromium on PATH (apt-get install chromium) for the browser test")
    return found


def test_the_report_in_a_real_browser(browser, pictures, tmp_path):
    """No console errors, no horizontal scrolling at 1280 px (a very long file name
    included), sorting and filtering work, a section per student; and a screenshot."""
    rows = school(pictures, 40)
    page = tmp_path / "report.html"
    page.write_text(render_report(rows, MODEL, {"detector.model": "auto"}, "# card\n" + "x" * 500))
    found = open_page(browser, page, CHECKS)
    assert found["errors"] == [] and found["console"] == [], (found["errors"], found["console"])
    assert found["innerWidth"] == 1280
    assert found["scrollWidth"] <= 1280, found["scrollWidth"]
    assert found["resources"] == []  # nothing fetched: images are inline
    checks = found["checks"]
    screened = [row for row in rows if row.status == "done"]
    assert checks["sections"] == len(screened)
    assert checks["maps"] == sum(r.result.action.value == "refer" for r in screened)
    assert checks["byName"] == sorted(checks["byName"]) and checks["nameSort"] == "ascending"
    assert checks["byPositive"] == sorted(checks["byPositive"], reverse=True)
    assert checks["byPositiveAgain"] == sorted(checks["byPositive"])
    positive = sum(r.result.verdict.value == "positive" for r in screened)
    assert checks["positiveRows"] == positive and checks["shown"] == f"{positive} of 40 shown"
    assert sorted(checks["textRows"]) == sorted(r.path for r in rows if "student-00" in r.path)
    picture = screenshot(browser, page, tmp_path / "report.png")  # kept in pytest's tmp folder
    assert picture.stat().st_size > 20_000  # a page was drawn, not a blank window
    if keep := os.environ.get("SCREEN_REPORT_SCREENSHOT"):
        shutil.copy(picture, keep)
