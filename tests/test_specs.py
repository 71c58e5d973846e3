"""Model specs parse, files are found in the documented order, and bad files are refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from screen.errors import FileProblem, SpecError, WeightsMissing
from screen.modelfiles.files import (
    Checksum,
    ChecksumMismatch,
    cached_sha256,
    check_file,
    checksum_records_path,
    file_sha256,
    forget_trusted,
    resolve_file,
    trusted_record,
)
from screen.modelfiles.specs import KINDS, all_specs, get_spec

SHIPPED = all_specs()


def write_spec(folder: Path, name: str, files: list[dict], **fields) -> Path:
    """A spec TOML in `folder` (JSON strings and lists are valid TOML values)."""
    base = {
        "kind": "detector",
        "architecture": "test",
        "description": "a test model",
        "license": "MIT",
        "intended_use": "tests",
        "clinical": False,
    }
    base.update(fields)
    lines = [f"name = {json.dumps(name)}"]
    lines += [f"{key} = {_toml(value)}" for key, value in base.items()]
    entries = ["{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in e.items()) + " }" for e in files]
    lines.append(f"files = [{', '.join(entries)}]")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value) -> str:
    return str(value).lower() if isinstance(value, bool) else json.dumps(value)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Temporary specs, weights/ and cache: the real ones are never touched."""
    for variable, folder in (
        ("SCREEN_MODELS_DIR", "models"),
        ("SCREEN_WEIGHTS_DIR", "weights"),
        ("SCREEN_CACHE_DIR", "cache"),
    ):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(variable, str(tmp_path / folder))
    return tmp_path


# --- the shipped specs ---------------------------------------------------------


