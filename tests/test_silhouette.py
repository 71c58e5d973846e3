"""The one normalisation: known answers on synthetic masks and real OpenGait silhouettes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import walker_mask
from PIL import Image, ImageSequence

from screen.silhouettes.normalize import normalize_sequence, normalize_silhouette, to_model_input


def test_centred_rectangle_fills_the_height_and_is_centred():
    out = normalize_silhouette(walker_mask())
    assert out.shape == (64, 64) and out.dtype == np.uint8
    columns = np.flatnonzero(out.max(axis=0) > 127)
    # Rows are cropped, columns are not: the 300x300 crop becomes 64x64, so the
    # 100-px-wide box becomes about 21 columns, centred on column 32.
    assert 21 <= len(columns) <= 22
    assert 21 <= columns[0] <= 22 and columns[-1] == 42
    assert (out[:, 32] > 127).all()  # every row of the centre column belongs to the person


def test_position_in_the_frame_does_not_matter_even_touching_the_border():
    centred = normalize_silhouette(walker_mask())
    at_left_edge = normalize_silhouette(walker_mask(left=0, top=0))
    at_right_edge = normalize_silhouette(walker_mask(left=200, top=100))
    for moved in (at_left_edge, at_right_edge):
        a, b = centred > 127, moved > 127
        assert (a & b).sum() / (a | b).sum() >= 0.9  # equal up to one column of resampling phase


def test_accepts_bool_and_zero_one_masks_alike():
    mask = walker_mask()
    np.testing.assert_array_equal(normalize_silhouette(mask > 0), normalize_silhouette(mask))
    np.testing.assert_array_equal(
        normalize_silhouette((mask > 0).astype(np.uint8)), normalize_silhouette(mask)
    )


def test_empty_frame_and_tiny_speck_are_dropped():
    assert normalize_silhouette(np.zeros((100, 100), np.uint8)) is None
    speck = np.zeros((100, 100), np.uint8)
    speck[40:45, 40:45] = 255  # 25 px * 255 = 6375 <= 10000
    assert normalize_silhouette(speck) is None


def test_holes_are_kept_not_filled():
    mask = walker_mask()
    mask[150:200, 175:190] = 0  # a hole inside the body
    out = normalize_silhouette(mask)
    inside = out[20:30, 22:43]
    assert inside.min() < 64  # the hole survives normalisation


def test_wide_blob_is_cropped_to_64_columns():
    mask = np.zeros((200, 800), np.uint8)
    mask[50:150, 100:700] = 255  # 6:1 landscape blob -> resized to 64x384 then cut
    out = normalize_silhouette(mask)
    assert out.shape == (64, 64)
    assert (out > 127).all()


def test_sequence_keeps_indices_of_surviving_frames():
    frames = [walker_mask(), np.zeros((400, 300), np.uint8), walker_mask(left=10)]
    sequence = normalize_sequence(frames)
    assert sequence.kept == (0, 2)
    assert sequence.frames.shape == (2, 64, 64)
    assert sequence.suspect  # fewer than 5 frames


def test_model_input_cuts_ten_columns_each_side_and_scales():
    stored = np.zeros((3, 64, 64), np.uint8)
    stored[:, :, 10] = 255
    stored[:, :, 9] = 255  # cut away
    model_input = to_model_input(stored)
    assert model_input.shape == (3, 64, 44) and model_input.dtype == np.float32
    assert model_input[:, :, 0].min() == 1.0 and model_input.sum() == 3 * 64
    with pytest.raises(ValueError, match="side cut"):
        to_model_input(model_input)


@pytest.mark.parametrize("name, frames", [("nm", 60), ("bg", 47), ("cl", 63)])
def test_real_opengait_silhouettes(shared_data, name, frames):
    with Image.open(shared_data / f"opengait_{name}_128.gif") as gif:
        masks = [
            (np.asarray(f.convert("L")) >= 128).astype(np.uint8) * 255
            for f in ImageSequence.Iterator(gif)
        ]
    assert len(masks) == frames
    sequence = normalize_sequence(masks)
    assert len(sequence.frames) >= frames - 2  # real walkers: (almost) nothing dropped
    for stored in sequence.frames:
        rows = np.flatnonzero(stored.max(axis=1) > 127)
        assert rows[0] <= 1 and rows[-1] >= 62  # scaled to the full height
        columns = stored.sum(axis=0).astype(float)
        centre = (columns * np.arange(64)).sum() / columns.sum()
        assert 26 <= centre <= 38  # horizontally centred by mass
