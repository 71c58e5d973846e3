"""`screen weights`: downloads from a local HTTP server, verification, refusals, imports.

Nothing here reaches the internet: a server on 127.0.0.1 serves a good file, a
corrupted one, archives and 404s; a closed port stands in for being offline.
"""

from __future__ import annotations

import functools
import io
import json
import os
import pickle
import socket
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from rich.console import Console
from test_checkpoint import save_opengait, sequence, trained_looking_model
from test_specs import places, write_spec  # noqa: F401  (places is a fixture)

import screen._cli.weights as weights_cli
from screen.cli import main
from screen.errors import CheckpointError, ScreenError
from screen.model.checkpoint import ModelMetadata, read_checkpoint_metadata, save_checkpoint
from screen.model.classes import ClassOrder, Label
from screen.model.classify import Classifier, load_classifier
from screen.model.opengait_import import import_opengait
from screen.modelfiles.files import (
    Checksum,
    ChecksumMismatch,
    file_sha256,
    resolve_file,
    trusted_record,
)
from screen.modelfiles.specs import get_spec
from screen.modelfiles.weights import (
    DownloadFailed,
    download,
    download_dir,
    model_status,
    verify_present,
)

GOOD = os.urandom(150_000)
MEMBERS = ["deploy.yaml", "model.pdmodel", "model.pdiparams"]


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, content in entries.items():
            bundle.writestr(name, content)
    return buffer.getvalue()


SERVED = {
    "good.bin": GOOD,
    "corrupt.bin": GOOD[:-10] + b"0123456789",  # same size, different bytes
    "seg.zip": _zip({f"seg_model/{m}": m.encode() * 100 for m in MEMBERS}),
    "flat.zip": _zip({m: m.encode() * 100 for m in MEMBERS}),
    "partial.zip": _zip({"seg_model/deploy.yaml": b"Deploy: {}"}),
    "not-a.zip": b"<html>a login page, not an archive</html>",
}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """http://127.0.0.1:PORT/ serving SERVED; any other path is a 404."""
    root = tmp_path_factory.mktemp("served")
    for name, content in SERVED.items():
        (root / name).write_bytes(content)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def offline_url():
    """A URL on a port nobody listens on: the connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/yolo11n.pt"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for variable in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


def sha(content: bytes) -> str:
    import hashlib

    return hashlib.sha256(content).hexdigest()


def pinned_entry(server: str, name: str = "m.bin") -> dict:
    return {"name": name, "sha256": sha(GOOD), "url": f"{server}/good.bin"}


def leftovers(folder: Path) -> list[str]:
    """Anything a download may leave behind: staging folders, pooch temporaries."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith((".", "tmp")))


# --- downloads -----------------------------------------------------------------


def test_a_pinned_file_is_downloaded_verified_and_reported(places, server):  # noqa: F811
    write_spec(places / "models", "m", [pinned_entry(server)])
    (found,) = download(get_spec("m"), places / "weights")
    assert found.path.read_bytes() == GOOD
    assert (found.checksum, found.sha256) == (Checksum.VERIFIED, sha(GOOD))
    assert resolve_file(get_spec("m")).checksum is Checksum.VERIFIED
    assert leftovers(places / "weights") == []


@pytest.mark.parametrize(
    "served, pinned, expected",
    [
        ("corrupt.bin", True, ["file has sha256", sha(SERVED["corrupt.bin"]), sha(GOOD)]),
        ("missing.bin", True, ["answered HTTP 404", "save it as"]),
        ("missing.bin", False, ["answered HTTP 404", "save it as"]),
    ],
)  # fmt: skip
def test_a_bad_download_is_one_clear_line_and_leaves_nothing(
    places,  # noqa: F811
    server,
    served,
    pinned,
    expected,
):
    url = f"{server}/{served}"
    entry = {"name": "m.bin", "url": url} | ({"sha256": sha(GOOD)} if pinned else {})
    write_spec(places / "models", "m", [entry])
    with pytest.raises(DownloadFailed) as caught:
        download(get_spec("m"), places / "weights")
    message = str(caught.value)
    assert "\n" not in message and url in message
    for fragment in expected:
        assert fragment in message
    assert list((places / "weights").iterdir()) == []  # no half file, no temporary
    assert trusted_record(get_spec("m")) is None


