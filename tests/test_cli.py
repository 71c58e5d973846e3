"""The command line as a user meets it: exit codes, one-line errors, honest output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_checkpoint import metadata, sequence, trained_looking_model

from screen.model.checkpoint import save_checkpoint
from screen.cli import _route, main
from screen.silhouettes.pickles import write_silhouette_pickle


@pytest.fixture
def checkpoint(tmp_path):
    return save_checkpoint(tmp_path / "model.safetensors", trained_looking_model(), metadata())


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert "scoliosis-screen" in capsys.readouterr().out
    assert main(["--help"]) == 0
    assert "scoliosis-screen" in capsys.readouterr().out  # the alias is named in the help


def test_a_path_is_routed_to_the_video_command():
    names = {"classify", "video"}
    assert _route(["walk.mp4", "--json", "-"], names) == ["video", "walk.mp4", "--json", "-"]
    assert _route(["classify", "x.pkl"], names) == ["classify", "x.pkl"]
    assert _route(["--help"], names) == ["--help"]


def test_classify_json_names_classes_and_says_not_clinical(tmp_path, checkpoint, capsys):
    pkl = write_silhouette_pickle(tmp_path / "walk.pkl", sequence(50))
    code = main(["classify", str(pkl), "--weights", str(checkpoint), "--json", "-"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["probabilities"]) == {"negative", "neutral", "positive"}
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-4
    assert result["verdict"] in result["probabilities"]
    assert result["model"]["clinical"] is False
    assert "NOT FOR CLINICAL USE" in result["note"]
    assert [clip["start_frame"] for clip in result["clips"]] == [0, 15, 20]


def test_classify_summary_in_the_terminal(tmp_path, checkpoint, capsys):
    pkl = write_silhouette_pickle(tmp_path / "walk.pkl", sequence(20))
    assert main(["classify", str(pkl), "--weights", str(checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "verdict" in out and "NOT FOR CLINICAL USE" in out and "short_sequence" in out


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "make_input, expected",
    [
        (lambda d: d / "missing.pkl", "no such file"),
        (lambda d: _write(d / "text.pkl", "hello"), "pickle"),
        (lambda d: _write(d / "clip.mp3", "x"), "expected a .pkl"),
    ],
)
def test_unreadable_input_is_one_line_on_stderr(tmp_path, checkpoint, capsys, make_input, expected):
    code = main(["classify", str(make_input(tmp_path)), "--weights", str(checkpoint)])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("screen: error:") and expected in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_checkpoint_is_one_line(tmp_path, capsys):
    pkl = write_silhouette_pickle(tmp_path / "walk.pkl", sequence(20))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    assert main(["classify", str(pkl), "--weights", str(bad)]) != 0
    err = capsys.readouterr().err
    assert str(bad) in err and len(err.strip().splitlines()) == 1


def test_classify_reads_phantom_ground_truth_masks(tmp_path, checkpoint, capsys):
    from conftest import walker_mask

    masks = np.stack([walker_mask(left=100 + t) > 0 for t in range(35)])
    np.savez_compressed(tmp_path / "walk.masks.npz", masks=masks)
    assert (
        main(
            [
                "classify",
                str(tmp_path / "walk.masks.npz"),
                "--weights",
                str(checkpoint),
                "--json",
                "-",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["quality"]["silhouettes_used"] == 35
    np.savez(tmp_path / "objects.npz", masks=np.array([{"x": 1}], dtype=object))
    assert main(["classify", str(tmp_path / "objects.npz"), "--weights", str(checkpoint)]) != 0
    assert "not an .npz with a 'masks' array" in capsys.readouterr().err
