"""A real headless browser for the report's tests: Chromium from the system packages.

`open_page` loads an HTML file with a test hook put in front of its own scripts
(the shipped report carries no hook): the hook records JavaScript errors and
console.error calls, runs the test's checks after the page's own scripts, and
writes what it found into the DOM, which `--dump-dom` prints.  Chromium's own
console log (stderr) is read too.  `screenshot` renders the page as a person
sees it at a given window size.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 90

_HOOK = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  var what = e.message || (e.target && (e.target.src || e.target.href)) || "a resource";
  window.__errors.push("error: " + what);
}, true);
(function () {
  var original = console.error;
  console.error = function () {
    window.__errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    original.apply(console, arguments);
  };
})();
window.addEventListener("load", function () {
  setTimeout(function () {
    var root = document.documentElement, found = {};
    found.scrollWidth = root.scrollWidth;
    found.clientWidth = root.clientWidth;
    found.innerWidth = window.innerWidth;
    found.resources = performance.getEntriesByType("resource").map(function (r) {
      return r.name;
    });
    try { found.checks = (CHECKS)(); } catch (e) { window.__errors.push("check: " + e); }
    found.errors = window.__errors;
    var out = document.createElement("pre");
    out.id = "test-result";
    out.textContent = JSON.stringify(found);
    document.body.appendChild(out);
  }, 0);
});
</script>"""


def find_browser() -> str | None:
    """The first Chromium-like browser on PATH."""
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    return None


def _run(browser: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:  # no profile left in $HOME
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
            "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}", *args,
        ]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)


def console_lines(stderr: str) -> list[str]:
    """The page's console messages as Chromium logs them (`...:CONSOLE(line)] "text"`)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def open_page(
    browser: str, page: Path, checks_js: str = "function () { return null; }", width: int = 1280
) -> dict:
    """Load `page` at `width` px with the hook; what the hook found, plus the console."""
    text = page.read_text(encoding="utf-8")
    hooked = page.with_name(page.stem + ".hooked.html")
    hooked.write_text(text.replace("<head>", "<head>" + _HOOK.replace("CHECKS", checks_js), 1))
    done = _run(
        browser, f"--window-size={width},900", "--virtual-time-budget=5000", "--dump-dom",
        hooked.as_uri(),
    )  # fmt: skip
    match = re.search(r'<pre id="test-result">(.*?)</pre>', done.stdout, re.S)
    if match is None:
        raise AssertionError(
            f"the page never finished loading; browser said: {done.stderr[-2000:]}"
        )
    found = json.loads(html.unescape(match.group(1)))
    found["console"] = console_lines(done.stderr)
    return found


def screenshot(
    browser: str, page: Path, png: Path, width: int = 1280, height: int = 900, fragment: str = ""
) -> Path:
    """What a person sees of `page` (scrolled to `#fragment`) in a window of that size."""
    url = page.as_uri() + (f"#{fragment}" if fragment else "")
    _run(browser, f"--window-size={width},{height}", f"--screenshot={png}", url)
    if not png.is_file():
        raise AssertionError(f"{png} was not written")
    return png
