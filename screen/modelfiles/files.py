"""Where a model's files are found, their hashes, and whether to trust them.

A model file is looked for, in this order: an explicit path, the spec's
environment variable, the project's `weights/` folder, the files bundled in
the package, the user cache.  The chosen file is hashed (sha256) and the hash
travels with it:
- in `weights/` or the cache it must match the spec's sha256, or, where the
  publisher gives none, the sha256 recorded when it was first downloaded or
  first used (trust on first use); a mismatch is refused at load time;
- an explicit path or environment variable names the user's own file: it is
  hashed and reported as unverified, never refused.
Hashes are cached by (path, size, mtime) so repeated loads cost a stat, not a read.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import platformdirs

from ..errors import FileProblem, WeightsMissing
from .specs import PACKAGE_DIR, ModelSpec, WeightFile

APP_NAME = "scoliosis-screen"


# --- places ------------------------------------------------------------------


def project_weights_dir() -> Path:
    """`weights/` beside the package in a source checkout (SCREEN_WEIGHTS_DIR overrides)."""
    override = os.environ.get("SCREEN_WEIGHTS_DIR")
    if override:
        return Path(override)
    return PACKAGE_DIR.parent / "weights"


def bundled_weights_dir() -> Path | None:
    """Model files shipped with the tool (the demo checkpoint, PP-HumanSegV1-Lite), if any.

    A wheel maps the project's weights/ to screen/_weights/; a source checkout has
    the same files in its weights/ folder, found here even when SCREEN_WEIGHTS_DIR
    points downloads elsewhere.
    """
    for folder in (PACKAGE_DIR / "_weights", PACKAGE_DIR.parent / "weights"):
        if folder.is_dir():
            return folder
    return None


def cache_root() -> Path:
    """The per-user cache folder of this tool (SCREEN_CACHE_DIR overrides)."""
    override = os.environ.get("SCREEN_CACHE_DIR")
    if override:
        return Path(override)
    return platformdirs.user_cache_path(APP_NAME)


def user_cache_dir() -> Path:
    """The per-user folder where downloaded model files live."""
    return cache_root() / "weights"


def checksum_records_path() -> Path:
    """The JSON file of sha256s recorded on first use."""
    return cache_root() / "trusted-checksums.json"


# --- hashing -----------------------------------------------------------------


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents, sorted)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for member in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(member.relative_to(path).as_posix().encode() + b"\0")
            digest.update(bytes.fromhex(file_sha256(member)))
        return digest.hexdigest()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fingerprint(path: Path) -> list:
    """What changes when a file (or any file in a folder) changes: sizes and mtimes."""
    if path.is_dir():
        return [
            [member.relative_to(path).as_posix(), member.stat().st_size, member.stat().st_mtime_ns]
            for member in sorted(p for p in path.rglob("*") if p.is_file())
        ]
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict) -> None:
    """Replace a small JSON file atomically; a read-only cache only costs the saving."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        pass


def _hash_cache_path() -> Path:
    return cache_root() / "file-hashes.json"


def cached_sha256(path: str | Path, fresh: bool = False) -> str:
    """file_sha256, remembered by (path, size, mtime): a repeat costs a stat, not a read.

    `fresh` re-reads the bytes whatever the cache says (and corrects the cache).
    """
    path = Path(path).resolve()
    key, fingerprint = str(path), _fingerprint(path)
    cache = _read_json(_hash_cache_path())
    entry = cache.get(key)
    if not fresh and isinstance(entry, dict) and entry.get("fingerprint") == fingerprint:
        return entry["sha256"]
    sha256 = file_sha256(path)
    cache = {known: entry for known, entry in cache.items() if Path(known).exists()}
    cache[key] = {"fingerprint": fingerprint, "sha256": sha256}
    _write_json(_hash_cache_path(), cache)
    return sha256


# --- trust on first use ------------------------------------------------------