def test_offline_gives_the_url_and_the_exact_place_to_put_the_file(places, offline_url):  # noqa: F811
    write_spec(places / "models", "m", [{"name": "yolo11n.pt", "url": offline_url}])
    with pytest.raises(DownloadFailed) as caught:
        download(get_spec("m"), places / "weights")
    message = str(caught.value)
    assert message == (
        f"cannot download m: {offline_url} is unreachable (Connection refused); "
        f"download it by hand and save it as {places / 'weights' / 'yolo11n.pt'}"
    )
    assert list((places / "weights").iterdir()) == []


def test_first_download_is_recorded_and_a_changed_file_later_is_refused(places, server):  # noqa: F811
    write_spec(places / "models", "m", [{"name": "m.bin", "url": f"{server}/good.bin"}])
    (found,) = download(get_spec("m"), places / "weights")
    assert found.checksum is Checksum.TRUSTED
    record = trusted_record(get_spec("m"))
    assert record["sha256"] == sha(GOOD) and "downloaded from" in record["how"]
    # A good copy is kept without touching the network (the URL now points nowhere).
    write_spec(places / "models", "m", [{"name": "m.bin", "url": f"{server}/gone.bin"}])
    assert download(get_spec("m"), places / "weights")[0].sha256 == sha(GOOD)
    # The server's file changes: a forced download is refused, the good copy stays.
    write_spec(places / "models", "m", [{"name": "m.bin", "url": f"{server}/corrupt.bin"}])
    with pytest.raises(DownloadFailed, match="recorded at first use.*screen weights forget m"):
        download(get_spec("m"), places / "weights", force=True)
    assert (places / "weights" / "m.bin").read_bytes() == GOOD
    assert leftovers(places / "weights") == []


def test_a_tampered_file_is_refused_at_load_time_and_replaced_by_download(places, server):  # noqa: F811
    write_spec(places / "models", "m", [pinned_entry(server)])
    target = places / "weights" / "m.bin"
    target.write_bytes(SERVED["corrupt.bin"])
    with pytest.raises(ChecksumMismatch) as caught:
        resolve_file(get_spec("m"))
    assert (caught.value.expected, caught.value.actual) == (sha(GOOD), sha(SERVED["corrupt.bin"]))
    download(get_spec("m"), places / "weights")  # no --force needed: it is bad
    assert resolve_file(get_spec("m")).checksum is Checksum.VERIFIED


@pytest.mark.parametrize("served", ["seg.zip", "flat.zip"])
def test_an_archive_is_unpacked_into_the_named_folder(places, server, served):  # noqa: F811
    write_spec(
        places / "models",
        "seg",
        [{"name": "seg_model", "url": f"{server}/{served}", "archive": "zip", "members": MEMBERS}],
        kind="segmenter",
    )
    (found,) = download(get_spec("seg"), places / "weights")
    assert found.path == places / "weights" / "seg_model"
    assert sorted(p.name for p in found.path.iterdir()) == sorted(MEMBERS)
    assert found.checksum is Checksum.TRUSTED and found.sha256 == file_sha256(found.path)
    assert trusted_record(get_spec("seg"))["archive_sha256"] == sha(SERVED[served])
    assert resolve_file(get_spec("seg")).sha256 == found.sha256
    assert leftovers(places / "weights") == []


@pytest.mark.parametrize(
    "served, expected",
    [("partial.zip", "lacks model.pdmodel, model.pdiparams"), ("not-a.zip", "not a readable zip")],
)
def test_a_bad_archive_installs_nothing(places, server, served, expected):  # noqa: F811
    write_spec(
        places / "models",
        "seg",
        [{"name": "seg_model", "url": f"{server}/{served}", "archive": "zip", "members": MEMBERS}],
    )
    with pytest.raises(DownloadFailed, match=expected):
        download(get_spec("seg"), places / "weights")
    assert list((places / "weights").iterdir()) == []


