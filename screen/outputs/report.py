"""The self-contained HTML report of a batch: a summary page and a section per student.

The summary fits a 1280 px window: counts, then one sortable, filterable row per
video (plain inline JavaScript).  Each screened student has a section: the
silhouette strip, the attention map (referred students), the clip probabilities
as a small inline SVG, the quality flags with the advice on recording again, and
the honesty note.  Failed files, the histogram, the model and the pipeline
settings follow.  Everything is inline (CSS, JavaScript, PNGs as data URIs): the
one file can be mailed or archived and opens without a network.  It holds
silhouettes and numbers, never video frames.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import write_text_atomically
from .report_pictures import CLASS_COLOURS, clip_plot_svg, histogram_png
from .result import ClipResult, ModelInfo, ScreeningResult
from .verdict import Action, Verdict

if TYPE_CHECKING:  # torch is imported only where a model runs
    pass

esc = html.escape
#: The table's order before anyone sorts it: who needs something done first.
ACTION_ORDER = (Action.REFER, Action.RETAKE, Action.RESCREEN, Action.NONE)


@dataclass(frozen=True)
class VideoRow:
    """One video file's state: what the CSV and the report are written from."""

    path: str  #: relative to the input folder
    status: str  #: pending | done | failed
    result: ScreeningResult | None  #: of a done video
    error: str | None  #: of a failed video
    seconds: float | None
    strip: str = ""  #: base64 PNG of a few of its silhouettes
    attention: str = ""  #: base64 PNG of its attention map (referred students)

    @property
    def screened(self) -> ScreeningResult | None:
        """The result of a done video, else None."""
        return self.result if self.status == "done" else None


