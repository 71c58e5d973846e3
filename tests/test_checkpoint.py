"""Checkpoints load strictly and safely; class orders are named, never guessed."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from screen.errors import CheckpointError
from screen.model.checkpoint import (
    ModelMetadata,
    load_checkpoint,
    load_opengait_checkpoint,
    save_checkpoint,
)
from screen.model.classes import ClassOrder, Label
from screen.model.classify import Classifier
from screen.model.sconet import ScoNet


def trained_looking_model(seed: int = 0) -> ScoNet:
    """A random model whose BN statistics are not the defaults, so a lost key would show."""
    torch.manual_seed(seed)
    model = ScoNet()
    for name, buffer in model.named_buffers():
        if name.endswith("running_mean"):
            buffer.normal_(0, 0.1)
        elif name.endswith("running_var"):
            buffer.uniform_(0.5, 1.5)
    return model.eval()


def metadata(order: ClassOrder = ClassOrder.CURRENT) -> ModelMetadata:
    return ModelMetadata(
        name="test-model",
        class_order=order,
        trained_on="nothing",
        clinical=False,
        provenance="unit test",
    )


def save_opengait(path: Path, model: ScoNet) -> Path:
    torch.save(
        {"model": model.state_dict(), "iteration": 20000, "optimizer": {}, "scheduler": {}}, path
    )
    return path


def sequence(frames: int = 40, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    stored = np.zeros((frames, 64, 64), np.uint8)
    for t in range(frames):
        width = 12 + int(6 * np.sin(t / 3))
        stored[t, 2:62, 32 - width // 2 : 32 + width // 2] = 255
        stored[t] = np.where(rng.random((64, 64)) < 0.02, 255 - stored[t], stored[t])
    return stored


def test_opengait_checkpoint_loads_strictly(tmp_path):
    model = trained_looking_model()
    loaded = load_opengait_checkpoint(save_opengait(tmp_path / "ScoNet-20000.pt", model))
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


def test_a_data_parallel_checkpoint_gives_the_same_verdict_as_a_plain_one(tmp_path):
    model = trained_looking_model()
    save_opengait(tmp_path / "plain.pt", model)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}  # as DataParallel saves
    torch.save({"model": state}, tmp_path / "dp.pt")
    plain = Classifier.from_file(tmp_path / "plain.pt", ClassOrder.CURRENT).predict(sequence())
    parallel = Classifier.from_file(tmp_path / "dp.pt", ClassOrder.CURRENT).predict(sequence())
    assert parallel.label is plain.label
    for label in Label:
        assert parallel.probabilities[label] == pytest.approx(plain.probabilities[label], abs=1e-6)


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_legacy_order_and_permuted_current_order_give_the_same_named_probabilities(tmp_path):
    model = trained_looking_model()
    save_opengait(tmp_path / "legacy.pt", model)
    permuted = trained_looking_model()
    # legacy index: 0 neg, 1 pos, 2 neutral -> current index: 0 neg, 1 neutral, 2 pos
    with torch.no_grad():
        permuted.BNNecks.fc_bin.copy_(model.BNNecks.fc_bin[:, :, [0, 2, 1]])
    save_opengait(tmp_path / "current.pt", permuted)
    legacy = Classifier.from_file(tmp_path / "legacy.pt", ClassOrder.LEGACY).predict(sequence())
    current = Classifier.from_file(tmp_path / "current.pt", ClassOrder.CURRENT).predict(sequence())
    for label in Label:
        assert legacy.probabilities[label] == pytest.approx(current.probabilities[label], abs=1e-6)
    # and stating the wrong order really changes the answer
    wrong = Classifier.from_file(tmp_path / "legacy.pt", ClassOrder.CURRENT).predict(sequence())
    assert wrong.probabilities[Label.POSITIVE] != pytest.approx(
        legacy.probabilities[Label.POSITIVE], abs=1e-4
    )


def test_opengait_checkpoint_without_a_stated_order_is_refused(tmp_path):
    path = save_opengait(tmp_path / "ScoNet.pt", trained_looking_model())
    with pytest.raises(CheckpointError, match="class order"):
        Classifier.from_file(path)


def test_own_format_round_trips_with_metadata(tmp_path):
    model = trained_looking_model()
    path = save_checkpoint(tmp_path / "m.safetensors", model, metadata(ClassOrder.LEGACY))
    loaded, meta = load_checkpoint(path)
    assert meta == metadata(ClassOrder.LEGACY)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


def test_half_precision_file_keeps_predictions(tmp_path):
    model = trained_looking_model()
    full = Classifier.from_file(save_checkpoint(tmp_path / "full.safetensors", model, metadata()))
    half = Classifier.from_file(
        save_checkpoint(tmp_path / "half.safetensors", model, metadata(), half=True)
    )
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * (
        tmp_path / "full.safetensors"
    ).stat().st_size
    a, b = full.predict(sequence()), half.predict(sequence())
    for label in Label:
        assert a.probabilities[label] == pytest.approx(b.probabilities[label], abs=0.01)


def _one_line(error: Exception) -> str:
    text = str(error)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_corrupt_and_truncated_files_give_one_line_errors(tmp_path, suffix):
    model = trained_looking_model()
    good = tmp_path / f"good{suffix}"
    if suffix == ".pt":
        save_opengait(good, model)
    else:
        save_checkpoint(good, model, metadata())
    truncated = tmp_path / f"truncated{suffix}"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / f"garbage{suffix}"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    for path in (truncated, garbage):
        with pytest.raises(CheckpointError) as caught:
            Classifier.from_file(path, ClassOrder.CURRENT)
        assert str(path) in _one_line(caught.value)


def test_mismatched_checkpoint_names_the_differing_keys(tmp_path):
    state = trained_looking_model().state_dict()
    state["FCs.fc_bin"] = torch.zeros(16, 512, 128)
    del state["BNNecks.bn1d.weight"]
    state["extra.weight"] = torch.zeros(1)
    torch.save({"model": state}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError) as caught:
        load_opengait_checkpoint(tmp_path / "bad.pt")
    message = _one_line(caught.value)
    assert "BNNecks.bn1d.weight" in message and "extra.weight" in message
    assert "FCs.fc_bin has shape [16, 512, 128], expected [16, 512, 256]" in message


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned-by-checkpoint",))


def test_a_pickle_carrying_code_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    with path.open("wb") as handle:
        pickle.dump({"model": _RunsCode()}, handle)
    with pytest.raises(CheckpointError, match="refused"):
        load_opengait_checkpoint(path)
    assert not (tmp_path / "pwned-by-checkpoint").exists()


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        Classifier.from_file(tmp_path / "nowhere.safetensors")