def _record_key(spec: ModelSpec, weight: WeightFile) -> str:
    return f"{spec.name}/{weight.name}"


def trusted_record(spec: ModelSpec, weight: WeightFile | None = None) -> dict | None:
    """The sha256 recorded on first use of a file, with when and how, or None."""
    record = _read_json(checksum_records_path()).get(_record_key(spec, weight or spec.primary))
    return record if isinstance(record, dict) and "sha256" in record else None


def record_trusted(
    spec: ModelSpec,
    sha256: str,
    how: str,
    weight: WeightFile | None = None,
    archive_sha256: str | None = None,
) -> dict:
    """Remember a file's sha256 as trusted from now on (trust on first use)."""
    record = {"sha256": sha256, "recorded": datetime.now(UTC).isoformat(timespec="seconds")}
    record["how"] = how
    if archive_sha256:
        record["archive_sha256"] = archive_sha256
    records = _read_json(checksum_records_path())
    records[_record_key(spec, weight or spec.primary)] = record
    _write_json(checksum_records_path(), records)
    return record


def forget_trusted(spec: ModelSpec, weight: WeightFile | None = None) -> bool:
    """Drop a first-use record so the next download or load is trusted afresh."""
    records = _read_json(checksum_records_path())
    removed = records.pop(_record_key(spec, weight or spec.primary), None)
    if removed is not None:
        _write_json(checksum_records_path(), records)
    return removed is not None


def uses_first_use_trust(weight: WeightFile) -> bool:
    """A published file without a published checksum; files made here (no URL) are not."""
    return weight.sha256 is None and weight.url is not None


# --- checking a found file ---------------------------------------------------


class Checksum(StrEnum):
    """How far a found model file can be trusted."""

    VERIFIED = "verified"  #: matches the sha256 in the spec
    TRUSTED = "trusted-on-first-use"  #: matches the sha256 recorded at first download or use
    EXPLICIT = "unverified (explicit path)"  #: the user's own file, named on the command line
    ENVIRONMENT = "unverified (environment variable)"  #: the user's own file, named by $VAR
    UNPINNED = "unverified (no checksum in spec)"  #: made locally; the spec pins no sha256
    UNRECORDED = "not recorded yet"  #: will be trusted (and recorded) at first use
    MISMATCH = "MISMATCH"  #: differs from the spec or the record: refused
    INCOMPLETE = "INCOMPLETE"  #: an unpacked folder lacks a file it must hold: refused


class ChecksumMismatch(FileProblem):
    """A model file in weights/ or the cache is not the file its spec or record names."""

    def __init__(self, path: str | Path, model: str, expected: str, actual: str, against: str):
        self.model, self.expected, self.actual = model, expected, actual
        super().__init__(
            path,
            f"sha256 {actual} differs from {expected} ({against}) for model {model!r}: the file "
            "is corrupt or was replaced, so it is refused; delete it and run "
            f"`screen weights download {model}`"
            + (
                f" (if you replaced it on purpose, run `screen weights forget {model}` first)"
                if "first use" in against
                else ""
            ),
        )


@dataclass(frozen=True)
class ResolvedFile:
    """A model file found on disk, its sha256 and how far it can be trusted."""

    path: Path
    source: str  #: 'explicit', 'environment', 'project', 'bundled' or 'cache'
    sha256: str = ""
    checksum: Checksum = Checksum.UNPINNED
    problem: FileProblem | None = None  #: why it is refused (MISMATCH, INCOMPLETE), else None

    def describe(self) -> dict:
        """The facts every result carries about the file it used."""
        return {"path": str(self.path), "sha256": self.sha256, "checksum": str(self.checksum)}


