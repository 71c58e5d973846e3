"""Model specs (models/*.toml) and where each model's files are found.

A spec says what a model is, where its files come from, their checksums,
license, input size, class order and whether it is fit for clinical use.  Code
reads specs; it never hard-codes a URL or a file name.

A model file is looked for, in this order: an explicit path, the spec's
environment variable, the project's `weights/` folder, the user cache.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import platformdirs

from .errors import SpecError, WeightsMissing

KINDS = ("detector", "segmenter", "classifier")
APP_NAME = "scoliosis-screen"


@dataclass(frozen=True)
class WeightFile:
    """One file (or unpacked folder) a model needs."""

    name: str  #: file or folder name under a weights directory
    sha256: str | None = None  #: None where the publisher gives none (trust on first use)
    url: str | None = None  #: where `screen weights download` fetches it
    archive: str | None = None  #: 'zip' or 'tar' when the URL serves an archive to unpack
    archive_sha256: str | None = None  #: checksum of the archive itself
    members: tuple[str, ...] = ()  #: files an unpacked folder must hold


@dataclass(frozen=True)
class ModelSpec:
    """The declarative description of one model, read from models/NAME.toml."""

    name: str
    kind: str
    architecture: str
    description: str
    files: tuple[WeightFile, ...]
    license: str
    intended_use: str
    clinical: bool
    env_var: str | None = None
    input_size: tuple[int, ...] = ()
    class_names: tuple[str, ...] = ()
    class_order: str | None = None
    source: str | None = None
    card: str | None = None
    checksum_note: str | None = None
    options: dict = field(default_factory=dict)

    @property
    def primary(self) -> WeightFile:
        return self.files[0]

    def card_text(self) -> str | None:
        """The model card's markdown, where the spec names one."""
        if self.card is None:
            return None
        return _models_dir().joinpath(self.card).read_text(encoding="utf-8")


def _parse_weight_file(entry: dict) -> WeightFile:
    # An empty checksum in TOML means "not published": trust on first use.
    entry = {key: (None if value == "" else value) for key, value in entry.items()}
    entry["members"] = tuple(entry.get("members") or ())
    return WeightFile(**entry)


def _models_dir() -> Traversable:
    """models/ in a source checkout, else the copy installed as the package screen._models."""
    checkout = Path(__file__).resolve().parent.parent / "models"
    if checkout.is_dir():
        return checkout
    return resources.files("screen._models")


def _parse_spec(data: dict, origin: str) -> ModelSpec:
    known = {f.name for f in fields(ModelSpec)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpecError(f"{origin}: unknown keys {unknown}; known keys are {sorted(known)}")
    try:
        files = tuple(_parse_weight_file(entry) for entry in data.get("files", ()))
        spec = ModelSpec(
            **{
                **data,
                "files": files,
                "input_size": tuple(data.get("input_size", ())),
                "class_names": tuple(data.get("class_names", ())),
            }
        )
    except TypeError as error:
        raise SpecError(f"{origin}: {error}") from None
    if spec.kind not in KINDS:
        raise SpecError(f"{origin}: kind {spec.kind!r} is not one of {KINDS}")
    if not spec.files:
        raise SpecError(f"{origin}: a spec needs at least one entry in 'files'")
    return spec


def load_spec_file(path: str | Path) -> ModelSpec:
    path = Path(path)
    with path.open("rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise SpecError(f"{path}: not valid TOML ({error})") from None
    return _parse_spec(data, str(path))


def all_specs() -> dict[str, ModelSpec]:
    """Every spec shipped in models/, by name."""
    specs: dict[str, ModelSpec] = {}
    for entry in sorted(_models_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            spec = _parse_spec(data, f"models/{entry.name}")
            specs[spec.name] = spec
    return specs


def get_spec(name: str) -> ModelSpec:
    specs = all_specs()
    if name not in specs:
        raise SpecError(f"unknown model {name!r}; known models: {', '.join(specs)}")
    return specs[name]


def project_weights_dir() -> Path:
    """`weights/` beside the package in a source checkout (SCREEN_WEIGHTS_DIR overrides)."""
    override = os.environ.get("SCREEN_WEIGHTS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "weights"


def user_cache_dir() -> Path:
    """The per-user folder where downloaded model files live."""
    return platformdirs.user_cache_path(APP_NAME) / "weights"


@dataclass(frozen=True)
class ResolvedFile:
    path: Path
    source: str  #: 'explicit', 'environment', 'project' or 'cache'


def candidate_paths(spec: ModelSpec, explicit: str | Path | None = None) -> list[tuple[Path, str]]:
    """Where the spec's primary file is looked for, in priority order."""
    candidates: list[tuple[Path, str]] = []
    if explicit is not None:
        candidates.append((Path(explicit), "explicit"))
    if spec.env_var and os.environ.get(spec.env_var):
        candidates.append((Path(os.environ[spec.env_var]), "environment"))
    candidates.append((project_weights_dir() / spec.primary.name, "project"))
    candidates.append((user_cache_dir() / spec.primary.name, "cache"))
    return candidates


def resolve_file(spec: ModelSpec, explicit: str | Path | None = None) -> ResolvedFile:
    """The first existing location of the spec's primary file.

    An explicit path or environment variable that points nowhere is an error in
    itself: the user asked for that file, so no silent fallback to another one.
    """
    for path, source in candidate_paths(spec, explicit):
        if path.exists():
            return ResolvedFile(path, source)
        if source in ("explicit", "environment"):
            how = "given path" if source == "explicit" else f"${spec.env_var}"
            raise WeightsMissing(f"{path}: not found (the {how} for model {spec.name!r})")
    searched = ", ".join(str(path) for path, _ in candidate_paths(spec))
    raise WeightsMissing(
        f"model {spec.name!r} needs {spec.primary.name}, not found (looked in {searched}); "
        f"get it with `screen weights download {spec.name}`"
        + (f" or point ${spec.env_var} at it" if spec.env_var else "")
    )


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