def test_every_model_the_pipeline_needs_is_shipped():
    assert {"yolo11n", "yolov8n", "pp-humanseg-v2-mobile", "pp-humanseg-v2-lite"} <= set(SHIPPED)
    assert {"sconet-mt-demo"} <= set(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_spec_says_what_it_is_and_what_it_may_be_used_for(name):
    spec = SHIPPED[name]
    assert spec.kind in KINDS
    assert spec.license and spec.intended_use and spec.description
    assert isinstance(spec.clinical, bool)
    assert spec.input_size and spec.class_names
    for weight in spec.files:
        if weight.url is not None:
            assert weight.url.startswith("https://")
        if weight.sha256 is None and weight.url is not None:
            assert "trust on first use" in (spec.checksum_note or "")
        if weight.archive:
            assert weight.members, "an unpacked folder must say which files it holds"


@pytest.mark.parametrize(
    "name, license, input_size, archive",
    [
        ("yolo11n", "AGPL-3.0", (640, 640), None),
        ("yolov8n", "AGPL-3.0", (640, 640), None),
        ("pp-humanseg-v2-mobile", "Apache-2.0", (192, 192), "zip"),
        ("pp-humanseg-v2-lite", "Apache-2.0", (192, 192), "zip"),
    ],
)
def test_published_models_carry_their_license_size_and_source(name, license, input_size, archive):
    spec = SHIPPED[name]
    assert (spec.license, spec.input_size, spec.primary.archive) == (license, input_size, archive)
    assert spec.clinical is False
    assert spec.primary.url.rsplit("/", 1)[-1].startswith(spec.primary.name)
    assert spec.env_var


def test_detectors_name_the_person_class_at_its_index():
    for name in ("yolo11n", "yolov8n"):
        spec = SHIPPED[name]
        assert spec.class_names[spec.options["person_class"]] == "person"
        assert len(spec.class_names) == 80


# --- malformed specs -----------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("name = ", "not valid TOML"),
        ('name = "x"\ncolour = "red"', "unknown keys ['colour']"),
        ('name = "x"', "x.toml"),  # missing required keys
    ],
)
def test_malformed_specs_are_reported_with_their_file(places, text, expected):
    (places / "models" / "x.toml").write_text(text)
    with pytest.raises(SpecError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        all_specs()


def test_wrong_kind_and_duplicate_names_are_refused(places):
    write_spec(places / "models", "a", [{"name": "a.pt"}], kind="painter")
    with pytest.raises(SpecError, match="kind 'painter'"):
        all_specs()
    write_spec(places / "models", "a", [{"name": "a.pt"}])
    (places / "models" / "b.toml").write_text((places / "models" / "a.toml").read_text())
    with pytest.raises(SpecError, match="used twice"):
        all_specs()


def test_an_unknown_model_lists_the_known_ones(places):
    write_spec(places / "models", "a", [{"name": "a.pt"}])
    with pytest.raises(SpecError, match="unknown model 'b'; known models: a"):
        get_spec("b")


def test_specs_can_come_from_a_given_folder(tmp_path):
    write_spec(tmp_path, "only-here", [{"name": "x.pt"}])
    assert list(all_specs(tmp_path)) == ["only-here"]
    assert get_spec("only-here", tmp_path).primary.sha256 is None


# --- resolution ----------------------------------------------------------------


@pytest.mark.parametrize(
    "present, expected_source",
    [
        (("explicit", "environment", "project", "cache"), "explicit"),
        (("environment", "project", "cache"), "environment"),
        (("project", "cache"), "project"),
        (("cache",), "cache"),
    ],
)
def test_files_are_found_in_the_documented_order(places, monkeypatch, present, expected_source):
    write_spec(places / "models", "m", [{"name": "m.bin"}], env_var="TEST_M_WEIGHTS")
    spec = get_spec("m")
    where = {
        "explicit": places / "mine" / "m.bin",
        "environment": places / "env" / "m.bin",
        "project": places / "weights" / "m.bin",
        "cache": places / "cache" / "weights" / "m.bin",
    }
    for source in present:
        where[source].parent.mkdir(parents=True, exist_ok=True)
        where[source].write_bytes(source.encode())
    if "environment" in present:
        monkeypatch.setenv("TEST_M_WEIGHTS", str(where["environment"]))
    explicit = where["explicit"] if "explicit" in present else None
    found = resolve_file(spec, explicit)
    assert (found.source, found.path) == (expected_source, where[expected_source])
    assert found.sha256 == file_sha256(where[expected_source])  # the hash travels with the file


@pytest.mark.parametrize("how", ["explicit", "environment"])
def test_a_named_file_that_is_absent_is_an_error_not_a_fallback(places, monkeypatch, how):
    write_spec(places / "models", "m", [{"name": "m.bin"}], env_var="TEST_M_WEIGHTS")
    (places / "weights" / "m.bin").write_bytes(b"a fallback that must not be used")
    absent = places / "nowhere" / "m.bin"
    if how == "environment":
        monkeypatch.setenv("TEST_M_WEIGHTS", str(absent))
    with pytest.raises(WeightsMissing, match=str(absent)):
        resolve_file(get_spec("m"), absent if how == "explicit" else None)


def test_a_missing_file_says_where_it_looked_and_how_to_get_it(places):
    write_spec(places / "models", "m", [{"name": "m.bin"}], env_var="TEST_M_WEIGHTS")
    with pytest.raises(WeightsMissing) as caught:
        resolve_file(get_spec("m"))
    message = str(caught.value)
    assert str(places / "weights" / "m.bin") in message
    assert str(places / "cache" / "weights" / "m.bin") in message
    assert "screen weights download m" in message and "$TEST_M_WEIGHTS" in message


# --- checksums at load time ----------------------------------------------------


def test_a_pinned_file_is_verified_and_a_tampered_one_refused(places):
    good = b"the published weights"
    write_spec(places / "models", "m", [{"name": "m.bin", "sha256": file_sha256_of(good, places)}])
    target = places / "weights" / "m.bin"
    target.write_bytes(good)
    assert resolve_file(get_spec("m")).checksum is Checksum.VERIFIED
    target.write_bytes(b"the published weights, changed")
    with pytest.raises(ChecksumMismatch) as caught:
        resolve_file(get_spec("m"))
    message = str(caught.value)
    assert str(target) in message and file_sha256_of(good, places) in message
    assert file_sha256(target) in message and "screen weights download m" in message
    assert "\n" not in message


def file_sha256_of(content: bytes, folder: Path) -> str:
    scratch = folder / "scratch.bin"
    scratch.write_bytes(content)
    return file_sha256(scratch)


def test_a_published_file_without_checksum_is_trusted_on_first_use(places):
    write_spec(places / "models", "m", [{"name": "m.bin", "url": "https://example.org/m.bin"}])
    spec = get_spec("m")
    target = places / "weights" / "m.bin"
    target.write_bytes(b"placed by hand")
    first = resolve_file(spec)
    assert first.checksum is Checksum.TRUSTED
    assert trusted_record(spec)["sha256"] == first.sha256
    assert checksum_records_path().parent == places / "cache"
    assert resolve_file(spec).checksum is Checksum.TRUSTED  # the record now vouches for it
    target.write_bytes(b"replaced later")
    with pytest.raises(ChecksumMismatch, match="screen weights forget m"):
        resolve_file(spec)
    assert forget_trusted(spec)
    assert resolve_file(spec).checksum is Checksum.TRUSTED  # trusted afresh, deliberately


@pytest.mark.parametrize(
    "how, state", [("explicit", Checksum.EXPLICIT), ("environment", Checksum.ENVIRONMENT)]
)
def test_the_users_own_file_is_hashed_and_reported_unverified_never_refused(
    places, monkeypatch, how, state
):
    write_spec(
        places / "models",
        "m",
        [{"name": "m.bin", "sha256": "0" * 64}],
        env_var="TEST_M_WEIGHTS",
    )
    mine = places / "mine.bin"
    mine.write_bytes(b"my own fine-tuned weights")
    if how == "environment":
        monkeypatch.setenv("TEST_M_WEIGHTS", str(mine))
    found = resolve_file(get_spec("m"), mine if how == "explicit" else None)
    assert (found.checksum, found.sha256) == (state, file_sha256(mine))
    assert found.describe()["checksum"] == str(state)


def test_a_file_made_here_without_a_pinned_checksum_is_loaded_and_said_unverified(places):
    write_spec(places / "models", "m", [{"name": "m.bin"}])  # no URL: made locally
    (places / "weights" / "m.bin").write_bytes(b"trained here")
    found = resolve_file(get_spec("m"))
    assert found.checksum is Checksum.UNPINNED
    assert trusted_record(get_spec("m")) is None


def test_an_incomplete_unpacked_folder_is_refused(places):
    write_spec(
        places / "models",
        "seg",
        [{"name": "seg", "url": "https://example.org/seg.zip", "archive": "zip",
          "members": ["deploy.yaml", "model.pdiparams"]}],
    )  # fmt: skip
    folder = places / "weights" / "seg"
    folder.mkdir()
    (folder / "deploy.yaml").write_text("Deploy: {}")
    with pytest.raises(FileProblem, match="model.pdiparams missing"):
        resolve_file(get_spec("seg"))
    (folder / "model.pdiparams").write_bytes(b"weights")
    assert resolve_file(get_spec("seg")).checksum is Checksum.TRUSTED


def test_hashes_are_cached_by_size_and_mtime_and_verify_rereads(places, monkeypatch):
    import screen.modelfiles.files as files

    target = places / "weights" / "big.bin"
    target.write_bytes(b"x" * 100_000)
    reads = []
    real = files.file_sha256
    monkeypatch.setattr(files, "file_sha256", lambda path: reads.append(path) or real(path))
    first = cached_sha256(target)
    assert cached_sha256(target) == first and len(reads) == 1  # second time: a stat only
    stat = target.stat()
    target.write_bytes(b"y" * 100_000)  # same size...
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and the old mtime
    assert cached_sha256(target) == first  # the cache cannot see this; a fresh check can:
    write_spec(places / "models", "m", [{"name": "big.bin", "sha256": first}])
    fresh = check_file(get_spec("m"), target, "project", fresh=True)
    assert fresh.checksum is Checksum.MISMATCH and fresh.sha256 != first
    target.write_bytes(b"z" * 100_001)
    assert cached_sha256(target) != first and len(reads) == 3


def test_a_missing_model_card_reads_as_none(tmp_path):
    (tmp_path / "m.toml").write_text(
        'name = "m"\nkind = "classifier"\narchitecture = "sconet"\ndescription = "d"\n'
        'files = [{ name = "m.safetensors" }]\nlicense = "x"\nintended_use = "test"\n'
        'clinical = false\ncard = "absent.card.md"\n'
    )
    assert get_spec("m", tmp_path).card_text() is None
