"""Progress bars: the CLI draws what the library reports through its progress callback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..progress import ProgressCallback
from .common import err_console


@contextmanager
def progress_bars(quiet: bool) -> Iterator[ProgressCallback | None]:
    """A callback drawing one transient rich bar per task on stderr (None when quiet)."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err_console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def update(task: str, done: int, total: int | None) -> None:
            if task not in tasks:
                tasks[task] = progress.add_task(task, total=total)
            progress.update(tasks[task], completed=done, total=total)

        yield update
