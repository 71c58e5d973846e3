"""Writing a file so that no reader, and no crash, ever leaves half of it under its name."""

from __future__ import annotations

from pathlib import Path


def write_bytes_atomically(path: Path, data: bytes) -> Path:
    """Write `data` beside `path` first, then rename it into place (one step on POSIX)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
    return path


def write_text_atomically(path: Path, text: str) -> Path:
    """`write_bytes_atomically` for UTF-8 text."""
    return write_bytes_atomically(path, text.encode("utf-8"))
