"""Progress bars: the CLI draws what the library reports through its progress callback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from ..progress import ProgressCallback
from .common import err_console


@contextmanager
def progress_bars(
    quiet: bool, columns: tuple = (), console: Console | None = None
) -> Iterator[ProgressCallback | None]:
    """A callback drawing one transient rich bar per task on stderr (None when quiet).

    `columns`: rich progress columns (default: description, bar, done/total, elapsed);
    `console`: where to draw (default: the CLI's stderr console).
    """
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = columns or (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console or err_console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def update(task: str, done: int, total: int | None) -> None:
            if task not in tasks:
                tasks[task] = progress.add_task(task, total=total)
            progress.update(tasks[task], completed=done, total=total)

        yield update