_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;color:#222;line-height:1.35;font-size:15px}
header,main{max-width:1220px;margin:0 auto;padding:0 16px}
h1{margin:.5em 0 .1em;font-size:1.6em} h2{margin:1.2em 0 .4em;font-size:1.25em}
h3{margin:0 0 .3em;font-size:1.05em}
p,h3,td,th,figcaption,li,summary{overflow-wrap:anywhere}
.warn{background:#fde8e8;border:2px solid #c00;padding:.5em .8em;font-weight:bold}
.ok{background:#eef5ee;border:1px solid #8a8;padding:.5em .8em}
nav{display:flex;flex-wrap:wrap;gap:.3em 1.2em;margin:.5em 0}
.muted{color:#666;font-size:.9em}
table{border-collapse:collapse;margin:.4em 0;max-width:100%}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#eee;font-weight:600}
table.list{width:100%;table-layout:fixed}
table.list tbody tr:nth-child(even){background:#f8f8f8}
th button{all:unset;cursor:pointer;display:block;width:100%}
th button::after{content:" \\2195";color:#999}
th[aria-sort=ascending] button::after{content:" \\25B2";color:#333}
th[aria-sort=descending] button::after{content:" \\25BC";color:#333}
.num{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;padding:0 .55em;border-radius:1em;font-size:.85em;font-weight:600}
.pill{white-space:nowrap;overflow-wrap:normal}
.refer,.positive{background:#f6cfcf;color:#8a1010}
.rescreen,.neutral{background:#fbe3b8;color:#6d4300}
.none,.negative{background:#d5ecd5;color:#1c5a1c}
.retake,.inconclusive{background:#e0e0e0;color:#333}
.failed{background:#444;color:#fff}
.chips{display:flex;flex-wrap:wrap;gap:.4em;margin:.3em 0;align-items:center}
.chip{border:1px solid #ccc;border-radius:1em;padding:.1em .6em .1em .2em}
th{overflow-wrap:normal}
.filters{display:flex;flex-wrap:wrap;gap:.5em 1em;align-items:center;margin:.6em 0 .3em}
.filters input[type=search]{width:22em;max-width:100%;padding:.25em .4em}
.row2{display:flex;flex-wrap:wrap;gap:1em 2em;align-items:flex-start}
.student{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:.8em 0}
.student:target{outline:3px solid #3367d6}
.panels{display:flex;flex-wrap:wrap;gap:1em 1.5em;align-items:flex-start;margin:.4em 0}
figure{margin:0;max-width:100%} figcaption{font-size:.85em;color:#555}
.fig-map{width:15em} .fig-plot{width:280px}
img{max-width:100%} img.strip{image-rendering:pixelated;height:64px}
img.map{image-rendering:auto;width:132px;height:192px;vertical-align:top}
.bar{display:inline-block;width:10px;height:192px;margin-left:6px;vertical-align:top;
background:linear-gradient(#fcffa4,#f98e09,#bc3754,#57106e,#000004)}
ul.advice{margin:.2em 0;padding-left:1.4em}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85em}
.note{font-size:.85em;margin:.4em 0 0;padding:.3em .6em}
"""

# Sorting and filtering of the students' table: plain JavaScript, no library, no network.
_JS = """
(function () {
  var table = document.getElementById("students");
  if (!table) return;
  var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
  var state = {col: -1, dir: 1};
  function key(row, col, numeric) {
    var cell = row.cells[col], value = cell.getAttribute("data-sort");
    if (value === null) value = cell.textContent.trim().toLowerCase();
    if (!numeric) return value;
    var number = parseFloat(value);
    return isNaN(number) ? -1 : number;
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    var button = th.querySelector("button");
    if (!button) return;
    button.addEventListener("click", function () {
      var numeric = th.getAttribute("data-type") === "num";
      var dir = state.col === col ? -state.dir : (numeric ? -1 : 1);
      state = {col: col, dir: dir};
      rows.slice().sort(function (a, b) {
        var x = key(a, col, numeric), y = key(b, col, numeric);
        return (numeric ? x - y : x.localeCompare(y)) * dir;
      }).forEach(function (row) { body.appendChild(row); });
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
        other.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    });
  });
  var text = document.getElementById("filter-text");
  var verdict = document.getElementById("filter-verdict");
  var action = document.getElementById("filter-action");
  var flagged = document.getElementById("filter-flagged");
  var shown = document.getElementById("shown");
  function filter() {
    var words = text.value.toLowerCase().split(/\\s+/).filter(Boolean), count = 0;
    rows.forEach(function (row) {
      var haystack = row.getAttribute("data-text");
      var ok = words.every(function (w) { return haystack.indexOf(w) >= 0; })
        && (!verdict.value || row.getAttribute("data-verdict") === verdict.value)
        && (!action.value || row.getAttribute("data-action") === action.value)
        && (!flagged.checked || row.getAttribute("data-flagged") === "1");
      row.hidden = !ok;
      if (ok) count += 1;
    });
    shown.textContent = count + " of " + rows.length + " shown";
  }
  [text, verdict, action, flagged].forEach(function (input) {
    input.addEventListener("input", filter);
    input.addEventListener("change", filter);
  });
  filter();
})();
"""


def _clip_caption(clips: Sequence[ClipResult], sampling: str | None) -> str:
    times = [c for c in clips if c.start_time is not None and c.stop_time is not None]
    span = (
        f" ({min(c.start_time for c in times):.1f}-{max(c.stop_time for c in times):.1f} s)"
        if times
        else ""
    )
    if sampling == "spread":
        where = f"each spread over the whole walk{span}, so the bars should agree"
    else:
        where = f"in time order{span}"
    legend = ", ".join(
        f"<span style='color:{CLASS_COLOURS[name]}'>&#9632;</span> {name}"
        for name in ("positive", "neutral", "negative")
    )
    return f"{len(clips)} clip{'s' * (len(clips) != 1)} of 30 frames, {where}. {legend}."


def _probability_note(done: Sequence) -> str:
    """What the batch's probabilities are (one model made them all)."""
    notes = {result.probability_note for *_, result in done}
    return notes.pop() if len(notes) == 1 else "see each result's probability note"


def _table(headers: list[str], rows: list[list[str]], css: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table{css}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pill(value: str) -> str:
    return f"<span class='pill {esc(value)}'>{esc(value)}</span>"


def _note(note: str, clinical: bool) -> str:
    return f"<p class='note {'ok' if clinical else 'warn'}'>{esc(note)}</p>"


def _image(data: str, css: str, alt: str) -> str:
    return f"<img class='{css}' alt='{esc(alt)}' src='data:image/png;base64,{data}'>"


def _order(item: tuple[int, VideoRow]) -> tuple:
    """Done videos by what they ask for (refer first), then by p(positive); failures last."""
    result = item[1].screened
    if result is None:
        return (len(ACTION_ORDER) + 1, 0.0, item[1].path)
    rank = ACTION_ORDER.index(result.action) if result.action in ACTION_ORDER else len(ACTION_ORDER)
    return (rank, -result.probabilities.positive, item[1].path)


def _students_table(rows: Sequence[VideoRow]) -> str:
    """The summary's table: one row per video file, linked to its section."""
    columns = [  # (header, width, numeric)
        ("video", "31%", False), ("verdict", "11%", False), ("action", "9%", False),
        ("confidence", "10%", True), ("p(positive)", "10%", True), ("quality flags", "29%", False),
    ]  # fmt: skip
    head = "".join(
        f"<th{' data-type=num' if numeric else ''}><button type='button'>{esc(name)}</button></th>"
        for name, _, numeric in columns
    )
    widths = "".join(f"<col style='width:{width}'>" for _, width, _ in columns)
    body = []
    for index, row in sorted(enumerate(rows), key=_order):
        result = row.screened
        if result is None:
            if row.status != "failed":
                continue  # pending: not screened yet (an interrupted batch)
            verdict, action, flags, link = "failed", "failed", "", "#failed"
            confidence = positive = ""
        else:
            verdict, action = result.verdict.value, result.action.value
            flags, link = ", ".join(result.quality.flags), f"#s-{index}"
            confidence = f"{result.confidence:.3f}"
            positive = f"{result.probabilities.positive:.3f}"
        text = f"{row.path} {verdict} {action} {flags}".lower()
        body.append(
            f"<tr data-verdict='{esc(verdict)}' data-action='{esc(action)}' "
            f"data-flagged='{int(bool(flags))}' data-text='{esc(text)}'>"
            f"<td><a href='{link}'>{esc(row.path)}</a></td><td>{_pill(verdict)}</td>"
            f"<td>{_pill(action)}</td><td class='num'>{confidence}</td>"
            f"<td class='num'>{positive}</td><td>{esc(flags.replace(',', ', ').strip())}</td></tr>"
        )
    return (
        f"<table id='students' class='list'><colgroup>{widths}</colgroup>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _filters(rows: Sequence[VideoRow]) -> str:
    def options(name: str, values: list[str]) -> str:
        choices = "".join(f"<option value='{esc(v)}'>{esc(v)}</option>" for v in values)
        label = f"{name}: any"
        return (
            f"<label>{name} <select id='filter-{name}'>"
            f"<option value=''>{label}</option>{choices}</select></label>"
        )

    has_failed = any(row.status == "failed" for row in rows)
    verdicts = [v.value for v in Verdict] + ["failed"] * has_failed
    actions = [a.value for a in Action] + ["failed"] * has_failed
    return (
        "<div class='filters'><input type='search' id='filter-text' "
        "placeholder='filter: name or flag' aria-label='filter by name or flag'>"
        f"{options('verdict', verdicts)}{options('action', actions)}"
        "<label><input type='checkbox' id='filter-flagged'> with quality flags only</label>"
        "<span id='shown' class='muted'></span></div>"
    )


def _student_section(index: int, row: VideoRow, result: ScreeningResult) -> str:
    """One student's section: evidence, flags with advice, the honesty note."""
    quality = result.quality
    facts = [
        f"verdict <b>{esc(result.verdict.value)}</b>",
        f"confidence {result.confidence:.3f}",
        f"p(positive) {result.probabilities.positive:.3f}",
        f"{quality.silhouettes_used} silhouettes",
    ]
    panels = []
    if row.strip:
        shown = min(8, quality.silhouettes_used)
        caption = f"{shown} of the {quality.silhouettes_used} silhouettes the model saw"
        panels.append(
            f"<figure>{_image(row.strip, 'strip', 'silhouettes')}"
            f"<figcaption>{caption}</figcaption></figure>"
        )
    if row.attention:
        panels.append(
            f"<figure class='fig-map'>{_image(row.attention, 'map', 'attention map')}"
            "<span class='bar' title='more attention at the top'></span><figcaption>Where the "
            "model looked, over the mean silhouette, averaged over the walk (bright: more "
            "attention). It shows what drove the verdict, not where a curve is.</figcaption>"
            "</figure>"
        )
    elif result.action == Action.REFER:
        panels.append("<p class='muted'>No attention map kept (screened before they were).</p>")
    if result.clips:
        sampling = result.pipeline.clip_sampling if result.pipeline else "spread"
        panels.append(
            f"<figure class='fig-plot'>{clip_plot_svg(result.clips)}"
            f"<figcaption>{_clip_caption(result.clips, sampling)}</figcaption></figure>"
        )
    if quality.flags:
        flags = f"<p>Quality flags: {esc(', '.join(quality.flags))}</p>"
    else:
        flags = "<p class='muted'>No quality flags.</p>"
    if result.advice:
        items = "".join(f"<li>{esc(sentence)}</li>" for sentence in result.advice)
        flags += f"<p><b>Record again:</b></p><ul class='advice'>{items}</ul>"
    elif quality.flags:
        flags += "<p class='muted'>Warnings only: the verdict stands.</p>"
    return (
        f"<article class='student' id='s-{index}'>"
        f"<h3>{_pill(result.action.value)} {esc(row.path)}</h3>"
        f"<p class='muted'>{' · '.join(facts)}</p>"
        f"<div class='panels'>{''.join(panels)}</div>{flags}"
        f"{_note(result.note, result.clinical)}"
        "<p class='muted'><a href='#summary'>back to the list</a></p></article>"
    )


def render_report(
    rows: Sequence[VideoRow], model: ModelInfo, pipeline: Mapping[str, Any], card: str | None
) -> str:
    """The report's HTML from the batch's rows (one per video file)."""
    done = [(index, row, row.screened) for index, row in enumerate(rows) if row.screened]
    failed = [row for row in rows if row.status == "failed"]
    verdicts = Counter(result.verdict for _, _, result in done)
    actions = Counter(result.action for _, _, result in done)
    flagged = sum(bool(result.quality.flags) for _, _, result in done)
    chips = [f"<span class='chip'>{_pill(a.value)} {actions[a]}</span>" for a in Action]
    chips.append(f"<span class='chip'>{_pill('failed')} {len(failed)}</span>")
    chips.append(f"<span class='chip'>&nbsp;with quality flags: {flagged}</span>")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Screening report</title><style>{_CSS}</style></head><body>",
        "<header><h1>Scoliosis screening report</h1>",
        f"<p class='muted'>{esc(datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC'))} · "
        f"{len(rows)} video files · {len(done)} screened · {len(failed)} failed</p>",
        _note(model.note, model.clinical),
        "<nav><a href='#summary'>Students</a><a href='#failed'>Failed files</a>"
        "<a href='#figures'>Counts and histogram</a><a href='#each'>Each student</a>"
        "<a href='#model'>Model</a><a href='#pipeline'>Pipeline settings</a></nav></header>",
        "<main><section id='summary'>",
        f"<h2>Students ({len(done) + len(failed)})</h2>",
        f"<div class='chips'><span class='muted'>actions</span>{''.join(chips)}</div>",
        _filters(rows),
        _students_table(rows),
        "<p class='muted'>Click a column's name to sort; a name opens the student's "
        f"section. Probabilities: {esc(_probability_note(done))}.</p></section>",
        f"<section id='failed'><h2>Failed files ({len(failed)})</h2>",
        _table(["video", "reason"], [[esc(r.path), esc(r.error or "")] for r in failed])
        if failed
        else "<p class='muted'>None.</p>",
        "</section><section id='figures'><h2>Counts and positive probability</h2>"
        "<div class='row2'>",
        _table(["verdict", "videos"], [[esc(v.value), str(verdicts[v])] for v in Verdict]),
        _table(["action", "videos"], [[esc(a.value), str(actions[a])] for a in Action]),
    ]
    if done:
        values = [result.probabilities.positive for _, _, result in done]
        parts.append(_image(histogram_png(values), "histogram", "histogram of p(positive)"))
    parts.append("</div></section>")
    parts.append(f"<section id='each'><h2>Each student ({len(done)})</h2>")
    parts.extend(_student_section(index, row, result) for index, row, result in done)
    parts.append("</section><section id='model'><h2>Model</h2>")
    parts.append(_table(["", ""], [[esc(k), esc(str(v))] for k, v in model.to_dict().items()]))
    if card:
        parts.append(f"<details><summary>Model card</summary><pre>{esc(card)}</pre></details>")
    parts.append("</section><section id='pipeline'><h2>Pipeline settings</h2><details>")
    parts.append(f"<summary>{len(pipeline)} settings</summary>")
    parts.append(_table(["setting", "value"], [[esc(k), esc(str(v))] for k, v in pipeline.items()]))
    parts.append(f"</details></section></main><script>{_JS}</script></body></html>")
    return "\n".join(parts)


def write_report(
    path: Path,
    rows: Sequence[VideoRow],
    model: ModelInfo,
    pipeline: Mapping[str, Any],
    card: str | None,
) -> Path:
    return write_text_atomically(path, render_report(rows, model, pipeline, card))
