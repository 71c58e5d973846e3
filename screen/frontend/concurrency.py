"""Generic concurrency helpers of the front end: a prefetching thread, an ordered
thread-pool map, and a per-stage wall clock.

OpenCV, torch and ONNX-style runtimes release the GIL, so decoding in one thread
while the networks run in others overlaps real work on a few cores.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from queue import Empty, Full, Queue
from typing import TypeVar


class StageClock:
    """Wall time spent per stage, reported as milliseconds per frame."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.frames: dict[str, int] = {}
        self._lock = threading.Lock()  # stages report from their own threads

    def add(self, stage: str, started: float, frames: int = 1) -> None:
        elapsed = time.perf_counter() - started
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed
            self.frames[stage] = self.frames.get(stage, 0) + frames

    def ms_per_frame(self) -> dict[str, float]:
        return {s: round(1000 * t / max(self.frames[s], 1), 2) for s, t in self.seconds.items()}


T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")
_PREFETCH = 4  #: decoded frames waiting for the networks (a 720p frame is 2.7 MB)


@dataclass(frozen=True)
class _End:
    error: BaseException | None = None


def prefetch(items: Iterator[T], depth: int = _PREFETCH) -> Iterator[T]:
    """`items` produced by a background thread, at most `depth` ahead of the consumer.

    Decoding then overlaps the networks.  Errors (a truncated video) reach the
    consumer in order; stopping early stops and closes the producer.
    """
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_End())
        except BaseException as error:  # handed to the consumer, raised there
            put(_End(error))
        finally:
            close = getattr(items, "close", None)
            if close:
                close()  # in this thread, the one that ran the generator

    thread = threading.Thread(target=produce, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = queue.get(timeout=0.1)
            except Empty:
                if not thread.is_alive() and queue.empty():
                    return
                continue
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join()


def ordered_map(workers: Sequence[S], call: Callable[[S, T], R], items: Iterable[T]) -> Iterator[R]:
    """`call(worker, item)` for every item on one thread per worker; results in input order.

    Each worker (a stage copy) serves one call at a time.  At most two calls per
    worker wait in line, so frames in flight stay few.
    """
    if len(workers) <= 1:
        for item in items:
            yield call(workers[0], item)
        return
    free: Queue = Queue()
    for worker in workers:
        free.put(worker)

    def run(item: T) -> R:
        worker = free.get()
        try:
            return call(worker, item)
        finally:
            free.put(worker)

    pending: deque = deque()
    with ThreadPoolExecutor(len(workers), thread_name_prefix="stage") as pool:
        try:
            for item in items:
                pending.append(pool.submit(run, item))
                if len(pending) > 2 * len(workers):
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
