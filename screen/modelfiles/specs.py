"""Model specs (models/*.toml): what each model is and where its files come from.

A spec says what a model is, where its files come from, their checksums,
license, input size, class order and whether it is fit for clinical use.  Code
reads specs; it never hard-codes a URL or a file name.  Where a spec's files
are found and whether they are trusted is screen.modelfiles.files.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ..errors import SpecError

KINDS = ("detector", "segmenter", "classifier")
PACKAGE_DIR = Path(__file__).resolve().parents[1]  #: screen/, beside models/ and weights/


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
    origin: str = ""  #: the spec file it was read from

    @property
    def primary(self) -> WeightFile:
        return self.files[0]

    def card_text(self) -> str | None:
        """The model card's markdown, where the spec names one and it exists."""
        if self.card is None:
            return None
        try:
            return _models_dir().joinpath(self.card).read_text(encoding="utf-8")
        except FileNotFoundError:  # a card not written yet must not stop a batch report
            return None


def _parse_weight_file(entry: dict) -> WeightFile:
    # An empty checksum in TOML means "not published": trust on first use.
    entry = {key: (None if value == "" else value) for key, value in entry.items()}
    entry["members"] = tuple(entry.get("members") or ())
    if entry.get("archive") not in (None, "zip", "tar"):
        raise TypeError(f"archive must be 'zip' or 'tar', not {entry['archive']!r}")
    return WeightFile(**entry)


def _parse_spec(data: dict, origin: str) -> ModelSpec:
    known = {f.name for f in fields(ModelSpec)} - {"origin"}
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
                "origin": origin,
            }
        )
    except TypeError as error:
        raise SpecError(f"{origin}: {error}") from None
    if spec.kind not in KINDS:
        raise SpecError(f"{origin}: kind {spec.kind!r} is not one of {KINDS}")
    if not spec.files:
        raise SpecError(f"{origin}: a spec needs at least one entry in 'files'")
    return spec


def _models_dir() -> Traversable:
    """The shipped models/ folder: the package screen._models, or models/ in a checkout."""
    try:
        return resources.files("screen._models")
    except ModuleNotFoundError:  # an editable install cannot import the namespace package
        return PACKAGE_DIR.parent / "models"


def all_specs(models_dir: str | Path | None = None) -> dict[str, ModelSpec]:
    """Every spec by name: from `models_dir`, else $SCREEN_MODELS_DIR, else the shipped models/."""
    chosen = models_dir or os.environ.get("SCREEN_MODELS_DIR")
    folder: Traversable = Path(chosen) if chosen else _models_dir()
    specs: dict[str, ModelSpec] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            origin = str(entry) if chosen else f"models/{entry.name}"
            try:
                data = tomllib.loads(entry.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as error:
                raise SpecError(f"{origin}: not valid TOML ({error})") from None
            spec = _parse_spec(data, origin)
            if spec.name in specs:
                raise SpecError(f"{origin}: model name {spec.name!r} is used twice")
            specs[spec.name] = spec
    return specs


def get_spec(name: str, models_dir: str | Path | None = None) -> ModelSpec:
    specs = all_specs(models_dir)
    if name not in specs:
        raise SpecError(f"unknown model {name!r}; known models: {', '.join(specs)}")
    return specs[name]
