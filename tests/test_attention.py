"""Attention maps: where the model looked, computed as the verdict saw the silhouettes."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from screen.cli import main
from screen.errors import FileProblem
from screen.model.attention import attention_maps, frame_attention, upsample, vertical_profile
from screen.model.classify import load_classifier, make_clips
from screen.outputs.explain import ARRAYS_FILE, MAP_FILE, SHEET_FILE, write_explanation
from screen.phantom import render_masks, sample_walker
from screen.phantom.dataset import DATASET_SIZE
from screen.silhouettes.normalize import normalize_sequence

#: Every posture asymmetry of a phantom, set to none (a symmetric walker).
SYMMETRIC = dict(
    shoulder_height_cm=0.0, trunk_shift_cm=0.0, trunk_lean_deg=0.0, thoracic_rotation_deg=0.0,
    pelvic_obliquity_deg=0.0, waist_asymmetry_cm=0.0, head_tilt_deg=0.0, arm_swing_ratio=1.0,
)  # fmt: skip
ROWS = np.arange(64)


@pytest.fixture(scope="module")
def demo():
    """The committed demo model, in fp32 so that the numbers do not depend on the CPU."""
    return load_classifier(precision="fp32")


def phantom(seed: int, frames: int = 30, view: str = "front", **asymmetry) -> np.ndarray:
    """Stored silhouettes of one walker, symmetric but for the asymmetry given."""
    params = sample_walker("negative", seed)
    posture = dataclasses.replace(params.posture, **{**SYMMETRIC, **asymmetry})
    masks = render_masks(dataclasses.replace(params, posture=posture), frames=frames,
                         size=DATASET_SIZE, view=view, scale=0.25)  # fmt: skip
    return normalize_sequence(masks).frames


@pytest.fixture(scope="module")
def walk_maps(demo):
    """One walker's 65 silhouettes (two spread clips) and their maps."""
    stored = phantom(1, frames=65)
    return stored, attention_maps(demo, stored)


def centre_row(profile: np.ndarray) -> float:
    return float((profile * ROWS).sum() / profile.sum())


def test_a_frame_map_is_the_channel_sum_of_squares_where_the_features_fire():
    features = torch.zeros(2, 512, 16, 11)
    features[0, :, 3, 7] = 1.0  # frame 0 fires at one place
    features[1, :8, 12, 2] = -2.0  # frame 1 elsewhere, fewer channels, negative
    maps = frame_attention(features)
    assert torch.allclose(maps.sum((1, 2)), torch.ones(2))
    assert maps[0, 3, 7] == 1 and maps[1, 12, 2] == 1
    big = upsample(maps.numpy(), (64, 44))
    assert np.allclose(big.sum((1, 2)), 1, atol=1e-5)
    for frame, (row, col) in enumerate([(3, 7), (12, 2)]):  # 4x: the cell's centre pixels
        peak = np.unravel_index(big[frame].argmax(), big[frame].shape)
        assert abs(peak[0] - (4 * row + 1.5)) <= 1 and abs(peak[1] - (4 * col + 1.5)) <= 1


def test_maps_follow_the_verdicts_clips(demo, walk_maps):
    stored, maps = walk_maps
    clips = make_clips(len(stored), demo.clip_length, demo.clip_stride, demo.clip_sampling)
    assert len(maps.clips) == len(clips) == 2  # spread clips, as the verdict has them
    assert all(np.array_equal(a, b) for a, b in zip(maps.clip_frames, clips, strict=True))
    assert maps.sequence.shape == maps.mean_silhouette.shape == (64, 44)
    assert np.isclose(maps.sequence.sum(), 1, atol=1e-4)
    assert maps.clip_silhouettes.shape == maps.clips.shape == (2, 64, 44)
    # the body draws the attention, not the empty background
    body = maps.mean_silhouette > 0.5
    assert maps.sequence[body].mean() > 2 * maps.sequence[~body].mean()


