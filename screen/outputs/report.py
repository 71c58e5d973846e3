"""The self-contained HTML report of a batch: counts, referrals, plots, failures.

Everything is inline (CSS, PNG images as data URIs) so the one file can be
mailed or archived.  It holds silhouettes and numbers, never video frames.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_text_atomically
from .result import ModelInfo, ScreeningResult
from .verdict import Action, Verdict


@dataclass(frozen=True)
class VideoRow:
    """One video file's state: what the CSV and the report are written from."""

    path: str  #: relative to the input folder
    status: str  #: pending | done | failed
    result: ScreeningResult | None  #: of a done video
    error: str | None  #: of a failed video
    seconds: float | None
    strip: str = ""  #: base64 PNG of a few of its silhouettes, for the referral list

    @property
    def screened(self) -> ScreeningResult | None:
        """The result of a done video, else None."""
        return self.result if self.status == "done" else None


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
h1{margin-bottom:0} .warn{background:#fde8e8;border:2px solid #c00;padding:.8em;font-weight:bold}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #bbb;padding:.25em .6em;text-align:left}
th{background:#eee} .num{text-align:right} img.strip{image-rendering:pixelated;height:64px}
.muted{color:#666;font-size:.9em}
"""


def silhouette_strip_png(frames: np.ndarray, count: int = 8) -> str:
    """Evenly spaced stored-form silhouettes [T, 64, 64] side by side, as a base64 PNG."""
    import cv2

    if len(frames) == 0:
        return ""
    picks = np.linspace(0, len(frames) - 1, num=min(count, len(frames))).round().astype(int)
    strip = np.concatenate([frames[i] for i in picks], axis=1)
    ok, encoded = cv2.imencode(".png", strip)
    return base64.b64encode(encoded.tobytes()).decode("ascii") if ok else ""


def _histogram_png(values: list[float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 2.6), dpi=100)
    axes.hist(values, bins=np.linspace(0, 1, 21), color="#c44", edgecolor="white")
    axes.set_xlabel("probability of the positive class")
    axes.set_ylabel("videos")
    axes.set_xlim(0, 1)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_report(
    rows: Sequence[VideoRow], model: ModelInfo, pipeline: Mapping[str, Any], card: str | None
) -> str:
    """The report's HTML from the batch's rows (one per video file)."""
    esc = html.escape
    done = [(row, row.screened) for row in rows if row.screened is not None]
    failed = [row for row in rows if row.status == "failed"]
    verdicts = Counter(result.verdict for _, result in done)
    actions = Counter(result.action for _, result in done)
    note = model.note
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Screening report</title>"
        f"<style>{_CSS}</style></head><body>",
        "<h1>Scoliosis screening report</h1>",
        f"<p class='muted'>{esc(datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC'))} · "
        f"{len(rows)} video files · {len(done)} screened · {len(failed)} failed</p>",
        f"<p>{esc(note)}</p>" if model.clinical else f"<p class='warn'>{esc(note)}</p>",
        "<h2>Counts</h2>",
        _table(["verdict", "videos"], [[esc(v.value), str(verdicts[v])] for v in Verdict]),
        _table(["action", "videos"], [[esc(a.value), str(actions[a])] for a in Action]),
    ]
    referred = [(row, result) for row, result in done if result.action == Action.REFER]
    parts.append(f"<h2>Referral list ({len(referred)})</h2>")
    if referred:
        table_rows = []
        for row, result in referred:
            image = (
                f"<img class='strip' alt='silhouettes' src='data:image/png;base64,{row.strip}'>"
                if row.strip
                else ""
            )
            flags = ", ".join(result.quality.flags) or "none"
            table_rows.append(
                [
                    esc(row.path),
                    f"{result.probabilities.positive:.3f}",
                    f"{result.confidence:.3f}",
                    esc(flags),
                    image,
                ]
            )
        parts.append(
            _table(
                ["video", "p(positive)", "confidence", "quality flags", "silhouettes"], table_rows
            )
        )
    else:
        parts.append("<p>No video was referred.</p>")
    if done:
        parts.append("<h2>Positive probability</h2>")
        values = [result.probabilities.positive for _, result in done]
        parts.append(f"<img alt='histogram' src='data:image/png;base64,{_histogram_png(values)}'>")
    flagged = [(row, result) for row, result in done if result.quality.flags]
    parts.append(f"<h2>Quality problems ({len(flagged)})</h2>")
    if flagged:
        flag_rows = [
            [
                esc(row.path),
                esc(result.verdict.value),
                esc(", ".join(result.quality.flags)),
                "<br>".join(esc(sentence) for sentence in result.advice),
            ]
            for row, result in flagged
        ]
        parts.append(_table(["video", "verdict", "flags", "record again"], flag_rows))
    parts.append(f"<h2>Failed files ({len(failed)})</h2>")
    if failed:
        parts.append(
            _table(["video", "reason"], [[esc(r.path), esc(r.error or "")] for r in failed])
        )
    parts.append("<h2>Model</h2>")
    parts.append(_table(["", ""], [[esc(k), esc(str(v))] for k, v in model.to_dict().items()]))
    if card:
        parts.append(f"<details><summary>Model card</summary><pre>{esc(card)}</pre></details>")
    parts.append("<h2>Pipeline settings</h2>")
    parts.append(_table(["setting", "value"], [[esc(k), esc(str(v))] for k, v in pipeline.items()]))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    path: Path,
    rows: Sequence[VideoRow],
    model: ModelInfo,
    pipeline: Mapping[str, Any],
    card: str | None,
) -> Path:
    return write_text_atomically(path, render_report(rows, model, pipeline, card))
