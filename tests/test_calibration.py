"""Calibration (temperature / vector scaling), its measures, operating points and the
verdict rule, and `screen calibrate` end to end on a tiny dataset with a VAL_SET."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from random_models import random_classifier
from test_dataset import write_toy_dataset
from typer.testing import CliRunner

from screen.cli import app, main
from screen.errors import ScreenError
from screen.model.calibration import (
    UNCALIBRATED,
    Calibration,
    brier_score,
    expected_calibration_error,
    fit_calibration,
    sequence_probabilities,
)
from screen.model.checkpoint import read_checkpoint_metadata, save_checkpoint
from screen.model.classes import LABELS, Label
from screen.model.classify import Classifier
from screen.model.operating_point import (
    OperatingPoint,
    choose_point,
    decide,
    fit_operating_point,
    reached,
)

runner = CliRunner()


def overconfident_sequences(temperature: float, sequences: int = 600, seed: int = 0):
    """Clip log-probabilities that are `temperature` times too sharp, and labels drawn from
    the true (softer) probabilities: a model whose right T is known."""
    rng = np.random.default_rng(seed)
    clips, labels = [], []
    for _ in range(sequences):
        true_logits = rng.normal(0, 1.5, 3)
        truth = np.exp(true_logits) / np.exp(true_logits).sum()
        labels.append(int(rng.choice(3, p=truth)))
        sharp = true_logits * temperature + rng.normal(0, 0.05, (4, 3))  # 4 clips alike
        clips.append(sharp - np.log(np.exp(sharp).sum(axis=1, keepdims=True)))
    return clips, labels


def test_temperature_scaling_recovers_a_known_temperature_and_lowers_the_error():
    clips, labels = overconfident_sequences(temperature=3.0)
    fitted = fit_calibration(clips, labels, "temperature")
    assert fitted.temperature == pytest.approx(3.0, rel=0.15)
    before = sequence_probabilities(UNCALIBRATED, clips)
    after = sequence_probabilities(fitted, clips)
    assert (
        expected_calibration_error(after, labels) < expected_calibration_error(before, labels) / 2
    )
    assert brier_score(after, labels) < brier_score(before, labels)
    assert (after.argmax(1) == before.argmax(1)).all()  # a temperature never moves a verdict


def test_vector_scaling_fits_at_least_as_well_on_its_own_data():
    clips, labels = overconfident_sequences(temperature=2.0, seed=1)
    nll = {}
    for method in ("temperature", "vector"):
        probabilities = sequence_probabilities(fit_calibration(clips, labels, method), clips)
        nll[method] = -np.log(probabilities[np.arange(len(labels)), labels]).mean()
    assert nll["vector"] <= nll["temperature"] + 1e-6


def test_ece_and_brier_on_hand_made_cases():
    sure_and_right = np.array([[1.0, 0, 0], [0, 0, 1.0]])
    assert expected_calibration_error(sure_and_right, [0, 2]) == pytest.approx(0.0)
    assert brier_score(sure_and_right, [0, 2]) == pytest.approx(0.0)
    assert brier_score(sure_and_right, [1, 1]) == pytest.approx(2.0)
    # 0.8 sure, right 1 time in 2: the error is 0.3
    half_right = np.array([[0.8, 0.1, 0.1], [0.8, 0.1, 0.1]])
    assert expected_calibration_error(half_right, [0, 1]) == pytest.approx(0.3)


def test_a_calibration_survives_the_checkpoint_metadata(tmp_path):
    classifier = random_classifier(seed=3)
    calibration = Calibration("temperature", (0.5, 0.5, 0.5), fitted_on="VAL_SET of toy")
    point = OperatingPoint(0.9, 0.4, 0.6, {"sensitivity_positive": 1.0})
    metadata = classifier.metadata
    path = save_checkpoint(tmp_path / "m.safetensors", classifier.model,
                           replace(metadata, calibration=calibration.to_dict(),
                                   operating_points=[point.to_dict()]))  # fmt: skip
    read = read_checkpoint_metadata(path)
    assert read.calibration_map == calibration
    assert read.stored_operating_points == [point]
    plain = save_checkpoint(tmp_path / "plain.safetensors", classifier.model, metadata)
    assert read_checkpoint_metadata(plain).calibration_map is None


def named(positive: float, neutral: float) -> dict[Label, float]:
    return {Label.POSITIVE: positive, Label.NEUTRAL: neutral,
            Label.NEGATIVE: 1 - positive - neutral}  # fmt: skip


def test_the_verdict_rule_with_and_without_an_operating_point():
    point = OperatingPoint(0.95, positive_threshold=0.2, flag_threshold=0.5, validation={})
    assert decide(named(0.25, 0.05), None) == Label.NEGATIVE  # arg-max
    assert decide(named(0.25, 0.05), point) == Label.POSITIVE  # p(positive) >= 0.2
    assert decide(named(0.10, 0.45), point) == Label.NEUTRAL  # 0.55 >= 0.5
    assert decide(named(0.10, 0.30), point) == Label.NEGATIVE


def test_operating_points_reach_their_target_and_refer_more_as_it_rises():
    rng = np.random.default_rng(4)
    labels = [label for label in LABELS for _ in range(40)]
    shift = {Label.NEGATIVE: 0.1, Label.NEUTRAL: 0.25, Label.POSITIVE: 0.45}
    probabilities = []
    for label in labels:
        positive = float(np.clip(rng.normal(shift[label], 0.15), 0.01, 0.9))
        probabilities.append(named(positive, (1 - positive) * 0.4))
    points = [fit_operating_point(probabilities, labels, t) for t in (0.8, 0.9, 0.95)]
    for point in points:
        assert point.validation["sensitivity_positive"] >= point.target
        assert point.validation["sensitivity_flagged"] >= point.target
        assert point.validation == reached(probabilities, labels, point)
    thresholds = [point.positive_threshold for point in points]
    assert thresholds == sorted(thresholds, reverse=True)
    referred = [point.validation["referred_share"] for point in points]
    assert referred == sorted(referred) and referred[-1] > referred[0]


def test_choosing_a_point_the_model_does_not_have_is_one_clear_error():
    points = [OperatingPoint(0.9, 0.3, 0.5, {})]
    assert choose_point(points, "argmax", "m") is None
    assert choose_point(points, "sensitivity=0.9", "m") is points[0]
    with pytest.raises(ScreenError, match=r"no operating point sensitivity=0.95 \(stored: sens"):
        choose_point(points, "sensitivity=0.95", "m")
    with pytest.raises(ScreenError, match="looks like sensitivity=0.95"):
        choose_point(points, "high", "m")


@pytest.fixture(scope="module")
def toy_with_val(tmp_path_factory):
    root = tmp_path_factory.mktemp("toyval")
    per_class = {label: 2 for label in Label}
    partition = write_toy_dataset(root, {Label.NEGATIVE: 1}, per_class, frames=40, val=per_class)
    return root, partition


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    classifier = random_classifier(seed=7)
    path = tmp_path_factory.mktemp("w") / "random.safetensors"
    return save_checkpoint(path, classifier.model, classifier.metadata, half=True)


def test_screen_calibrate_writes_a_calibrated_model_that_classify_uses(
    toy_with_val, random_weights, tmp_path
):
    root, partition = toy_with_val
    out = tmp_path / "calibrated.safetensors"
    result = runner.invoke(app, ["calibrate", str(root), "--partition", str(partition),
                                 "--weights", str(random_weights), "--out", str(out),
                                 "--json", str(tmp_path / "report.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["split"] == "val" and report["counts"] == {"negative": 2, "neutral": 2,
                                                              "positive": 2}  # fmt: skip
    assert set(report["validation"]) == {"uncalibrated", "temperature", "vector"}
    assert list(report["operating_points"]) == ["sensitivity=0.9", "sensitivity=0.95"]
    assert (tmp_path / "calibrated.reliability.png").stat().st_size > 1000
    metadata = read_checkpoint_metadata(out)
    assert metadata.calibration["method"] == "temperature"
    assert out.stat().st_size < 1.2 * random_weights.stat().st_size  # fp16 kept
    # the verdict rule shows in the result, and a stored point changes nothing else
    masks = str(root / "00001" / "negative" / "000_180" / "00001.pkl")
    outputs = {}
    for rule in ("argmax", "sensitivity=0.95"):
        result = runner.invoke(app, ["classify", masks, "--weights", str(out),
                                     "--operating-point", rule, "--json", "-"])  # fmt: skip
        assert result.exit_code == 0, result.output
        outputs[rule] = json.loads(result.output)
    point = report["operating_points"]["sensitivity=0.95"]
    probabilities = outputs["argmax"]["probabilities"]
    expected = decide({Label(k): v for k, v in probabilities.items()},
                      OperatingPoint.from_dict(point))  # fmt: skip
    assert outputs["sensitivity=0.95"]["verdict"] == expected.value
    assert outputs["sensitivity=0.95"]["probabilities"] == probabilities


def test_calibrated_probabilities_are_the_raw_ones_mapped(random_weights, toy_with_val):
    root, partition = toy_with_val
    from screen.training.dataset import SilhouetteDataset, Split

    stored = SilhouetteDataset.open(root, partition, Split.VAL).frames(0)
    raw = Classifier.from_file(random_weights, calibrated=False)
    calibration = Calibration("temperature", (0.25, 0.25, 0.25))
    mapped = Classifier.from_file(random_weights)
    mapped.calibration = calibration
    clips = [np.arange(0, 40, 4)[:10], np.arange(1, 40, 4)[:10]]
    log_p = raw.streamed_log_probabilities(stored, clips)
    assert np.allclose(np.exp(log_p), raw.streamed_probabilities(stored, clips), atol=1e-6)
    assert np.allclose(calibration.apply(log_p), mapped.streamed_probabilities(stored, clips),
                       atol=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--split", "test"], "never test"),
        (["--method", "isotonic"], "--method must be one of temperature, vector"),
        (["--targets", "high"], "looks like sensitivity=0.95"),
    ],
)
def test_screen_calibrate_refuses_wrong_choices_in_one_line(
    toy_with_val, random_weights, tmp_path, capsys, extra, message
):
    root, partition = toy_with_val
    arguments = ["calibrate", root, "--partition", partition, "--weights", random_weights,
                 "--out", tmp_path / "c.safetensors", *extra]  # fmt: skip
    assert main([str(a) for a in arguments]) != 0
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error and len(error.strip().splitlines()) == 1


def test_a_partition_without_val_set_says_how_to_make_one(tmp_path, random_weights, capsys):
    partition = write_toy_dataset(tmp_path, {Label.NEGATIVE: 1}, {Label.POSITIVE: 1})
    arguments = ["calibrate", tmp_path, "--partition", partition, "--weights", random_weights,
                 "--out", tmp_path / "c.safetensors"]  # fmt: skip
    assert main([str(a) for a in arguments]) != 0
    assert "lists no id" in capsys.readouterr().err


def test_screen_calibrate_on_videos_fits_on_what_the_front_end_made(
    labelled, random_weights, tmp_path, capsys
):
    out, work = tmp_path / "video-calibrated.safetensors", tmp_path / "work"
    arguments = ["calibrate", labelled, "--work", work, "--workers", "1",
                 "--weights", random_weights, "--out", out, "--json", "-"]  # fmt: skip
    assert main([str(a) for a in arguments]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"] == {"negative": 1, "neutral": 0, "positive": 1}
    assert "2 judged labelled videos" in report["fitted_on"] and "failed 1" in report["fitted_on"]
    assert read_checkpoint_metadata(out).calibration["method"] == "temperature"
    # the screening used the raw probabilities, whatever the model stores
    settings = json.loads((work / "evaluation-settings.json").read_text())
    assert settings["classifier"]["calibrated"] is False
    # without --work: one line saying what is missing
    assert main([str(a) for a in arguments[:2] + arguments[6:]]) == 2
    assert "need --work DIR" in capsys.readouterr().err
