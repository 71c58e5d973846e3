"""Command-line options made from the settings declarations in screen.settings.

`with_settings(kind, ...)` adds one option per declared setting that has a flag
(with the declaration's help and default) to a command's signature, and hands
the command one resolved tree: command line > --config file > default, decided
in `screen.settings.resolve`.  A flag's value None means "not given".
"""

from __future__ import annotations

import functools
import inspect
import logging
from pathlib import Path
from typing import Any

import typer

from ..declarations import FieldSpec, declared


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "x".join(map(str, value)) if len(value) == 2 else ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _option(spec: FieldSpec) -> tuple[Any, Any]:
    """The typer annotation and option of one declared setting."""
    base = spec.base_type
    annotation = base if base in (int, float, Path) else str
    help_text = f"{spec.help} [default: {_shown(spec.default)}]"
    return annotation | None, typer.Option(None, spec.option, help=help_text)


CONFIG = (Path | None, typer.Option(None, "--config", help="TOML file of settings (options win)."))


def flag_keys(kind: type, *, only: tuple[str, ...] | None = None,
              skip: tuple[str, ...] = ()) -> tuple[str, ...]:  # fmt: skip
    """The flat keys of `kind`'s settings that have a command-line flag."""
    keys = [key for key, spec in declared(kind).items() if spec.flag and key not in skip]
    return tuple(key for key in keys if only is None or key in only)


def with_settings(kind: type, keys: tuple[str, ...], param: str = "settings"):
    """Give a command `--config` and the flags of `keys`; it receives the resolved `kind`."""
    specs = declared(kind)

    def decorate(command):
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.name != param]
        keyword = inspect.Parameter.KEYWORD_ONLY
        options = {"config": CONFIG, **{key: _option(specs[key]) for key in keys}}
        added = [
            inspect.Parameter(name, keyword, default=option, annotation=annotation)
            for name, (annotation, option) in options.items()
        ]

        @functools.wraps(command)
        def wrapper(**kwargs):
            from ..settings import resolve

            given = {name: kwargs.pop(name) for name in options}
            config = given.pop("config")
            return command(**{param: resolve(kind, given, config)}, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=own + added)
        wrapper.__annotations__ = {
            **{k: v for k, v in command.__annotations__.items() if k != param},
            **{name: annotation for name, (annotation, _) in options.items()},
        }
        return wrapper

    return decorate


EXPLAIN = typer.Option(
    None,
    "--explain",
    metavar="DIR",
    help="Write where the model looked into folder DIR: attention.png (the whole walk, over "
    "the mean silhouette), clips.png (one map per clip), attention.npz (the raw maps).",
)
VIDEO_WORKERS = typer.Option(
    None, "--workers", min=1, help="Videos: parallel processes [default: the cores]."
)
JSON_REPORT = typer.Option(
    None, "--json", help="Write the report as JSON to PATH ('-' for stdout)."
)
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bars or summaries; errors only.")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Log what each stage decides.")


def set_verbosity(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
