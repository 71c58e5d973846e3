"""The typed result: its JSON stays as documented, reads back unchanged; the verdict rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screen.cli import main
from screen.model.classes import Label
from screen.outputs.result import Probabilities, ScreeningResult
from screen.outputs.verdict import ADVICE, BLOCKING_FLAGS, Action, Verdict, advise, judge

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

PROBABILITY_KEYS = ["negative", "neutral", "positive"]
#: The keys of `screen VIDEO --json`, recursively and in order, as before the typed result
#: (captured from `screen examples/phantom_positive.mp4 --json -`).  None: a leaf; a
#: one-element list: the keys of every element.
VIDEO_KEYS = {
    "video": None,
    "verdict": None,
    "action": None,
    "advice": None,
    "confidence": None,
    "probabilities": PROBABILITY_KEYS,
    "whole_sequence_probabilities": PROBABILITY_KEYS,
    "clips": [
        {
            "start_frame": None,
            "stop_frame": None,
            "start_time": None,
            "stop_time": None,
            "silhouettes": None,
            "probabilities": PROBABILITY_KEYS,
        }
    ],
    "quality": {
        "flags": None,
        "frames_read": None,
        "participant_frames": None,
        "silhouettes_cut_by_edge": None,
        "silhouettes_used": None,
        "track_coverage": (
            "frames tracks_seen participant_frames coverage first_seconds last_seconds "
            "longest_gap_frames track_ids travel_body_heights scale_change median_box_height_px "
            "passes"
        ).split(),
    },
    "model": ["name", "sha256", "class_order", "clinical", "trained_on"],
    "note": None,
    "probability_note": None,
    "pipeline": {
        "detector": ["requested", "backend", "model"],
        "tracker": None,
        "segmenter": ["requested", "backend", "model"],
        "classifier": ["runtime"],
        "rotation": ["degrees", "source", "reason"],
        "fps": None,
        "clip_length": None,
        "clip_sampling": None,
        "clip_stride": None,
        "precision": None,
        "detect_every": None,
        "segment_batch": None,
        "workers": None,
        "thresholds": (
            "detect_confidence mask_threshold track_high_thresh track_low_thresh "
            "new_track_thresh match_thresh min_silhouettes verdict_rule"
        ).split(),  # + positive_threshold, flag_threshold under an operating point
    },
    "timing": {
        "total_s": None,
        "frontend_s": None,
        "classify_s": None,
        "video_s": None,
        "realtime_factor": None,
        "ms_per_frame": [
            "background_once",  # the weight-free segmenter, built for the orientation check
            "orientation_once",
            "decode",
            "detect",
            "track",
            "camera_motion",
            "decode_again",
            "segment",
        ],
    },
}
#: `screen classify SILHOUETTES --json`: no video, pipeline or timing; `input` and `frames`.
CLASSIFY_KEYS = {
    "input": None,
    "verdict": None,
    "action": None,
    "advice": None,
    "confidence": None,
    "probabilities": PROBABILITY_KEYS,
    "whole_sequence_probabilities": PROBABILITY_KEYS,
    "clips": [{"start_frame": None, "stop_frame": None, "probabilities": PROBABILITY_KEYS}],
    "frames": None,
    "quality": ["flags", "silhouettes_used"],
    "model": ["name", "sha256", "class_order", "clinical", "trained_on"],
    "note": None,
    "probability_note": None,
}


def nested(value) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and bool(value)
                                       and isinstance(value[0], dict))  # fmt: skip


def key_tree(value):
    """The keys of nested dicts in order, in VIDEO_KEYS' notation (a dict of leaves: its keys)."""
    if isinstance(value, dict):
        if not any(nested(item) for item in value.values()):
            return list(value)
        return {key: key_tree(item) for key, item in value.items()}
    if nested(value):
        assert all(key_tree(item) == key_tree(value[0]) for item in value)
        return [key_tree(value[0])]
    return None


