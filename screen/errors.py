"""Typed errors whose text tells a user what went wrong and what to do.

The CLI prints `str(error)` as one line and exits non-zero; set SCREEN_DEBUG=1
to see the traceback instead.
"""

from __future__ import annotations

from pathlib import Path


class ScreenError(Exception):
    """Base class for every expected failure the CLI reports in one line."""

    exit_code = 1


class UsageProblem(ScreenError):
    """Options or input a command cannot start with, found before any work: exit code 2,
    as for click's usage errors."""

    exit_code = 2


class FileProblem(ScreenError):
    """A named file is missing, unreadable, corrupt or of the wrong kind."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class CheckpointError(FileProblem):
    """A checkpoint file cannot be used: corrupt, truncated, refused or mismatched."""


class SpecError(ScreenError):
    """A model spec in models/ is malformed or names an unknown model."""


class WeightsMissing(ScreenError):
    """A model file was not found anywhere it is looked for."""

    exit_code = 3
