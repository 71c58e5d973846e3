"""Model files: what is present, downloading, verifying, forgetting a first-use record.

Downloads go through pooch (checksum verified, streamed to a temporary file),
into a private staging folder beside the target; archives are unpacked there,
and only a complete, verified file or folder is renamed into place.  A failure
or Ctrl-C leaves the target as it was.  Where the publisher gives no checksum,
the sha256 of the first download is recorded and every later load is checked
against it (trust on first use, see screen.modelfiles.files).  Progress goes
to the caller's `on_progress` callback: the library draws nothing.
"""

from __future__ import annotations

import re
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ScreenError, WeightsMissing
from .files import (
    Checksum,
    ResolvedFile,
    candidate_paths,
    check_file,
    file_sha256,
    forget_trusted,
    locate_file,
    project_weights_dir,
    record_trusted,
    trusted_record,
    user_cache_dir,
)
from .specs import ModelSpec, WeightFile

if TYPE_CHECKING:
    from ..progress import ProgressCallback

DOWNLOAD_TIMEOUT_S = 60
DIR_CHOICES = ("auto", "weights", "cache")


class DownloadFailed(ScreenError):
    """A model file could not be fetched, or what came was not the file the spec names."""


# --- what is present ---------------------------------------------------------


@dataclass(frozen=True)
class ModelStatus:
    """One model: the file the tool would use (judged, not refused), or why there is none."""

    spec: ModelSpec
    found: ResolvedFile | None
    missing: str | None = None  #: why nothing was found, in the words of WeightsMissing

    def to_dict(self) -> dict:
        return {
            "model": self.spec.name,
            "kind": self.spec.kind,
            "file": str(self.found.path) if self.found else None,
            "source": self.found.source if self.found else None,
            "sha256": self.found.sha256 if self.found else None,
            "checksum": str(self.found.checksum) if self.found else "missing",
            "license": self.spec.license,
            "clinical": self.spec.clinical,
        }


def model_status(spec: ModelSpec) -> ModelStatus:
    """Where the spec's file is and how far it can be trusted; records nothing."""
    try:
        path, source = locate_file(spec)
    except WeightsMissing as missing:
        return ModelStatus(spec, None, str(missing))
    return ModelStatus(spec, check_file(spec, path, source, record=False))


def verify_present(spec: ModelSpec) -> list[ResolvedFile]:
    """Every copy of the spec's file that exists, re-hashed from its bytes (no cache)."""
    return [
        check_file(spec, path, source, record=False, fresh=True)
        for path, source in candidate_paths(spec)
        if path.exists()
    ]


def forget(spec: ModelSpec) -> bool:
    """Drop the first-use record of the spec's file, so its next download or load is trusted."""
    if spec.primary.sha256 is not None:
        raise ScreenError(
            f"model {spec.name!r} has its sha256 pinned in {spec.origin}: there is no "
            "first-use record to forget; use its environment variable or an explicit path "
            "for a different file"
        )
    return forget_trusted(spec)


# --- downloading -------------------------------------------------------------


def download_dir(choice: str = "auto") -> Path:
    """Where downloads go: 'weights' (the project's weights/), 'cache' (the user cache),
    or 'auto': weights/ when it exists (a source checkout), else the user cache."""
    if choice not in DIR_CHOICES:
        raise ScreenError(f"--dir must be one of {', '.join(DIR_CHOICES)}, not {choice!r}")
    if choice == "weights" and not project_weights_dir().is_dir():
        raise ScreenError(
            f"--dir weights: {project_weights_dir()} does not exist (not a source checkout); "
            "use --dir cache, or set SCREEN_WEIGHTS_DIR to an existing folder"
        )
    if choice == "weights" or (choice == "auto" and project_weights_dir().is_dir()):
        return project_weights_dir()
    return user_cache_dir()


def download(
    spec: ModelSpec,
    directory: Path | None = None,
    *,
    force: bool = False,
    on_progress: ProgressCallback | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_S,
) -> list[ResolvedFile]:
    """Fetch every file of a model into `directory`, verified; a good copy already there stays.

    `on_progress(file name, bytes so far, bytes in all or None)` follows each transfer.
    """
    directory = Path(directory) if directory is not None else download_dir()
    return [
        _download_file(spec, weight, directory, force, on_progress, timeout)
        for weight in spec.files
    ]


