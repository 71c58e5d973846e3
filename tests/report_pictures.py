"""The README's pictures of the report and of `--explain`, from real runs on the examples.

    .venv/bin/python tests/report_pictures.py [--out examples]

1. `screen examples/phantom_positive.mp4 --explain`: its attention.png and clips.png become
   OUT/attention_positive.png and OUT/attention_positive_clips.png;
2. `screen batch` on a school of the three example videos (one under a very long name) and a
   text file posing as a video, then the report in headless Chromium, with the browser
   test's machinery (tests/browser.py): OUT/report.png (the summary, a 1280x900 window) and
   OUT/report_student.png (the first referred student's section).
About 2 minutes on 2 cores.  Needs Chromium (apt-get install chromium).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from browser import find_browser, open_page, screenshot  # noqa: E402

LONG = "year-8/" + "a-recording-with-a-very-long-file-name-" * 3 + "phantom_neutral.mp4"
SECTION = """function () {
  var map = document.querySelector("article.student img.map");
  var box = (map ? map.closest("article") : document.querySelector("article.student"))
    .getBoundingClientRect();
  return {top: box.top + window.scrollY, height: box.height};
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "examples")
    out = parser.parse_args().out
    browser = find_browser()
    if browser is None:
        sys.exit("no Chromium on PATH: apt-get install chromium")
    import cv2

    from screen.cli import main as screen

    examples = ROOT / "examples"
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        assert screen([str(examples / "phantom_positive.mp4"), "--explain", str(work / "maps"),
                       "--quiet"]) == 0  # fmt: skip
        shutil.copy(work / "maps" / "attention.png", out / "attention_positive.png")
        shutil.copy(work / "maps" / "clips.png", out / "attention_positive_clips.png")

        school = work / "school"
        (school / LONG).parent.mkdir(parents=True)
        for label in ("positive", "negative"):
            shutil.copy(examples / f"phantom_{label}.mp4", school / f"phantom_{label}.mp4")
        shutil.copy(examples / "phantom_neutral.mp4", school / LONG)
        (school / "notes.mp4").write_text("not a video")
        assert screen(["batch", str(school), "--out", str(work / "out"), "--quiet"]) == 0
        page = work / "out" / "report.html"
        screenshot(browser, page, out / "report.png")

        section = open_page(browser, page, SECTION)["checks"]
        height = int(section["top"] + section["height"]) + 40
        tall = screenshot(browser, page, work / "tall.png", height=height)
        picture = cv2.imread(str(tall))
        top = max(0, int(section["top"]) - 12)
        cv2.imwrite(
            str(out / "report_student.png"), picture[top : top + int(section["height"]) + 24]
        )
    for name in ("attention_positive", "attention_positive_clips", "report", "report_student"):
        print(out / f"{name}.png")


if __name__ == "__main__":
    main()
