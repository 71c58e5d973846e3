"""The demo checkpoint's publishing step: fp16 weights, numbers JSON and a card made from them."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import torch
from test_dataset import write_toy_dataset

from screen.cli import main
from screen.model.checkpoint import load_checkpoint
from screen.model.classes import Label
from screen.model.sconet import ScoNet
from screen.settings import TrainingSettings
from screen.training.dataset import SilhouetteDataset, Split
from screen.training.train import export_model


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    counts = {Label.NEGATIVE: 1, Label.NEUTRAL: 1, Label.POSITIVE: 1}
    partition = write_toy_dataset(root / "phantoms", counts, counts, frames=32, val=counts)
    train_split = SilhouetteDataset.open(root / "phantoms", partition, Split.TRAIN)
    exports = {}
    for seed, model in enumerate(("sconet-mt", "sconet")):
        torch.manual_seed(seed)
        config = TrainingSettings(model=model, iterations=10, trained_on="toy phantoms", name=model)
        run = {"seconds": 60.0, "precision": "bf16", "threads": 2}
        exports[model] = export_model(
            root / model / f"{model}.safetensors",
            ScoNet().eval(),
            config,
            train_split,
            "screen train toy",
            run,
        )
    weights, card = root / "weights" / "demo.safetensors", root / "card.md"
    arguments = ["--phantoms", str(root / "phantoms"), "--mt", str(exports["sconet-mt"])]
    arguments += ["--ce", str(exports["sconet"]), "--weights", str(weights)]
    log = exports["sconet-mt"].parent / "train_log.jsonl"
    log.write_text("".join(
        json.dumps({"iteration": i, "loss": 2.0 - i / 10, "accuracy": i / 10}) + "\n"
        for i in range(1, 11)
    ))  # fmt: skip
    # The posture ceiling (10 s) is measured in its own test.
    with mock.patch("screen.phantom.ceiling.posture_ceiling", return_value=0.8946):
        assert main(["demo-weights", *arguments, "--card", str(card), "--precision", "fp32"]) == 0
    results = json.loads((root / "sconet-mt-demo.results.json").read_text())
    return exports, weights, card.read_text(), results


def test_the_published_weights_are_fp16_copies_named_for_the_spec(published):
    exports, weights, _, results = published
    header_size = int.from_bytes(weights.read_bytes()[:8], "little")
    header = json.loads(weights.read_bytes()[8 : 8 + header_size])
    assert header["FCs.fc_bin"]["dtype"] == "F16"
    model, metadata = load_checkpoint(weights)
    original, _ = load_checkpoint(exports["sconet-mt"])
    expected = original.state_dict()["FCs.fc_bin"].half().float()
    assert torch.equal(model.state_dict()["FCs.fc_bin"], expected)
    assert metadata.name == "sconet-mt-demo" and metadata.clinical is False
    assert results["models"]["sconet-mt-demo"]["file"] == weights.name


def test_the_card_shows_the_numbers_of_the_run(published):
    _, _, card, results = published
    mt = results["models"]["sconet-mt-demo"]
    ce = results["models"]["sconet-demo"]
    assert "NOT for clinical use" in card and "synthetic phantoms only" in card
    assert mt["sha256"] in card
    for model in (mt, ce):
        for figures in model["protocols"].values():
            accuracy = figures["accuracy"]
            low, high = accuracy["ci95"]
            text = f"{100 * accuracy['value']:.1f}% ({100 * low:.1f}-{100 * high:.1f})"
            assert text in card
    header = "| figure | ScoNet-MT, sequence | ScoNet-MT, clips | ScoNet-MT, consecutive | ScoNet,"
    assert header in card
    assert "a ceiling for any model here" in card and "89.5%" in card
    assert "| 1-2 | 1.850 | 15.0% |" in card  # the learning curve, from train_log.jsonl
    assert "Not measured for this card: run `make evaluate-videos`." in card
    assert "legacy 'sensitivity' = negative-class recall" in card
    assert "10 iterations of 8 ids x 8 sequences x 30 frames" in card
    assert "1 positive / 1 neutral / 1 negative" in card
    assert "positive:neutral:negative 1:1:1" in card
    assert mt["data"]["counts"] == {"negative": 1, "neutral": 1, "positive": 1}


def test_the_shipped_file_is_calibrated_on_the_val_split_and_the_card_says_how(published):
    _, weights, card, results = published
    _, metadata = load_checkpoint(weights)
    calibration = results["calibration"]
    assert metadata.calibration["method"] == "temperature" == calibration["method"]
    assert calibration["split"] == "val" and "VAL_SET" in calibration["fitted_on"]
    assert [p.name for p in metadata.stored_operating_points] == list(
        calibration["operating_points"]
    )
    on_test = results["models"]["sconet-mt-demo"]["calibration"]
    assert set(on_test["operating_points"]) == set(calibration["operating_points"])
    assert f"T = {calibration['temperature']:.3f}" in card
    after = on_test["calibrated"]
    assert f"{after['ece']:.3f} | {after['brier']:.3f} |" in card  # the test split's figures
    assert (weights.parent.parent / "sconet-mt-demo.reliability.png").stat().st_size > 1000


def test_the_phantom_posture_ceiling_is_below_perfect_and_far_above_chance():
    from screen.phantom.ceiling import posture_ceiling

    ceiling = posture_ceiling(walkers=900)
    assert 0.75 < ceiling < 0.97


def _video_evaluation(sha256: str) -> dict:
    from screen.training.evaluate import Proportion, metrics_from_confusion

    figures = metrics_from_confusion([[2, 0, 0], [0, 1, 1], [0, 0, 1]])
    figures["confidence"] = {"right_mean": 0.7, "right": 4, "wrong_mean": 0.5, "wrong": 1}
    figures["accuracy_all_videos"] = Proportion(4, 6).to_dict()
    row = {"label": "negative", "verdict": "negative", "correct": True}
    return {
        "model": {"name": "sconet-mt-demo", "sha256": sha256},
        "outcomes": {"videos": 6, "judged": 5, "inconclusive": 1, "failed": 0},
        "protocols": {"videos": figures},
        "not_judged": {"by_stage": {"detection/tracking": {"reasons": {"two_walkers": 1}}}},
        "videos": [{**row, "video": "00001/negative/000_180/00001.mp4"},
                   {**row, "video": "00002/positive/090_270/00002.mp4", "correct": False,
                    "verdict": "inconclusive"}],
    }  # fmt: skip


def test_the_video_evaluation_goes_into_the_card_of_the_same_model_only(published, tmp_path):
    _, weights, _, results = published
    card = tmp_path / "card.md"
    numbers = tmp_path / "sconet-mt-demo.results.json"
    numbers.write_text(json.dumps(results))
    sha256 = results["models"]["sconet-mt-demo"]["sha256"]
    evaluation = tmp_path / "evaluation.json"
    evaluation.write_text(json.dumps(_video_evaluation(sha256)))
    filmed = {"view": "front", "distractor": "none", "camera_motion": "none"}
    videoset = tmp_path / "videoset.json"
    videoset.write_text(json.dumps({"videos": {
        "00001": {**filmed, "orientation": "landscape"},
        "00002": {**filmed, "view": "side", "orientation": "portrait"},
    }}))  # fmt: skip
    arguments = ["demo-card", "--videos", str(evaluation), "--card", str(card)]
    assert main([*arguments, "--videoset", str(videoset)]) == 0
    text = card.read_text()
    assert "5 judged, 1 inconclusive, 0 failed (detection/tracking: two_walkers 1)" in text
    assert "66.7% (30.0-90.3)" in text  # accuracy over all six videos, with its interval
    assert "| side, none, none, portrait | 1 | 0 | 0 |" in text
    assert "| mean confidence, right / wrong verdicts | 0.70 / 0.50 |" in text
    assert json.loads(numbers.read_text())["videos"]["outcomes"]["judged"] == 5
    evaluation.write_text(json.dumps(_video_evaluation("0" * 64)))
    assert main(arguments) == 1  # another model's evaluation is refused, the card kept
    assert card.read_text() == text
