"""Training: the recipe's pieces, learning on a toy set, exact resume, config resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from test_dataset import write_toy_dataset

from screen.cli import main
from screen.errors import ScreenError
from screen.model.checkpoint import load_checkpoint, read_opengait_state_dict
from screen.model.classes import ClassOrder, Label
from screen.model.classify import Classifier
from screen.settings import SettingsError, TrainingSettings, resolve
from screen.training.dataset import SilhouetteDataset, Split, read_partition
from screen.training.losses import batch_all_triplet_loss, strip_cross_entropy
from screen.training.sampler import PKSampler, choose, sample_frames
from screen.training.train import checkpoint_path, train


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- sampling -----------------------------------------------------------------------------


def test_pk_batches_hold_p_distinct_ids_and_k_sequences_each():
    subjects = ["a", "a", "a", "b", "c", "c", "d"]  # record index -> subject
    sampler = PKSampler(subjects, ids_per_batch=3, seqs_per_id=2, generator=generator())
    for _ in range(20):
        batch = sampler.next_batch()
        assert len(batch) == 6
        groups = [[subjects[i] for i in batch[k : k + 2]] for k in range(0, 6, 2)]
        assert all(len(set(group)) == 1 for group in groups)  # K sequences of one id
        assert len({group[0] for group in groups}) == 3  # P different ids
        for group_start in range(0, 6, 2):
            pair = batch[group_start : group_start + 2]
            if subjects[pair[0]] == "a":
                assert pair[0] != pair[1]  # enough sequences: drawn without replacement


def test_an_id_with_one_sequence_repeats_it_k_times():
    sampler = PKSampler(["x", "y"], ids_per_batch=2, seqs_per_id=4, generator=generator())
    batch = sampler.next_batch()
    assert sorted(batch) == [0, 0, 0, 0, 1, 1, 1, 1]


def test_frames_are_distinct_unless_the_sequence_is_too_short():
    drawn = sample_frames(100, 30, generator())
    assert len(drawn) == 30 and len(set(drawn)) == 30 and drawn != sorted(drawn)
    short = sample_frames(5, 30, generator())
    assert len(short) == 30 and set(short) <= set(range(5))
    with pytest.raises(ValueError):
        choose(0, 3, generator())


# --- losses -------------------------------------------------------------------------------


def test_strip_cross_entropy_is_the_mean_over_strips_of_scaled_smoothed_ce():
    logits = torch.rand(4, 3, 16) * 2 - 1
    labels = torch.tensor([0, 2, 1, 2])
    per_strip = [
        F.cross_entropy(16 * logits[:, :, p], labels, label_smoothing=0.1) for p in range(16)
    ]
    assert strip_cross_entropy(logits, labels).item() == pytest.approx(
        torch.stack(per_strip).mean().item(), rel=1e-5
    )


def test_triplet_loss_known_values():
    # One strip, 1-D embeddings: subject 0 at 0 and 0.1, subject 1 at 1.0.
    embeddings = torch.tensor([[0.0], [0.1], [1.0]]).view(3, 1, 1)  # [n, c, p]
    subjects = torch.tensor([0, 0, 1])
    loss, active = batch_all_triplet_loss(embeddings, subjects, margin=0.2)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)  # every negative is > margin further
    assert active == 0.0
    embeddings = torch.tensor([[0.0], [0.3], [0.4]]).view(3, 1, 1)
    loss, active = batch_all_triplet_loss(embeddings, subjects, margin=0.2)
    # Violating triples (anchor, pos, neg): (0,1,2): .3-.4+.2=.1; (1,0,2): .3-.1+.2=.4;
    # (1,1,2): 0-.1+.2=.1; (0,0,2): 0-.4+.2 -> 0 is not; anchor 2 has no negative-subject pos
    # other than itself: (2,2,0): 0-.4+.2 -> 0, (2,2,1): 0-.1+.2=.1.
    assert loss.item() == pytest.approx((0.1 + 0.4 + 0.1 + 0.1) / 4, abs=1e-5)
    assert active == pytest.approx(4 / 6)


def test_triplet_gradients_are_finite_for_identical_embeddings():
    embeddings = torch.ones(4, 8, 16, requires_grad=True)
    loss, _ = batch_all_triplet_loss(embeddings, torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert loss.item() == pytest.approx(0.2, abs=1e-5)
    assert torch.isfinite(embeddings.grad).all()


# --- configuration ------------------------------------------------------------------------


def test_flags_beat_the_file_and_the_file_beats_defaults(tmp_path):
    config = tmp_path / "train.toml"
    config.write_text('lr = 0.05\nbatch = "4x2"\nmilestones = [100, 200]\nframes = 20\n')
    resolved = resolve(TrainingSettings, {"frames": 10, "lr": None, "model": "sconet"}, config)
    assert resolved.lr == 0.05  # file (flag not given)
    assert resolved.batch == (4, 2) and resolved.milestones == (100, 200)
    assert resolved.frames == 10  # flag beats file
    assert resolved.model == "sconet"
    assert resolved.momentum == 0.9 and resolved.iterations == 20_000  # defaults
    assert TrainingSettings.of(milestones="5,9").milestones == (5, 9)


def test_the_defaults_are_the_papers_recipe():
    config = TrainingSettings()
    assert (config.model, config.iterations, config.batch, config.frames) == (
        "sconet-mt",
        20_000,
        (8, 8),
        30,
    )
    assert (config.lr, config.momentum, config.weight_decay) == (0.1, 0.9, 5e-4)
    assert config.milestones == (10_000, 14_000, 18_000) and config.gamma == 0.1
    assert (config.logit_scale, config.label_smoothing, config.margin) == (16.0, 0.1, 0.2)


@pytest.mark.parametrize(
    "text, error, message",
    [
        ("lr = 0.1\nlearning_rate = 0.2\n", SettingsError, "unknown setting 'learning_rate'"),
        ("lr = 'fast'\n", SettingsError, "lr = 'fast' has the wrong type (expected float)"),
        ("iterations = 1.5\n", SettingsError, "iterations = 1.5 has the wrong type"),
        ("milestones = 'soon'\n", SettingsError, "list of integers"),
        ("batch = '8by8'\n", SettingsError, "batch must look like 8x8"),
        ("model = 'gaitset'\n", SettingsError, "model must be one of"),
        ("milestones = [14000, 10000]\n", SettingsError, "increasing"),
        ("iterations = 0\n", SettingsError, "iterations must be at least 1"),
        ("lr = [\n", SettingsError, "not a readable TOML file"),
        ("[training]\nlr = 0.2\n[oops]\nx = 1\n", SettingsError, "unknown setting 'oops'"),
    ],
)
def test_bad_settings_are_refused_with_the_key_named(tmp_path, text, error, message):
    config = tmp_path / "train.toml"
    config.write_text(text)
    with pytest.raises(error) as caught:
        resolve(TrainingSettings, config=config)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2  # a usage error, like every other command's


def test_batch_parsing():
    assert TrainingSettings.of(batch="8x8").batch == (8, 8)
    assert TrainingSettings.of(batch=[2, 3]).batch == (2, 3)
    with pytest.raises(SettingsError):
        TrainingSettings.of(batch="8x8x2")


# --- training on a toy set ----------------------------------------------------------------


@pytest.fixture
def two_walkers(tmp_path) -> SilhouetteDataset:
    """One negative and one positive walker of 4 frames: every batch sees the same frames."""
    partition = write_toy_dataset(
        tmp_path / "two", {Label.NEGATIVE: 1, Label.POSITIVE: 1}, {}, frames=4
    )
    return SilhouetteDataset.open(tmp_path / "two", partition, Split.TRAIN)


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_the_loss_falls_and_training_accuracy_rises(two_walkers, tmp_path):
    # A 2x2 batch is far below the paper's 8x8: its lr is scaled down to stay stable.
    config = TrainingSettings(
        iterations=8, batch=(2, 2), frames=4, lr=0.001, milestones=(), precision="fp32"
    )
    result = train(two_walkers, config, tmp_path / "run")
    first, last = result.history[0], result.history[-1]
    assert last["loss"] < 0.5 * first["loss"]
    assert last["cross_entropy"] < 0.5 * first["cross_entropy"]
    assert last["accuracy"] > first["accuracy"] and last["accuracy"] >= 0.9


@pytest.fixture(scope="module")
def toy_split(tmp_path_factory) -> SilhouetteDataset:
    root = tmp_path_factory.mktemp("toy")
    counts = {Label.NEGATIVE: 2, Label.NEUTRAL: 1, Label.POSITIVE: 1}
    partition = write_toy_dataset(root, counts, {Label.NEGATIVE: 1}, frames=12)
    return SilhouetteDataset.open(root, partition, Split.TRAIN)


def _config(**changes) -> TrainingSettings:
    settings = dict(
        iterations=4,
        batch=(2, 2),
        frames=5,
        lr=0.001,
        milestones=(2, 3),
        save_every=2,
        threads=2,
        trained_on="toy rectangles",
    )
    return TrainingSettings(**(settings | changes))


@pytest.fixture(scope="module")
def straight_run(toy_split, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    return out, train(toy_split, _config(), out, command="screen train toy")


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_resuming_reproduces_an_uninterrupted_run_exactly(toy_split, straight_run, tmp_path):
    out, straight = straight_run
    half = train(toy_split, _config(iterations=2), tmp_path)
    assert half.checkpoint == checkpoint_path(tmp_path, _config(), 2)
    resumed = train(toy_split, _config(), tmp_path, resume=half.checkpoint)
    assert [h["iteration"] for h in resumed.history] == [3, 4]
    log = (tmp_path / "train_log.jsonl").read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in log] == [1, 2, 3, 4]  # appended on resume
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history[2:]]
    expected = torch.load(straight.checkpoint, weights_only=True)
    actual = torch.load(resumed.checkpoint, weights_only=True)
    for key, value in expected["model"].items():
        assert torch.equal(value, actual["model"][key]), key
    for index, state in expected["optimizer"]["state"].items():
        assert torch.equal(
            state["momentum_buffer"], actual["optimizer"]["state"][index]["momentum_buffer"]
        )
    assert actual["iteration"] == 4 and actual["scheduler"] == expected["scheduler"]


def test_checkpoints_have_opengaits_layout_and_load_safely(straight_run):
    out, result = straight_run
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "sconet-mt-00002.pt",
        "sconet-mt-00004.pt",
    ]
    payload = torch.load(result.checkpoint, weights_only=True)
    assert {"model", "optimizer", "scheduler", "iteration"} <= set(payload)
    assert payload["iteration"] == 4 and payload["config"]["batch"] == [2, 2]
    state_dict = read_opengait_state_dict(result.checkpoint)
    classifier = Classifier.from_file(result.checkpoint, ClassOrder.CURRENT)
    assert torch.equal(classifier.model.state_dict()["FCs.fc_bin"], state_dict["FCs.fc_bin"])


def test_the_learning_rate_follows_the_milestones(straight_run):
    _, result = straight_run
    assert [h["lr"] for h in result.history] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-5])


def test_the_export_carries_metadata_and_the_trained_weights(toy_split, straight_run):
    out, result = straight_run
    model, metadata = load_checkpoint(result.exported)
    assert result.exported == out / "sconet-mt.safetensors"
    assert metadata.class_order is ClassOrder.CURRENT and metadata.clinical is False
    assert metadata.trained_on == "toy rectangles"
    assert "screen train toy" in metadata.provenance
    assert toy_split.partition.sha256 in metadata.provenance
    assert metadata.extra["train_counts"] == {"negative": 2, "neutral": 1, "positive": 1}
    trained = torch.load(result.checkpoint, weights_only=True)["model"]
    assert torch.equal(model.state_dict()["BNNecks.fc_bin"], trained["BNNecks.fc_bin"])


def test_resuming_with_other_settings_is_refused(toy_split, straight_run, tmp_path):
    _, result = straight_run
    with pytest.raises(SettingsError, match="lr: 0.001 -> 0.002"):
        train(toy_split, _config(lr=0.002, iterations=6), tmp_path, resume=result.checkpoint)
    with pytest.raises(SettingsError, match="already at iteration 4"):
        train(toy_split, _config(), tmp_path, resume=result.checkpoint)


def test_training_uses_every_core_even_after_something_set_one_thread(toy_split, tmp_path):
    torch.set_num_threads(1)
    train(toy_split, _config(iterations=1, threads=0), tmp_path)
    import os

    assert torch.get_num_threads() == len(os.sched_getaffinity(0))


def test_screen_train_prints_counts_and_writes_the_model(toy_split, tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text('batch = "2x2"\nframes = 4\nlr = 0.001\nmilestones = []\n')
    root, partition = toy_split.root, toy_split.partition.path
    code = main(
        [
            "train",
            str(root),
            "--partition",
            str(partition),
            "--out",
            str(tmp_path / "cli"),
            "--config",
            str(config),
            "--iterations",
            "2",
            "--model",
            "sconet",
            "--name",
            "tiny",
            "--trained-on",
            "toy",
            "--also",  # the same walkers again, as the front end's export would add them
            str(root),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "sequences per class and split" in printed and "2 iterations" in printed
    _, metadata = load_checkpoint(tmp_path / "cli" / "tiny.safetensors")
    assert metadata.name == "tiny" and metadata.extra["config"]["model"] == "sconet"
    assert "--iterations 2" in metadata.provenance and f"--also {root}" in metadata.provenance
    training_sequences = len(SilhouetteDataset.open(root, partition, "train"))
    assert sum(metadata.extra["train_counts"].values()) == 2 * training_sequences
    assert read_partition(partition).sha256 in metadata.provenance


def test_screen_train_reports_a_bad_layout_in_one_line(toy_split, tmp_path, capsys):
    partition = tmp_path / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": ["99999"], "TEST_SET": []}))
    code = main(
        ["train", str(toy_split.root), "--partition", str(partition), "--out", str(tmp_path)]
    )
    error = capsys.readouterr().err.strip()
    assert code != 0
    assert error.count("\n") == 0 and "99999" in error and "absent" in error


def test_a_bad_flag_is_an_error_not_a_traceback(toy_split, tmp_path, capsys):
    code = main(
        [
            "train",
            str(toy_split.root),
            "--partition",
            str(toy_split.partition.path),
            "--out",
            str(tmp_path),
            "--batch",
            "eight",
        ]
    )
    assert code == SettingsError.exit_code
    assert "batch must look like 8x8" in capsys.readouterr().err
    assert issubclass(SettingsError, ScreenError)


def test_exported_names_are_under_the_output_folder(straight_run):
    out, result = straight_run
    assert Path(result.exported).parent == out and out in Path(result.checkpoint).parents


def test_mask_noise_is_recorded_and_an_older_checkpoint_without_it_still_resumes(
    toy_split, tmp_path
):
    noisy = train(toy_split, _config(iterations=2, mask_noise=0.5), tmp_path / "noisy")
    saved = torch.load(noisy.checkpoint, weights_only=True)
    assert saved["config"]["mask_noise"] == 0.5
    plain = train(toy_split, _config(iterations=2), tmp_path / "plain")
    old = torch.load(plain.checkpoint, weights_only=True)
    del old["config"]["mask_noise"]  # as saved before the setting existed
    torch.save(old, tmp_path / "old.pt")
    resumed = train(
        toy_split, _config(iterations=3), tmp_path / "plain", resume=tmp_path / "old.pt"
    )
    assert [h["iteration"] for h in resumed.history] == [3]
    with pytest.raises(SettingsError, match="mask_noise"):
        train(
            toy_split,
            _config(iterations=3, mask_noise=0.5),
            tmp_path / "x",
            resume=tmp_path / "old.pt",
        )