def check_file(
    spec: ModelSpec,
    path: str | Path,
    source: str,
    weight: WeightFile | None = None,
    *,
    record: bool = True,
    fresh: bool = False,
) -> ResolvedFile:
    """Hash a found file and judge it against the spec or the first-use record.

    `record`: trust (and record) a published file seen for the first time.
    `fresh`: re-read every byte instead of trusting the (path, size, mtime) cache.
    Never raises for a bad file: the verdict is in `checksum` and `problem`.
    """
    path, weight = Path(path), weight or spec.primary
    missing = [name for name in weight.members if not (path / name).is_file()]
    if missing:
        problem = FileProblem(
            path,
            f"incomplete model folder: {', '.join(missing)} missing; delete the folder and run "
            f"`screen weights download {spec.name}`",
        )
        return ResolvedFile(path, source, "", Checksum.INCOMPLETE, problem)
    sha256 = cached_sha256(path, fresh=fresh)
    if source == "explicit":
        return ResolvedFile(path, source, sha256, Checksum.EXPLICIT)
    if source == "environment":
        return ResolvedFile(path, source, sha256, Checksum.ENVIRONMENT)
    if weight.sha256 is not None:
        expected, against, state = weight.sha256.lower(), "the spec's sha256", Checksum.VERIFIED
    elif not uses_first_use_trust(weight):
        return ResolvedFile(path, source, sha256, Checksum.UNPINNED)
    elif (stored := trusted_record(spec, weight)) is not None:
        expected = stored["sha256"]
        against = f"recorded at first use, {stored['recorded']}"
        state = Checksum.TRUSTED
    elif record:
        record_trusted(spec, sha256, f"first use of {path}", weight)
        return ResolvedFile(path, source, sha256, Checksum.TRUSTED)
    else:
        return ResolvedFile(path, source, sha256, Checksum.UNRECORDED)
    if sha256 != expected:
        problem = ChecksumMismatch(path, spec.name, expected, sha256, against)
        return ResolvedFile(path, source, sha256, Checksum.MISMATCH, problem)
    return ResolvedFile(path, source, sha256, state)


# --- resolution --------------------------------------------------------------


def candidate_paths(spec: ModelSpec, explicit: str | Path | None = None) -> list[tuple[Path, str]]:
    """Where the spec's primary file is looked for, in priority order."""
    candidates: list[tuple[Path, str]] = []
    if explicit is not None:
        candidates.append((Path(explicit), "explicit"))
    if spec.env_var and os.environ.get(spec.env_var):
        candidates.append((Path(os.environ[spec.env_var]), "environment"))
    candidates.append((project_weights_dir() / spec.primary.name, "project"))
    bundled = bundled_weights_dir()
    if bundled is not None and bundled != project_weights_dir():  # a checkout: the same folder
        candidates.append((bundled / spec.primary.name, "bundled"))
    candidates.append((user_cache_dir() / spec.primary.name, "cache"))
    return candidates


def locate_file(spec: ModelSpec, explicit: str | Path | None = None) -> tuple[Path, str]:
    """The first existing location of the spec's primary file and its source (no hashing).

    An explicit path or environment variable that points nowhere is an error in
    itself: the user asked for that file, so no silent fallback to another one.
    """
    for path, source in candidate_paths(spec, explicit):
        if path.exists():
            return path, source
        if source in ("explicit", "environment"):
            how = "given path" if source == "explicit" else f"${spec.env_var}"
            raise WeightsMissing(f"{path}: not found (the {how} for model {spec.name!r})")
    searched = ", ".join(str(path) for path, _ in candidate_paths(spec))
    raise WeightsMissing(
        f"model {spec.name!r} needs {spec.primary.name}, not found (looked in {searched}); "
        f"get it with `screen weights download {spec.name}`"
        + (f" or point ${spec.env_var} at it" if spec.env_var else "")
    )


def resolve_file(spec: ModelSpec, explicit: str | Path | None = None) -> ResolvedFile:
    """Find the spec's primary file, hash it, and refuse it if it is not the file it should be."""
    found = check_file(spec, *locate_file(spec, explicit))
    if found.problem is not None:
        raise found.problem
    return found
