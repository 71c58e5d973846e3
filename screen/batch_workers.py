"""Where a batch's videos are screened: the `Engine` protocol and this machine's processes.

Each worker builds its screening function once (models loaded once per worker),
screens one video at a time and hands back an `Outcome`; only the driver records
outcomes (`batch.screen_videos`, the state file's one writer).  `batch_ray.py`
is the other engine, reusing the worker side here.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from .cores import CPU_SHARE_VARIABLE, available_cores
from .outputs.result import ScreeningResult

#: Screens one video for the batch: its result, its silhouette strip and, for a referred
#: student, its attention map (base64 PNGs, "" for none).
VideoScreener = Callable[[Path], tuple[ScreeningResult, str, str]]


@dataclass(frozen=True)
class Outcome:
    path: str
    result: ScreeningResult | None
    error: str | None
    seconds: float
    strip: str = ""
    attention: str = ""
    warnings: tuple[str, ...] = ()  #: the worker's log warnings, for the driver to show once


class _KeptWarnings(logging.Handler):
    """A worker's warnings (e.g. a missing model file), held for the driver: printed by
    each worker they would repeat once per worker; the driver shows each once per run."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")

    def take(self) -> tuple[str, ...]:
        taken, self.messages = tuple(self.messages), []
        return taken


# Each worker process builds its screening function once (models loaded once per worker).
_worker_screen: VideoScreener | None = None
_worker_warnings: _KeptWarnings | None = None
_worker_problem: str | None = None  #: why this worker cannot screen (e.g. a refused model file)


def _init_worker(
    factory: Callable[[], VideoScreener], threads: int, keep_warnings: bool = True
) -> None:
    """Build this worker's screening function.  A worker whose models cannot be loaded
    (missing or refused here) keeps the one-line reason: each video it is given fails
    with it, and the batch goes on."""
    global _worker_screen, _worker_warnings, _worker_problem
    from .errors import ScreenError

    if keep_warnings:
        _worker_warnings = _KeptWarnings()
        package = logging.getLogger("screen")
        package.addHandler(_worker_warnings)
        package.propagate = False
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ[CPU_SHARE_VARIABLE] = str(threads)  # read by cpu_budget
    import torch

    torch.set_num_threads(threads)
    try:
        _worker_screen, _worker_problem = factory(), None
    except ScreenError as error:
        _worker_screen, _worker_problem = None, str(error)


def _run_one(job: tuple[Path, str]) -> Outcome:
    from .errors import ScreenError

    video, relative = job
    if _worker_problem is not None:
        return Outcome(relative, None, _worker_problem, 0.0)
    started = time.perf_counter()
    try:
        result, strip, attention = _worker_screen(video)
        outcome = Outcome(relative, result, None, time.perf_counter() - started, strip, attention)
    except ScreenError as error:
        outcome = Outcome(relative, None, str(error), time.perf_counter() - started)
    except Exception as error:  # noqa: BLE001 - one bad video must never stop the batch
        reason = (
            f"unexpected {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        )
        outcome = Outcome(relative, None, reason, time.perf_counter() - started)
    if _worker_warnings is not None:
        outcome = replace(outcome, warnings=_worker_warnings.take())
    return outcome


def run_jobs(
    jobs: list[tuple[Path, str]],
    factory: Callable[[], VideoScreener],
    workers: int,
) -> Iterator[Outcome]:
    """Screen each (video, relative path) in `workers` processes; yield outcomes as they finish."""
    if not jobs:
        return
    threads = max(1, available_cores() // max(1, workers))
    if workers <= 1:  # in this process: its warnings print as they come, once
        _init_worker(factory, threads, keep_warnings=False)
        for job in jobs:
            yield _run_one(job)
        return
    context = multiprocessing.get_context("spawn")  # no forked torch/paddle state
    with context.Pool(workers, initializer=_init_worker, initargs=(factory, threads)) as pool:
        yield from pool.imap_unordered(_run_one, jobs, chunksize=1)
        # Let the workers exit on their own: the context's terminate() would SIGTERM them,
        # and Paddle prints a crash banner on SIGTERM.
        pool.close()
        pool.join()


class Engine(Protocol):
    """Where the batch's videos are screened; the batch core stays the same.

    `run` yields one Outcome per job, in the order they finish; only the caller
    records them (the state file has one writer).
    """

    name: str  #: as the report shows it

    def cores(self) -> int:
        """CPU cores it can use: the default number of workers."""
        ...

    def run(
        self, jobs: list[tuple[Path, str]], factory: Callable[[], VideoScreener], workers: int
    ) -> Iterator[Outcome]: ...

    def close(self) -> None:
        """Let go of what it started."""
        ...


class LocalEngine:
    """This machine's processes (`run_jobs`): the default engine."""

    name = "local processes"

    def cores(self) -> int:
        return available_cores()

    def run(
        self, jobs: list[tuple[Path, str]], factory: Callable[[], VideoScreener], workers: int
    ) -> Iterator[Outcome]:
        return run_jobs(jobs, factory, workers)

    def close(self) -> None:
        pass
