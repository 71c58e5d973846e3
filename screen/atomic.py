"""Writing a text file so that no reader, and no crash, ever leaves half of it under its name."""

from __future__ import annotations

from pathlib import Path


def write_text_atomically(path: Path, text: str) -> Path:
    """Write `text` beside `path` first, then rename it into place (one step on POSIX)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path
