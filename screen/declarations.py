"""How settings are declared, read back, and resolved (command line > TOML file > default).

`settings.py` holds the declarations themselves; this module is the machinery:
`setting()` declares a field, `Section` checks a section against its
declarations, `declared()` lists a tree's settings by flat key, and `resolve()`
overlays a config file and the command line on the defaults.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import ScreenError


class SettingsError(ScreenError):
    """A config file or option value that cannot be used (a usage error)."""

    exit_code = 2


def setting(
    default: Any,
    help: str,
    *,
    key: str | None = None,
    flag: bool = True,
    choices: tuple[str, ...] = (),
    low: float | None = None,
    high: float | None = None,
    parse: Callable[[Any], Any] | None = None,
) -> Any:
    """A field of a settings section.

    `key`: its flat name in config files and the CLI (default: the field name);
    `flag`: offered as `--key` on the command line (else config file only);
    `choices` / `low` / `high`: the values allowed; `parse`: text -> value
    (e.g. '8x8' -> (8, 8)) for values that are not plain scalars.
    """
    meta = {"help": help, "key": key, "flag": flag, "choices": choices, "low": low, "high": high,
            "parse": parse}  # fmt: skip
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Section:
    """Base of every settings section: checks each field against its declaration."""

    def __post_init__(self) -> None:
        for spec in fields_of(type(self)):
            value = getattr(self, spec.name)
            if value is None:
                continue
            if spec.choices and value not in spec.choices:
                raise SettingsError(
                    f"{spec.key} must be one of {', '.join(spec.choices)}, got {value!r}"
                )
            if spec.low is not None and value < spec.low:
                raise SettingsError(f"{spec.key} must be at least {spec.low:g}, got {value}")
            if spec.high is not None and value > spec.high:
                raise SettingsError(f"{spec.key} must be at most {spec.high:g}, got {value}")


@dataclass(frozen=True)
class FieldSpec:
    """One declared setting, with its resolved type."""

    section: str  #: the section's name in the tree ('' for a lone section)
    name: str  #: the field's name in its section
    key: str  #: flat name in config files and on the command line
    type: Any  #: the annotation, resolved
    default: Any
    help: str
    flag: bool
    choices: tuple[str, ...]
    low: float | None
    high: float | None
    parse: Callable[[Any], Any] | None

    @property
    def option(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def base_type(self) -> Any:
        """The type without `| None`."""
        args = [a for a in typing.get_args(self.type) if a is not type(None)]
        if isinstance(self.type, types.UnionType) and len(args) == 1:
            return args[0]
        return self.type


def fields_of(section_type: type, section: str = "") -> list[FieldSpec]:
    """The declared settings of one section type."""
    hints = typing.get_type_hints(section_type)
    specs = []
    for f in dataclasses.fields(section_type):
        meta = f.metadata
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        specs.append(FieldSpec(
            section, f.name, meta.get("key") or f.name, hints[f.name], default, meta["help"],
            meta["flag"], meta["choices"], meta["low"], meta["high"], meta["parse"],
        ))  # fmt: skip
    return specs


Tree = TypeVar("Tree")


def sections_of(kind: type) -> list[tuple[str, type]]:
    """(name, section type) pairs of a tree such as `Settings`, or [('', kind)] for a section."""
    if issubclass(kind, Section):
        return [("", kind)]
    hints = typing.get_type_hints(kind)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(kind)]


def declared(kind: type) -> dict[str, FieldSpec]:
    """Every setting of a tree (or section) by its flat key."""
    specs: dict[str, FieldSpec] = {}
    for name, section_type in sections_of(kind):
        for spec in fields_of(section_type, name):
            if spec.key in specs:  # a programming error: keys name settings uniquely
                raise AssertionError(f"setting key {spec.key!r} declared twice")
            specs[spec.key] = spec
    return specs


def plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def coerce(spec: FieldSpec, value: Any, origin: str) -> Any:
    """A value from a config file or the command line, converted to the declared type."""
    if value is None:
        return None
    if spec.parse is not None:
        try:
            return spec.parse(value)
        except SettingsError as error:
            raise SettingsError(f"{origin}: {error}") from None
        except (TypeError, ValueError):
            raise SettingsError(f"{origin}: {spec.key} = {value!r} is not valid") from None
    wanted = spec.base_type
    if wanted is Path and isinstance(value, str | Path):
        return Path(value)
    if wanted is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if wanted is bool and isinstance(value, bool):
        return value
    if wanted in (int, str) and isinstance(value, wanted) and not isinstance(value, bool):
        return value
    name = getattr(wanted, "__name__", str(wanted))
    raise SettingsError(f"{origin}: {spec.key} = {value!r} has the wrong type (expected {name})")


def read_config(path: str | Path, kind: type) -> dict[str, Any]:
    """The settings a TOML file gives, by flat key, names and types checked."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"{path}: not a readable TOML file ({error})") from None
    specs = declared(kind)
    section_names = {name for name, _ in sections_of(kind) if name}
    values: dict[str, Any] = {}
    for key, value, section in _entries(data, section_names):
        spec = _find(specs, key.replace("-", "_"), section)
        if spec is None:
            known = ", ".join(sorted(specs))
            raise SettingsError(f"{path}: unknown setting {key!r}; known: {known}")
        values[spec.key] = coerce(spec, value, str(path))
    return values


def _entries(data: dict, section_names: set[str]) -> Iterator[tuple[str, Any, str]]:
    """(name, value, section or '') for flat keys, a [screen] table and section tables."""
    for key, value in data.items():
        if isinstance(value, dict) and (key in section_names or key in ("screen", "training")):
            section = key if key in section_names else ""
            for inner, inner_value in value.items():
                yield inner, inner_value, section
        else:
            yield key, value, ""


def _find(specs: dict[str, FieldSpec], name: str, section: str) -> FieldSpec | None:
    if name in specs and (not section or specs[name].section == section):
        return specs[name]
    if section:  # a field name inside its section's table, e.g. [detector] confidence
        return next((s for s in specs.values() if s.section == section and s.name == name), None)
    return None


def resolve(kind: type[Tree], cli: Mapping[str, Any] | None = None,
            config: str | Path | None = None) -> Tree:  # fmt: skip
    """Defaults, overlaid by the config file, overlaid by the command line.

    `kind`: `Settings`, `TrainingSettings` or another tree or section; `cli` maps
    flat keys to values, None meaning "not given".
    """
    specs = declared(kind)
    values = read_config(config, kind) if config is not None else {}
    for key, value in (cli or {}).items():
        if key not in specs:
            raise SettingsError(f"unknown setting {key!r}")
        if value is not None:
            values[key] = coerce(specs[key], value, specs[key].option)
    return build(kind, values)


def build(kind: type[Tree], values: Mapping[str, Any]) -> Tree:
    """A tree (or section) from flat keys; the rest keep their declared defaults."""
    specs = declared(kind)
    by_section: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        spec = specs[key]
        by_section.setdefault(spec.section, {})[spec.name] = value
    sections = sections_of(kind)
    if sections == [("", kind)]:
        return kind(**by_section.get("", {}))
    return kind(**{name: section(**by_section.get(name, {})) for name, section in sections})
