"""Evaluation: figures from hand-made confusion matrices, both protocols, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from random_models import random_classifier
from sklearn.metrics import f1_score, precision_recall_fscore_support
from test_dataset import write_toy_dataset

import screen.training.evaluate as evaluation
from screen.cli import main
from screen.model.checkpoint import save_checkpoint
from screen.model.classes import LABELS, Label
from screen.model.classify import Classifier
from screen.training.dataset import SilhouetteDataset, Split
from screen.training.evaluate import (
    LEGACY_NOTE,
    Protocol,
    confusion_matrix,
    metrics_from_confusion,
    wilson_interval,
)

#: rows = truth (negative, neutral, positive), columns = prediction.
MATRIX = np.array([[40, 5, 5], [10, 20, 10], [5, 5, 50]])


@pytest.mark.parametrize(
    "successes, total, low, high",
    [
        (8, 10, 0.4902, 0.9433),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
        (1, 2, 0.0945, 0.9055),
    ],
)
def test_wilson_intervals_match_published_values(successes, total, low, high):
    assert wilson_interval(successes, total) == pytest.approx((low, high), abs=1e-4)


def test_figures_of_a_hand_made_matrix():
    figures = metrics_from_confusion(MATRIX)
    assert figures["sequences"] == 150
    assert figures["accuracy"]["value"] == pytest.approx(110 / 150)
    assert figures["accuracy"]["successes"] == 110 and figures["accuracy"]["total"] == 150
    per_class = figures["per_class"]
    assert per_class["negative"]["precision"]["value"] == pytest.approx(40 / 55)
    assert per_class["neutral"]["precision"]["value"] == pytest.approx(20 / 30)
    assert per_class["positive"]["precision"]["value"] == pytest.approx(50 / 65)
    assert per_class["negative"]["recall"]["value"] == pytest.approx(40 / 50)
    assert per_class["neutral"]["recall"]["value"] == pytest.approx(20 / 40)
    assert per_class["positive"]["recall"]["value"] == pytest.approx(50 / 60)
    strict = figures["screening"]["positive_vs_negative"]
    assert strict["referred"] == ["positive"]
    assert strict["sensitivity"]["value"] == pytest.approx(50 / 60)
    assert strict["specificity"]["value"] == pytest.approx(45 / 50)  # negatives not called positive
    broad = figures["screening"]["positive_or_neutral_vs_negative"]
    assert broad["sensitivity"]["value"] == pytest.approx(85 / 100)
    assert broad["specificity"]["value"] == pytest.approx(40 / 50)
    assert broad["sensitivity"]["ci95"] == pytest.approx(list(wilson_interval(85, 100)), abs=1e-6)
    legacy = figures["legacy"]
    assert legacy["note"] == LEGACY_NOTE and "negative-class recall" in legacy["note"]
    assert legacy["sensitivity_negative_class_recall"]["value"] == pytest.approx(40 / 50)
    assert legacy["specificity_negative_class_tnr"]["value"] == pytest.approx(85 / 100)
    assert figures["confusion_matrix"]["rows_truth_columns_predicted"] == MATRIX.tolist()
    assert figures["confusion_matrix"]["labels"] == ["negative", "neutral", "positive"]


def test_per_class_figures_and_macro_f1_agree_with_scikit_learn():
    truth = np.repeat(np.arange(3), MATRIX.sum(1))
    predicted = np.concatenate([np.repeat(np.arange(3), row) for row in MATRIX])
    precision, recall, f1, _ = precision_recall_fscore_support(truth, predicted)
    figures = metrics_from_confusion(MATRIX)
    for index, label in enumerate(LABELS):
        scores = figures["per_class"][label.value]
        assert scores["precision"]["value"] == pytest.approx(precision[index])
        assert scores["recall"]["value"] == pytest.approx(recall[index])
        assert scores["f1"] == pytest.approx(f1[index], abs=1e-6)
    assert figures["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))


def test_calling_everyone_negative_gets_the_papers_perfect_sensitivity_and_none_real():
    # The test-set sizes of Scoliosis1K (1:1:8): 204 negative, 126 neutral, 419 positive.
    everyone_negative = np.array([[204, 0, 0], [126, 0, 0], [419, 0, 0]])
    figures = metrics_from_confusion(everyone_negative)
    assert figures["legacy"]["sensitivity_negative_class_recall"]["value"] == 1.0
    assert figures["legacy"]["specificity_negative_class_tnr"]["value"] == 0.0
    assert figures["screening"]["positive_vs_negative"]["sensitivity"]["value"] == 0.0
    assert figures["per_class"]["positive"]["precision"]["value"] is None  # never predicted
    assert figures["per_class"]["positive"]["f1"] == 0.0
    assert figures["accuracy"]["value"] == pytest.approx(204 / 749)


def test_confusion_matrix_counts_truth_by_prediction():
    truth = [Label.POSITIVE, Label.POSITIVE, Label.NEGATIVE, Label.NEUTRAL]
    predicted = [Label.POSITIVE, Label.NEUTRAL, Label.NEGATIVE, Label.POSITIVE]
    assert confusion_matrix(truth, predicted).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    with pytest.raises(ValueError):
        metrics_from_confusion(np.ones((2, 2)))


@pytest.fixture(scope="module")
def toy_test_split(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    counts = {Label.NEGATIVE: 2, Label.NEUTRAL: 1, Label.POSITIVE: 1}
    partition = write_toy_dataset(root, {Label.NEGATIVE: 1}, counts, frames=40)
    return SilhouetteDataset.open(root, partition, Split.TEST)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return random_classifier(seed=5)


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_every_protocol_matches_the_classifier(toy_test_split, classifier, monkeypatch):
    monkeypatch.setattr(evaluation, "WHOLE_SEQUENCE_LIMIT", 25)  # the paper's limit is 720
    report = evaluation.evaluate(classifier, toy_test_split)
    assert report["data"]["counts"] == {"negative": 2, "neutral": 1, "positive": 1}
    assert set(report["protocols"]) == {"sequence", "clips", "consecutive"}
    consecutive = Classifier(classifier.model, classifier.metadata, classifier.sha256,
                             clip_sampling="consecutive")  # fmt: skip
    for row, index in zip(report["sequences"], range(len(toy_test_split)), strict=True):
        stored = toy_test_split.frames(index)
        clips = classifier.predict(stored).probabilities  # the verdicts' (spread) clips
        in_a_row = consecutive.predict(stored).probabilities
        whole = classifier.predict(stored[:25]).whole_sequence  # only the first 25 frames
        expectations = (("clips", clips), ("consecutive", in_a_row), ("sequence", whole))
        for protocol, expected in expectations:
            probabilities = row[protocol]["probabilities"]
            for label in LABELS:
                assert probabilities[label.value] == pytest.approx(expected[label], abs=1e-5)
            assert row[protocol]["predicted"] == max(expected, key=expected.get).value
    for figures in report["protocols"].values():
        matrix = np.array(figures["confusion_matrix"]["rows_truth_columns_predicted"])
        assert matrix.sum() == 4 and matrix.sum(1).tolist() == [2, 1, 1]


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_one_protocol_only(toy_test_split, classifier):
    report = evaluation.evaluate(classifier, toy_test_split, [Protocol.CLIPS])
    assert list(report["protocols"]) == ["clips"] and "sequence" not in report["sequences"][0]


@pytest.fixture(scope="module")
def weights(tmp_path_factory, classifier):
    path = tmp_path_factory.mktemp("weights") / "random.safetensors"
    return save_checkpoint(path, classifier.model, classifier.metadata)


def test_screen_evaluate_writes_json_plot_and_a_readable_table(
    toy_test_split, weights, tmp_path, capsys
):
    arguments = ["evaluate", str(toy_test_split.root), "--partition"]
    arguments += [str(toy_test_split.partition.path), "--weights", str(weights)]
    arguments += ["--json", str(tmp_path / "report.json"), "--plot", str(tmp_path / "cm.png")]
    assert main(arguments) == 0
    printed = capsys.readouterr().out
    assert "legacy 'sensitivity' = negative-class recall" in printed
    assert "sensitivity (refer positive or neutral)" in printed
    assert "confusion matrix" in printed and "accuracy" in printed
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["model"]["name"] == "sconet-random"
    assert report["protocols"]["sequence"]["sequences"] == 4
    assert (tmp_path / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_screen_evaluate_json_to_stdout_is_only_json(toy_test_split, weights, capsys):
    arguments = ["evaluate", str(toy_test_split.root), "--partition"]
    arguments += [str(toy_test_split.partition.path), "--weights", str(weights)]
    assert main(arguments + ["--protocol", "sequence", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["protocols"]) == ["sequence"]


@pytest.mark.parametrize(
    "option, value, message",
    [("--protocol", "paper", "--protocol must be one of"), ("--split", "dev", "--split must")],
)
def test_screen_evaluate_refuses_unknown_choices(
    toy_test_split, weights, capsys, option, value, message
):
    arguments = ["evaluate", str(toy_test_split.root), "--partition"]
    arguments += [str(toy_test_split.partition.path), "--weights", str(weights), option, value]
    assert main(arguments) != 0
    assert message in capsys.readouterr().err
