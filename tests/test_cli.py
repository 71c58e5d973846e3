"""The command line as a user meets it: exit codes, one-line errors, honest output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_checkpoint import metadata, sequence, trained_looking_model

from screen.cli import _route, main
from screen.model.checkpoint import save_checkpoint
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
    # 50 frames: one clip of 30 spread over the walk (the k-th frame of 30 segments)
    clips = [(c["start_frame"], c["stop_frame"]) for c in result["clips"]]
    assert clips == [(0, 49)]
    in_a_row = ["--clip-sampling", "consecutive", "--json", "-"]
    assert main(["classify", str(pkl), "--weights", str(checkpoint), *in_a_row]) == 0
    result = json.loads(capsys.readouterr().out)
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


# Usage errors: every command answers a mistyped option or a missing argument with click's
# short usage message and exit code 2, never a traceback (typer's vendored click once slipped
# past the CLI's handler).  Paths that must exist are the test's tmp_path ("{tmp}").
COMMANDS_MISSING = [
    # (command, the rest of a line that lacks one required argument or option)
    (["video"], []),
    (["batch"], []),
    (["batch"], ["{tmp}"]),  # no --out
    (["silhouettes"], []),
    (["silhouettes"], ["{tmp}"]),  # no --out
    (["classify"], []),
    (["train"], []),
    (["train"], ["{tmp}", "--out", "{tmp}/run"]),  # no --partition
    (["evaluate"], []),
    (["calibrate"], []),
    (["calibrate"], ["{tmp}", "--partition", "{tmp}/p.json"]),  # no --out
    (["demo-weights"], []),
    (["demo-card"], []),
    (["weights", "download"], []),
    (["weights", "forget"], []),
    (["weights", "import"], []),
    (["phantom", "video"], []),
    (["phantom", "video"], ["{tmp}/walk.mp4", "--seed", "1"]),  # no --label
    (["phantom", "dataset"], []),
    (["phantom", "videoset"], []),
    (["phantom", "videoset"], ["{tmp}/set"]),  # no --from
]
COMMANDS = sorted({tuple(command) for command, _ in COMMANDS_MISSING}) + [
    ("weights", "list"),
    ("weights", "verify"),
    ("weights",),
    ("phantom",),
]


def _usage_error(capsys, argv, code=2):
    assert main(argv) == code
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    assert "--help" in text and "Usage: screen" in text
    assert len(text.strip().splitlines()) <= 6, text  # short: usage, hint, error
    return captured.err


def test_every_command_is_in_the_tables():
    import typer

    from screen.cli import app

    def leaves(command, path=()):
        subcommands = getattr(command, "commands", None)
        if not subcommands:
            return {path}
        found = {path}
        for name, sub in subcommands.items():
            found |= leaves(sub, (*path, name))
        return found

    assert leaves(typer.main.get_command(app)) - {()} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_mistyped_option_is_a_usage_error(capsys, command):
    err = _usage_error(capsys, [*command, "--bogus"])
    assert "No such option: --bogus" in err
    assert f"screen {' '.join(command)} --help" in err


@pytest.mark.parametrize(
    "command, rest", COMMANDS_MISSING, ids=lambda x: " ".join(x) if x else "nothing"
)
def test_a_missing_argument_is_a_usage_error(tmp_path, capsys, command, rest):
    rest = [arg.format(tmp=tmp_path) for arg in rest]
    assert "Missing" in _usage_error(capsys, [*command, *rest])


def test_a_routed_video_line_gets_usage_errors_too(capsys):
    assert "No such option: --bogus" in _usage_error(capsys, ["walk.mp4", "--bogus"])
    assert "Missing argument" in _usage_error(capsys, ["--json", "-"])


def test_no_arguments_shows_the_help(capsys):
    code = main([])
    captured = capsys.readouterr()
    assert code in (0, 2)
    assert "Traceback" not in captured.out + captured.err
    assert "Commands:" in captured.out + captured.err


@pytest.mark.parametrize(
    "argv, fixed",
    [
        (["-x.mp4"], "screen -- -x.mp4"),
        (["--json", "-", "-x.mp4"], "screen --json - -- -x.mp4"),
        (["classify", "-walk.pkl"], "screen classify -- -walk.pkl"),
    ],
)
def test_a_file_named_with_a_dash_gets_a_hint(capsys, argv, fixed):
    err = _usage_error(capsys, argv)
    assert f"No such option: {argv[-1]}" in err and f"`{fixed}`" in err


def test_a_file_named_with_a_dash_after_double_dash_is_screened(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _route(["--", "-x.mp4"], {"video"}) == ["video", "--", "-x.mp4"]
    assert main(["--", "-x.mp4"]) == 1  # reaches the video command: the file is not there
    err = capsys.readouterr().err
    assert err.startswith("screen: error: -x.mp4") and "no such file" in err
    (tmp_path / "-walk.pkl").write_text("hello")
    assert main(["classify", "--", "-walk.pkl"]) != 0
    assert "pickle" in capsys.readouterr().err  # read as a file, not as an option


def test_the_console_script_prints_no_traceback(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("screen")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable}")
    run = subprocess.run(
        [str(script), "batch", "--bogus"], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "No such option: --bogus" in run.stderr
    assert "Try 'screen batch --help' for help." in run.stderr