def where_it_moved(demo, seed: int, view: str = "front") -> tuple[dict, dict]:
    """Shoulders only vs pelvis only, each against the same walker held symmetric: the centre
    row of the change of the map, and of the change of the silhouettes."""
    walkers = {
        "symmetric": phantom(seed, view=view),
        "shoulders": phantom(seed, view=view, shoulder_height_cm=8.0),
        "pelvis": phantom(seed, view=view, pelvic_obliquity_deg=12.0),
    }
    maps = {name: attention_maps(demo, stored).sequence for name, stored in walkers.items()}
    moved, changed = {}, {}
    for name in ("shoulders", "pelvis"):
        moved[name] = centre_row(np.abs(maps[name] - maps["symmetric"]).sum(1))
        silhouettes = walkers[name].astype(float) - walkers["symmetric"]
        changed[name] = centre_row(np.abs(silhouettes).sum((0, 2)))
    return moved, changed


def test_the_map_moves_to_the_rows_where_the_posture_differs(demo):
    """Where the map changes follows where the silhouettes changed: higher up for the
    shoulders than for the pelvis (centre rows 24.1 vs 34.0 here; the twelve walkers of
    the slow test below: gaps of 5.0 to 16.0 rows)."""
    moved, changed = where_it_moved(demo, 0)
    assert changed["shoulders"] + 5 < changed["pelvis"], changed  # the inputs differ so
    assert moved["shoulders"] + 3 < moved["pelvis"], (moved, changed)


@pytest.mark.slow
@pytest.mark.parametrize(
    "seed, view", [(seed, "front") for seed in range(8)] + [(seed, "side") for seed in range(4)]
)
def test_the_map_moves_with_the_posture_for_many_walkers(demo, seed, view):
    moved, changed = where_it_moved(demo, seed, view)
    assert moved["shoulders"] + 3 < moved["pelvis"], (moved, changed)


def test_a_row_profile_sums_to_one():
    attention = np.zeros((64, 44), np.float32)
    attention[10, :] = 2.0
    profile = vertical_profile(attention)
    assert profile[10] == 1 and np.isclose(profile.sum(), 1)


def test_explain_writes_three_files_inside_its_folder_and_nothing_else(walk_maps, tmp_path):
    import cv2

    maps = walk_maps[1]
    folder = tmp_path / "explained"
    written = write_explanation(maps, folder)
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["explained", MAP_FILE, SHEET_FILE, ARRAYS_FILE]
    )
    assert written["attention"] == str(folder / MAP_FILE)
    picture = cv2.imread(written["attention"])
    assert picture.shape[0] == 64 * 4 and picture.shape[1] > 44 * 4  # upscaled, a colour bar
    sheet = cv2.imread(written["clips"])
    assert sheet.shape[1] > 2 * 44 * 4  # the two clips side by side
    with np.load(written["maps"], allow_pickle=False) as arrays:
        assert arrays["clips"].shape == (2, 64, 44)
        assert np.allclose(arrays["sequence"], maps.sequence)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(FileProblem, match="not a folder"):
        write_explanation(maps, tmp_path / "a-file")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / MAP_FILE).unlink()
    (folder / MAP_FILE).symlink_to(elsewhere / "stolen.png")
    with pytest.raises(FileProblem, match="link"):
        write_explanation(maps, folder)
    assert not any(elsewhere.iterdir())


def test_classify_explain_from_the_command_line(tmp_path, capsys):
    from screen.silhouettes.pickles import write_silhouette_pickle

    pkl = write_silhouette_pickle(tmp_path / "walk.pkl", phantom(3, frames=31))
    folder = tmp_path / "maps"
    assert main(["classify", str(pkl), "--explain", str(folder), "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["explain"] == {
        "attention": str(folder / MAP_FILE),
        "clips": str(folder / SHEET_FILE),
        "maps": str(folder / ARRAYS_FILE),
    }
    assert main(["classify", str(pkl), "--explain", str(pkl)]) == 1
    err = capsys.readouterr().err
    assert "not a folder" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