def test_ctrl_c_during_a_download_leaves_no_partial_file(places, server, monkeypatch):  # noqa: F811
    import pooch

    def interrupted(self, url, output_file, pooch_, check_only=False):
        Path(output_file).write_bytes(GOOD[:1000])
        raise KeyboardInterrupt

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", interrupted)
    write_spec(places / "models", "m", [{"name": "m.bin", "url": f"{server}/good.bin"}])
    with pytest.raises(KeyboardInterrupt):
        download(get_spec("m"), places / "weights")
    assert list((places / "weights").iterdir()) == []


def test_a_model_made_locally_has_nothing_to_download(places):  # noqa: F811
    write_spec(places / "models", "demo", [{"name": "demo.safetensors"}], source="make demo")
    with pytest.raises(DownloadFailed, match="no download URL: make demo"):
        download(get_spec("demo"), places / "weights")


def test_the_download_folder_is_weights_in_a_checkout_else_the_cache(places, monkeypatch):  # noqa: F811
    assert download_dir() == places / "weights"
    assert download_dir("cache") == places / "cache" / "weights"
    monkeypatch.setenv("SCREEN_WEIGHTS_DIR", str(places / "no-such-folder"))
    assert download_dir() == places / "cache" / "weights"
    with pytest.raises(ScreenError, match="does not exist .* use --dir cache"):
        download_dir("weights")  # never a weights/ folder inside site-packages
    with pytest.raises(ScreenError, match="--dir must be one of"):
        download_dir("elsewhere")


# --- the command line ----------------------------------------------------------


