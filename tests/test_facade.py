"""The library without the CLI: `from screen import screen_video, Screener, extract_silhouettes`."""

from __future__ import annotations

from pathlib import Path

import pytest

import screen
from screen import Screener, Settings, extract_silhouettes, screen_video

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "phantom_negative.mp4"
WEIGHT_FREE = {"detector": "background", "segmenter": "background"}


def test_screen_video_returns_a_typed_result_that_says_it_is_not_clinical():
    result = screen_video(EXAMPLE, **WEIGHT_FREE)
    assert result.verdict in {"positive", "neutral", "negative", "inconclusive"}
    assert result.note.startswith("NOT FOR CLINICAL USE")
    assert result.pipeline.detector.backend == "background"


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_the_facade_exports_the_documented_names():
    assert set(screen.__all__) >= {"screen_video", "Screener", "extract_silhouettes"}
    assert Screener.__module__ == "screen.pipeline"
    assert extract_silhouettes(EXAMPLE, Settings.of(**WEIGHT_FREE)).silhouettes
