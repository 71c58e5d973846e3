"""Small helpers the subcommands share: consoles, JSON output, option parsing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console

from ..errors import ScreenError
from ..model.classes import ClassOrder

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def write_json(data: dict, target: str) -> None:
    """Write `data` to a file, or to stdout for '-'."""
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def parse_class_order(text: str | None) -> ClassOrder | None:
    if text is None:
        return None
    try:
        return ClassOrder.parse(text)
    except ValueError as error:
        raise ScreenError(str(error)) from None
