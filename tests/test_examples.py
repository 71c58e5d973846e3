"""The shipped examples keep working as examples/README.md says (weight-free front end)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screen.frontend.extract import Frontend
from screen.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    "name",
    [
        "phantom_positive",
        *(pytest.param(n, marks=pytest.mark.slow) for n in ("phantom_negative", "phantom_neutral")),
    ],
)
def test_the_walker_is_followed_for_most_of_the_video(name):
    truth = json.loads((EXAMPLES / f"{name}.json").read_text())
    settings = Settings.of(detector="background", segmenter="background")
    result = Frontend(settings).extract(EXAMPLES / f"{name}.mp4")
    visible = sum(1 for box in truth["boxes"] if box["participant"] is not None)
    # Measured 118, 116 and 112 of 120 frames (119, 119, 116 detecting every other frame);
    # a body split at the waist once dropped the positive walker to 63 across the turn.
    assert result.participant.coverage["participant_frames"] >= 0.75 * visible


#: The demo model calls the neutral example (severity 14.8, mid-band) positive, from its true
#: silhouettes and from the video alike: a known miss, kept visible until a model fixes it.
NEUTRAL_MISS = pytest.mark.xfail(strict=True, reason="the demo model calls it positive")
NAMES = ("phantom_positive", "phantom_negative")
NAMES += (pytest.param("phantom_neutral", marks=NEUTRAL_MISS),)


@pytest.mark.parametrize("name", NAMES)
def test_the_demo_model_gives_each_example_its_label_from_the_true_silhouettes(name):
    from screen.model.classify import load_classifier
    from screen.silhouettes.files import read_silhouettes

    truth = json.loads((EXAMPLES / f"{name}.json").read_text())
    stored = read_silhouettes(EXAMPLES / f"{name}.masks.npz").frames
    assert load_classifier().predict(stored).label.value == truth["label"]


@pytest.mark.slow  # the whole tool on each example: `make demo` shows the same
@pytest.mark.parametrize("name", NAMES)
def test_the_demo_model_gives_each_example_its_label_through_the_whole_tool(name):
    from screen.pipeline import Screener

    truth = json.loads((EXAMPLES / f"{name}.json").read_text())
    result = Screener(Settings()).screen(EXAMPLES / f"{name}.mp4").result
    assert result.verdict.value == truth["label"]