def _download_file(
    spec: ModelSpec,
    weight: WeightFile,
    directory: Path,
    force: bool,
    on_progress: ProgressCallback | None,
    timeout: float,
) -> ResolvedFile:
    if weight.url is None:
        raise DownloadFailed(
            f"model {spec.name!r} has no download URL: {spec.source or 'it is made locally'}"
        )
    target = directory / weight.name
    source = "cache" if directory == user_cache_dir() else "project"
    if target.exists() and not force:
        present = check_file(spec, target, source, weight, record=False, fresh=True)
        if present.checksum in (Checksum.VERIFIED, Checksum.TRUSTED):
            return present
    directory.mkdir(parents=True, exist_ok=True)
    # The staging folder sits beside the target, so the final rename is atomic.
    staging = Path(tempfile.mkdtemp(prefix=f".partial-{weight.name}-", dir=directory))
    try:
        record = trusted_record(spec, weight)
        fetched = _fetch(spec, weight, target, staging, on_progress, timeout, record)
        archive_sha256 = None
        if weight.archive:
            archive_sha256 = file_sha256(fetched)
            fetched = _unpack(spec, weight, fetched, staging / "unpacked", target)
        sha256 = file_sha256(fetched)
        expected = weight.sha256 or (record or {}).get("sha256")
        if expected is not None and sha256 != expected.lower():
            what = "and unpacked folder" if weight.archive else "file"
            raise _mismatch(
                spec, weight, target, what, expected, sha256, pinned=bool(weight.sha256)
            )
        _move_into_place(fetched, target, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if weight.sha256 is not None:
        return ResolvedFile(target, source, sha256, Checksum.VERIFIED)
    if record is None:
        record_trusted(spec, sha256, f"downloaded from {weight.url}", weight, archive_sha256)
    return ResolvedFile(target, source, sha256, Checksum.TRUSTED)


def _by_hand(weight: WeightFile, target: Path) -> str:
    """Where a user puts a file fetched by other means, in one clause."""
    if weight.archive:
        inside = weight.members[0] if weight.members else "its files"
        return f"download it by hand and unpack it so that {target / inside} exists"
    return f"download it by hand and save it as {target}"


def _mismatch(
    spec: ModelSpec,
    weight: WeightFile,
    target: Path,
    what: str,
    expected: str,
    actual: str,
    *,
    pinned: bool,
) -> DownloadFailed:
    against = "the spec's sha256" if pinned else "recorded at first use"
    return DownloadFailed(
        f"{weight.url}: the downloaded {what} has sha256 {actual}, not {expected.lower()} "
        f"({against}) for model {spec.name!r}; it was discarded and {target} left as it was "
        "(a corrupt transfer or a changed file on the server: try again later"
        + (
            ")"
            if pinned
            else f"; if the publisher really changed it, run `screen weights forget {spec.name}`)"
        )
    )


def _fetch(
    spec: ModelSpec,
    weight: WeightFile,
    target: Path,
    staging: Path,
    on_progress: ProgressCallback | None,
    timeout: float,
    record: dict | None,
) -> Path:
    """Download the URL into `staging` with pooch, checking the hash it knows."""
    import pooch
    import requests

    pinned = weight.archive_sha256 if weight.archive else weight.sha256
    recorded = (record or {}).get("archive_sha256" if weight.archive else "sha256")
    known = pinned or recorded
    filename = weight.url.rsplit("/", 1)[-1] if weight.archive else weight.name
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch logs every download and unknown hash at INFO
    try:
        bar = _PoochProgress(weight.name, on_progress) if on_progress else False
        downloader = pooch.HTTPDownloader(progressbar=bar, timeout=timeout)
        fetched = pooch.retrieve(
            weight.url,
            known_hash=f"sha256:{known}" if known else None,
            fname=filename,
            path=staging,
            downloader=downloader,
        )
    except requests.exceptions.HTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        reason = error.response.reason if error.response is not None else ""
        raise DownloadFailed(
            f"cannot download {spec.name}: {weight.url} answered HTTP {status} {reason}".rstrip()
            + f"; {_by_hand(weight, target)}"
        ) from None
    except requests.exceptions.RequestException as error:
        raise DownloadFailed(
            f"cannot download {spec.name}: {weight.url} is unreachable ({_network_reason(error)});"
            f" {_by_hand(weight, target)}"
        ) from None
    except ValueError as error:  # pooch: the hash of what came differs from the known one
        actual = re.search(r"but got ([0-9a-f]{64})", str(error))
        what = "archive" if weight.archive else "file"
        found = actual.group(1) if actual else "unknown"
        raise _mismatch(
            spec, weight, target, what, known or "", found, pinned=bool(pinned)
        ) from None
    finally:
        logger.setLevel(level)
    return Path(fetched)


def _network_reason(error: Exception) -> str:
    """A few words for a network failure instead of urllib3's nested repr."""
    import requests

    if isinstance(error, requests.exceptions.Timeout):
        return "timed out"
    text = str(error)
    for pattern in (r"\[Errno -?\d+\] ([^'\")\]]+)", r"(Name or service not known)"):
        match = re.search(pattern, text)
        if match:
            return match.group(1).strip()
    return type(error).__name__


class _PoochProgress:
    """The progress-bar object pooch drives (total, update, reset, close), as callback calls."""

    def __init__(self, task: str, on_progress: ProgressCallback) -> None:
        self._task, self._on_progress = task, on_progress
        self._done, self._total = 0, None

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int) -> None:
        self._total = value or None  # pooch sets 0 when the server sends no content-length

    def update(self, advance: int) -> None:
        self._done += advance
        self._on_progress(self._task, self._done, self._total)

    def reset(self) -> None:
        self._done = 0

    def close(self) -> None:
        pass


def _unpack(
    spec: ModelSpec, weight: WeightFile, archive: Path, destination: Path, target: Path
) -> Path:
    """Unpack into `destination`; the model folder is its single top folder, or itself."""
    destination.mkdir()
    try:
        if weight.archive == "zip":
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(destination)  # zipfile drops '..' and absolute member paths
        else:
            with tarfile.open(archive) as bundle:
                bundle.extractall(destination, filter="data")  # refuses paths outside
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as error:
        raise DownloadFailed(
            f"{weight.url}: not a readable {weight.archive} archive ({error}); "
            f"{_by_hand(weight, target)}"
        ) from None
    entries = [entry for entry in destination.iterdir() if entry.name != "__MACOSX"]
    folder = entries[0] if len(entries) == 1 and entries[0].is_dir() else destination
    missing = [name for name in weight.members if not (folder / name).is_file()]
    if missing:
        raise DownloadFailed(
            f"{weight.url}: the archive lacks {', '.join(missing)} that model {spec.name!r} "
            f"needs; nothing was installed"
        )
    return folder


def _move_into_place(new: Path, target: Path, staging: Path) -> None:
    """Rename a verified file or folder onto `target`, the old one moved aside first."""
    if target.exists() or target.is_symlink():
        target.rename(staging / "replaced")  # removed with the staging folder
    new.rename(target)
