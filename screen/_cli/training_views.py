"""What `screen train` shows while it works: the data's class counts and a training bar."""

from __future__ import annotations

import time

from rich.table import Table

from ..model.classes import LABELS, Label
from ..training.dataset import Split
from ..training.train import StepStats

LOG_LINES = 50  #: progress lines a run writes when its output is a log file, not a terminal


def counts_table(counts: dict[Split, dict[Label, int]]) -> Table:
    """A rich table of sequences per class and split, with totals."""
    from rich.table import Table

    table = Table(title="sequences per class and split")
    table.add_column("split")
    for label in LABELS:
        table.add_column(label.value, justify="right")
    table.add_column("total", justify="right")
    for split, per_class in counts.items():
        values = [per_class[label] for label in LABELS]
        table.add_row(split.value, *map(str, values), str(sum(values)))
    return table


class TrainingBar:
    """A rich progress bar with loss and accuracy; plain lines when not on a terminal (logs)."""

    def __init__(self, enabled: bool, total: int, done: int) -> None:
        self.enabled, self.total, self.done = enabled, total, done
        self.live = False

    def __enter__(self) -> TrainingBar:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(highlight=False)
        self.live = self.console.is_terminal
        self.started = time.perf_counter()
        if self.live:
            self.progress = Progress(
                TextColumn("training"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.progress.start()
            self.task = self.progress.add_task(
                "train", total=self.total, completed=self.done, stats=""
            )
        return self

    def step(self, iteration: int, total: int, stats: StepStats, lr: float) -> None:
        """The `on_step` callback of `screen.training.train.train`."""
        if not self.enabled:
            return
        self.done = iteration
        text = f"loss {stats.loss:.3f}  acc {stats.accuracy:.2f}  lr {lr:.0e}"
        if self.live:
            self.progress.update(self.task, completed=iteration, stats=text)
        elif self.done % max(1, self.total // LOG_LINES) == 0 or self.done == self.total:
            elapsed = time.perf_counter() - self.started
            self.console.print(f"iteration {self.done}/{self.total}  {text}  {elapsed:.0f} s")

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.progress.stop()
