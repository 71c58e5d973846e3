"""The report's pictures: silhouette strips, attention maps, the histogram, clip plots.

PNGs come back base64-encoded and the plot as inline SVG, so the report stays one file.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..model.classes import LABELS
from .result import ClipResult

if TYPE_CHECKING:  # torch is imported only where a model runs
    from ..model.classify import Classifier

CLASS_COLOURS = {"positive": "#c62828", "neutral": "#f0a030", "negative": "#4a8f4a"}


def silhouette_strip_png(frames: np.ndarray, count: int = 8) -> str:
    """Evenly spaced stored-form silhouettes [T, 64, 64] side by side, as a base64 PNG."""
    import cv2

    if len(frames) == 0:
        return ""
    picks = np.linspace(0, len(frames) - 1, num=min(count, len(frames))).round().astype(int)
    strip = np.concatenate([frames[i] for i in picks], axis=1)
    # one bit a pixel: a sixth of the grey PNG's bytes (0.7 vs 3.9 KB), for a school's report
    binary = np.where(strip > 127, 255, 0).astype(np.uint8)
    ok, encoded = cv2.imencode(".png", binary, [cv2.IMWRITE_PNG_BILEVEL, 1])
    return base64.b64encode(encoded.tobytes()).decode("ascii") if ok else ""


def attention_map_png(classifier: Classifier, stored: np.ndarray) -> str:
    """The whole walk's attention map over the mean silhouette, as a base64 PNG ("" if no
    silhouette): a second backbone pass, so the batch asks only for referred students."""
    from ..model.attention import attention_maps
    from .explain import attention_png

    if len(stored) == 0:
        return ""
    maps = attention_maps(classifier, stored)
    # at the map's own 64x44 (3 KB; 14 KB drawn 3x larger): the browser enlarges it smoothly
    picture = attention_png(maps.sequence, maps.mean_silhouette, scale=1, bar=False)
    return base64.b64encode(picture).decode("ascii")


def histogram_png(values: list[float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(figsize=(6, 2.4), dpi=90)
    axes.hist(values, bins=np.linspace(0, 1, 21), color="#c44", edgecolor="white")
    axes.set_xlabel("probability of the positive class")
    axes.set_ylabel("videos")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # whole videos, not 0.25 of one
    axes.set_xlim(0, 1)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def clip_plot_svg(clips: Sequence[ClipResult]) -> str:
    """Each clip's probabilities as a stacked bar (positive at the bottom), in clip order:
    a small inline SVG, a tooltip per bar with its times and numbers."""
    if not clips:
        return ""
    width, height, left, top, bottom = 280, 120, 30, 6, 20
    plot_w, plot_h = width - left - 4, height - top - bottom
    step = plot_w / len(clips)
    parts = [
        f"<svg width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='clip probabilities' "
        "font-size='10' font-family='sans-serif'>"
    ]
    for value in (0, 0.5, 1):
        y = top + plot_h * (1 - value)
        parts.append(
            f"<line x1='{left}' x2='{width - 4}' y1='{y:.1f}' y2='{y:.1f}' stroke='#ccc'/>"
            f"<text x='{left - 4}' y='{y + 3:.1f}' text-anchor='end'>{value:g}</text>"
        )
    for index, clip in enumerate(clips):
        x, base = left + index * step + step * 0.1, top + plot_h
        when = (
            f", {clip.start_time:.1f}-{clip.stop_time:.1f} s"
            if clip.start_time is not None and clip.stop_time is not None
            else ""
        )
        numbers = ", ".join(f"{label.value} {clip.probabilities[label]:.2f}" for label in LABELS)
        parts.append(f"<g><title>clip {index + 1}{when}: {numbers}</title>")
        for label in ("positive", "neutral", "negative"):
            share = clip.probabilities[label] * plot_h
            base -= share
            parts.append(
                f"<rect x='{x:.1f}' y='{base:.1f}' width='{max(step * 0.8, 1):.1f}' "
                f"height='{share:.1f}' fill='{CLASS_COLOURS[label]}'/>"
            )
        parts.append("</g>")
    parts.append(
        f"<text x='{left}' y='{height - 6}'>clip 1</text>"
        f"<text x='{width - 4}' y='{height - 6}' text-anchor='end'>clip {len(clips)}</text>"
        "</svg>"
    )
    return "".join(parts)