def test_cli_download_offline_prints_one_line_and_fails(places, offline_url, capsys):  # noqa: F811
    write_spec(places / "models", "m", [{"name": "yolo11n.pt", "url": offline_url}])
    assert main(["weights", "download", "m", "--dir", "cache"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert offline_url in err and str(places / "cache" / "weights" / "yolo11n.pt") in err


def test_cli_download_all_fetches_what_it_can_and_reports_the_rest(
    places,  # noqa: F811
    server,
    offline_url,
    capsys,
):
    write_spec(places / "models", "good", [{"name": "good.bin", "url": f"{server}/good.bin"}])
    write_spec(places / "models", "gone", [{"name": "gone.bin", "url": offline_url}])
    write_spec(places / "models", "local", [{"name": "local.bin"}], source="make demo-weights")
    assert main(["weights", "download", "all"]) == 1
    captured = capsys.readouterr()
    assert "good: " in captured.out and "local: no download (make demo-weights)" in captured.out
    assert len(captured.err.strip().splitlines()) == 1 and "gone" in captured.err
    assert (places / "weights" / "good.bin").read_bytes() == GOOD


def test_cli_list_shows_presence_checksum_license_and_clinical(places, server, capsys):  # noqa: F811
    write_spec(places / "models", "here", [pinned_entry(server, "h.bin")], license="AGPL-3.0")
    write_spec(places / "models", "absent", [{"name": "a.bin"}], kind="classifier")
    download(get_spec("here"), places / "weights")
    assert main(["weights", "list", "--json", "-"]) == 0
    rows = {row["model"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    assert rows["here"]["checksum"] == "verified" and rows["here"]["license"] == "AGPL-3.0"
    assert rows["here"]["file"] == str(places / "weights" / "h.bin")
    assert rows["here"]["sha256"] == sha(GOOD)
    assert rows["absent"]["checksum"] == "missing" and rows["absent"]["clinical"] is False
    assert main(["weights", "list"]) == 0
    table = capsys.readouterr().out
    assert "here" in table and "verified" in table and "missing" in table and "AGPL-3.0" in table


def test_cli_verify_reports_a_tampered_file_and_fails(places, server, capsys):  # noqa: F811
    write_spec(places / "models", "m", [{"name": "m.bin", "url": f"{server}/good.bin"}])
    download(get_spec("m"), places / "cache" / "weights")
    assert main(["weights", "verify"]) == 0
    assert "trusted-on-first-use" in capsys.readouterr().out
    tampered = places / "cache" / "weights" / "m.bin"
    stat = tampered.stat()
    tampered.write_bytes(SERVED["corrupt.bin"])  # same size; keep the mtime too
    os.utime(tampered, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert main(["weights", "verify"]) == 1
    captured = capsys.readouterr()
    assert "MISMATCH" in captured.out
    assert str(tampered) in captured.err and sha(SERVED["corrupt.bin"]) in captured.err
    assert [f.checksum for f in verify_present(get_spec("m"))] == [Checksum.MISMATCH]
    # verify corrected the (path, size, mtime) cache, which could not see this change
    assert model_status(get_spec("m")).found.checksum is Checksum.MISMATCH
    assert main(["weights", "forget", "m"]) == 0
    assert main(["weights", "verify"]) == 0  # nothing on record: reported, not refused


# --- a tampered checkpoint at load time ----------------------------------------


def test_a_tampered_classifier_in_weights_is_refused_by_load_classifier(places):  # noqa: F811
    metadata = ModelMetadata("c", ClassOrder.CURRENT, "nothing", False, "test")
    checkpoint = save_checkpoint(
        places / "weights" / "c.safetensors", trained_looking_model(), metadata, half=True
    )
    good = file_sha256(checkpoint)
    write_spec(
        places / "models", "c", [{"name": "c.safetensors", "sha256": good}], kind="classifier"
    )
    assert load_classifier(spec_name="c").sha256 == good
    data = bytearray(checkpoint.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte in the weights
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch, match="c.safetensors"):
        load_classifier(spec_name="c")


# --- importing OpenGait checkpoints --------------------------------------------


@pytest.mark.slow  # kept out of `make test`; `make test-all` runs it
def test_import_with_either_class_order_gives_the_same_named_probabilities(tmp_path):
    model = trained_looking_model()
    save_opengait(tmp_path / "legacy.pt", model)
    permuted = trained_looking_model()
    with torch.no_grad():  # legacy (neg, pos, neutral) -> current (neg, neutral, pos)
        permuted.BNNecks.fc_bin.copy_(model.BNNecks.fc_bin[:, :, [0, 2, 1]])
    save_opengait(tmp_path / "current.pt", permuted)
    out = tmp_path / "out"
    legacy = import_opengait(tmp_path / "legacy.pt", ClassOrder.LEGACY, out, "a")
    current = import_opengait(tmp_path / "current.pt", ClassOrder.CURRENT, out, "b")
    a = Classifier.from_file(legacy.path).predict(sequence())
    b = Classifier.from_file(current.path).predict(sequence())
    for label in Label:
        assert a.probabilities[label] == pytest.approx(b.probabilities[label], abs=1e-6)
    wrong = import_opengait(tmp_path / "legacy.pt", ClassOrder.CURRENT, out, "wrong")
    c = Classifier.from_file(wrong.path).predict(sequence())
    assert c.probabilities[Label.POSITIVE] != pytest.approx(a.probabilities[Label.POSITIVE])


def test_import_records_provenance_and_writes_a_card(tmp_path, capsys):
    source = save_opengait(tmp_path / "ScoNet-20000.pt", trained_looking_model())
    out = tmp_path / "out"
    code = main(["weights", "import", str(source), "--class-order", "legacy", "--out", str(out)])
    assert code == 0
    checkpoint = out / "ScoNet-20000.safetensors"
    metadata = read_checkpoint_metadata(checkpoint)
    assert metadata.class_order is ClassOrder.LEGACY and metadata.clinical is False
    assert metadata.extra["source_file"] == "ScoNet-20000.pt"
    assert metadata.extra["source_sha256"] == file_sha256(source)
    assert file_sha256(source) in metadata.provenance and "imported_at" in metadata.extra
    card = (out / "ScoNet-20000.card.md").read_text()
    assert "NOT for clinical use" in card and file_sha256(checkpoint) in card
    assert "negative (0), positive (1), neutral (2)" in card
    assert str(checkpoint) in capsys.readouterr().out
    # A second import does not silently overwrite.
    assert main(["weights", "import", str(source), "--class-order", "legacy", "--out", str(out)])
    assert "--force" in capsys.readouterr().err


def test_clinical_must_be_stated_with_its_training_data(tmp_path):
    source = save_opengait(tmp_path / "s.pt", trained_looking_model())
    with pytest.raises(ScreenError, match="--clinical needs --trained-on"):
        import_opengait(source, ClassOrder.CURRENT, tmp_path / "out", clinical=True)
    done = import_opengait(
        source, ClassOrder.CURRENT, tmp_path / "out", clinical=True, trained_on="clinic X, 2025"
    )
    assert (
        done.metadata.clinical
        and read_checkpoint_metadata(done.path).trained_on == "clinic X, 2025"
    )


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _wrong_shape(path: Path) -> str:
    state = trained_looking_model().state_dict()
    state["FCs.fc_bin"] = torch.zeros(16, 512, 128)
    torch.save({"model": state}, path)
    return "FCs.fc_bin has shape [16, 512, 128], expected [16, 512, 256]"


def _carries_code(path: Path) -> str:
    with path.open("wb") as handle:
        pickle.dump({"model": _RunsCode(path.with_name("pwned"))}, handle, protocol=2)
    return "refused"


def _truncated(path: Path) -> str:
    save_opengait(path, trained_looking_model())
    path.write_bytes(path.read_bytes()[:100_000])
    return "corrupt or truncated"


@pytest.mark.parametrize(
    "make, name",
    [(_wrong_shape, "shape"), (_carries_code, "code"), (_truncated, "truncated")],
)
def test_import_refuses_bad_checkpoints_in_one_line_without_traceback(tmp_path, capsys, make, name):
    source = tmp_path / f"{name}.pt"
    expected = make(source)
    out = tmp_path / "out"
    assert main(["weights", "import", str(source), "--class-order", "current", "--out", str(out)])
    err = capsys.readouterr().err
    assert expected in err and str(source) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "pwned").exists()  # the pickled code never ran
    assert not out.exists() or list(out.iterdir()) == []
    with pytest.raises(CheckpointError):
        import_opengait(source, ClassOrder.CURRENT, out)


@pytest.mark.parametrize("name", ["../escape", "sub/dir", ".hidden"])
def test_import_names_cannot_write_outside_the_output_folder(tmp_path, name):
    source = save_opengait(tmp_path / "s.pt", trained_looking_model())
    with pytest.raises(ScreenError, match="--name"):
        import_opengait(source, ClassOrder.CURRENT, tmp_path / "out", name)


def test_a_download_reports_progress_and_only_a_terminal_gets_a_bar(
    places,  # noqa: F811
    server,
    monkeypatch,
    capsys,
):
    write_spec(places / "models", "m", [{"name": "m.bin", "url": f"{server}/good.bin"}])
    calls = []
    download(get_spec("m"), places / "weights", on_progress=lambda *call: calls.append(call))
    assert calls and all(task == "m.bin" and total == len(GOOD) for task, _, total in calls)
    assert calls[-1][1] == len(GOOD)  # the last call says the whole file came
    assert capsys.readouterr().err == ""  # the library draws nothing itself
    assert main(["weights", "download", "m", "--force"]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: no bar in logs and pipes
    terminal = Console(stderr=True, force_terminal=True)  # as rich sees a real terminal
    monkeypatch.setattr(weights_cli, "err_console", terminal)
    assert main(["weights", "download", "m", "--force"]) == 0
    drawn = capsys.readouterr().err
    assert "m.bin" in drawn and "150.0 kB" in drawn  # the file and its byte count