def run_json(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "result.json"
    assert main([*args, "--json", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def video_json(tmp_path_factory) -> dict:
    """The example the baseline was captured from, with the weight-free stages it used."""
    return run_json(
        tmp_path_factory.mktemp("video"),
        str(EXAMPLES / "phantom_positive.mp4"),
        "--quiet", "--detector", "background", "--segmenter", "background",
    )  # fmt: skip


@pytest.fixture(scope="module")
def classify_json(tmp_path_factory) -> dict:
    return run_json(
        tmp_path_factory.mktemp("classify"),
        "classify",
        str(EXAMPLES / "phantom_positive.masks.npz"),
    )


def test_video_json_keeps_the_documented_keys_in_order(video_json):
    assert key_tree(video_json) == VIDEO_KEYS


def test_video_json_keeps_its_rounding(video_json):
    def rounded(value: float, digits: int) -> bool:
        return round(value, digits) == value

    probabilities = [video_json["probabilities"], video_json["whole_sequence_probabilities"]]
    probabilities += [clip["probabilities"] for clip in video_json["clips"]]
    assert all(rounded(p, 6) for group in probabilities for p in group.values())
    assert rounded(video_json["confidence"], 6)
    assert all(rounded(clip[key], 3) for clip in video_json["clips"] for key in
               ("start_time", "stop_time"))  # fmt: skip
    assert all(rounded(video_json["timing"][key], 3) for key in ("total_s", "video_s"))


def test_classify_json_keeps_its_keys_in_order(classify_json):
    assert key_tree(classify_json) == CLASSIFY_KEYS
    assert classify_json["frames"] == classify_json["quality"]["silhouettes_used"]


@pytest.mark.parametrize("which", ["video_json", "classify_json"])
def test_a_real_result_reads_back_unchanged(which, request):
    data = request.getfixturevalue(which)
    result = ScreeningResult.from_dict(data)
    assert json.dumps(result.to_dict()) == json.dumps(data)  # same keys, order and values
    assert ScreeningResult.from_dict(result.to_dict()) == result
    assert result.action == Action(data["action"])
    assert result.probabilities.positive == data["probabilities"]["positive"]


def test_probabilities_round_and_index_by_label():
    probabilities = Probabilities.of(
        {Label.NEGATIVE: 0.1234567, Label.NEUTRAL: 0.3, Label.POSITIVE: 0.5765433}
    )
    assert probabilities == Probabilities(0.123457, 0.3, 0.576543)
    assert probabilities["positive"] == probabilities[Label.POSITIVE] == 0.576543
    assert list(probabilities.to_dict()) == PROBABILITY_KEYS
    assert sum(Probabilities.uniform().to_dict().values()) == pytest.approx(1, abs=1e-5)


def test_judge_follows_the_classifier_when_the_video_can_be_judged():
    assert judge([], 100, 0, 100, 30, Label.POSITIVE) == (Verdict.POSITIVE, ())
    flags = ["detector_fallback_weight_free"]
    assert judge(flags, 100, 10, 90, 30, Label.NEGATIVE) == (Verdict.NEGATIVE, tuple(flags))


@pytest.mark.parametrize(
    ("flags", "found", "cut", "used", "label", "expected"),
    [
        (["two_walkers"], 100, 0, 100, Label.POSITIVE, ("two_walkers",)),
        (["no_person"], 0, 0, 0, None, ("no_person", "too_few_silhouettes")),
        ([], 40, 15, 25, Label.NEUTRAL, ("edge_cut", "too_few_silhouettes")),
        ([], 5, 0, 0, None, ("too_few_silhouettes",)),
    ],
)
def test_judge_makes_a_video_inconclusive(flags, found, cut, used, label, expected):
    assert judge(flags, found, cut, used, 30, label) == (Verdict.INCONCLUSIVE, expected)


def test_edge_cut_is_a_warning_above_a_tenth_of_the_silhouettes():
    assert judge([], 100, 10, 90, 30, Label.NEUTRAL)[1] == ()
    assert judge([], 100, 11, 89, 30, Label.NEUTRAL) == (Verdict.NEUTRAL, ("edge_cut",))
    assert judge([], 0, 0, 0, 0, None) == (Verdict.INCONCLUSIVE, ())  # nothing to classify


def advice_for(flags, found=100, cut=0, used=100, verdict=Verdict.INCONCLUSIVE):
    return advise(verdict, flags, found, cut, used, 30, 15.0)


@pytest.mark.parametrize("flag", [*BLOCKING_FLAGS, "sideways_video", "too_few_silhouettes"])
def test_every_reason_for_inconclusive_says_how_to_record_again(flag):
    (sentence,) = advice_for([flag], used=28)
    assert sentence.endswith(".") and ": " in sentence  # what went wrong: what to do


@pytest.mark.parametrize(
    ("flags", "found", "cut", "used", "expected"),
    [
        (["no_person"], 0, 0, 0, ["No one was found in the video"]),
        (["no_walker"], 90, 0, 90, ["No one was seen walking", "for at least 4 s."]),
        (["two_walkers"], 100, 0, 100, ["record one student at a time"]),
        (["sideways_video"], 100, 0, 100, ["hold the phone upright"]),
        (["too_few_silhouettes"], 28, 0, 28, ["in full view for 1.9 s (28 usable frames, 30 "
                                              "needed): record at least 4 s of walking"]),
        (["edge_cut", "too_few_silhouettes"], 40, 15, 25,
         ["in full view for 1.7 s", "cut by the frame edge in 15 of 40 frames: step back"]),
    ],
)  # fmt: skip
def test_advice_is_computed_from_the_numbers(flags, found, cut, used, expected):
    text = " ".join(advice_for(flags, found, cut, used))
    assert all(part in text for part in expected), text


def test_judged_videos_and_unfixable_flags_get_no_advice():
    assert advice_for(["edge_cut", "participant_uncertain"], verdict=Verdict.NEGATIVE) == ()
    assert advice_for(["detector_fallback_weight_free", "background_uncertain"]) == ()
    assert set(ADVICE) >= set(BLOCKING_FLAGS) | {"too_few_silhouettes"}


def test_the_advice_is_in_the_json_and_reads_back(tmp_path):
    # 8 s at 3 fps: 24 frames, fewer than the 30 a verdict needs (10 s at that rate)
    data = run_json(tmp_path, str(EXAMPLES / "phantom_neutral.mp4"), "--quiet", "--fps", "3",
                    "--detector", "background", "--segmenter", "background")  # fmt: skip
    assert data["verdict"] == "inconclusive" and "too_few_silhouettes" in data["quality"]["flags"]
    assert any("record at least 20 s of walking" in sentence for sentence in data["advice"])
    assert ScreeningResult.from_dict(data).advice == tuple(data["advice"])


def test_the_terminal_summary_shows_the_advice():
    from dataclasses import replace

    from rich.console import Console

    from screen._cli.summary import print_result

    console = Console(record=True, width=100)
    sentence = "Two people walked in view at the same time: record one student at a time."
    result = ScreeningResult.from_dict(
        {
            "verdict": "inconclusive", "confidence": 0.0, "clips": [], "note": "n",
            "probabilities": {"negative": 0.3, "neutral": 0.3, "positive": 0.4},
            "quality": {"flags": ["two_walkers"], "silhouettes_used": 0},
            "model": {"name": "m", "sha256": "0", "class_order": ["negative", "neutral",
                      "positive"], "clinical": False, "trained_on": "x"},
        }
    )  # fmt: skip
    print_result(console, replace(result, advice=(sentence,)))
    text = console.export_text()
    assert "record again" in text and "record one student at a time" in text
    print_result(console := Console(record=True, width=100), result)
    assert "record again" not in console.export_text()
