"""`screen batch --engine ray`: the batch's videos screened on a Ray cluster.

Only the executor changes.  The batch core (`batch.screen_videos`) still hashes the
videos, keeps OUT/state.sqlite in the driver alone (one transaction per finished
video) and writes the CSV and the report; here a pool of Ray actors, each loading
its models once through the same registry and checksums (`batch_workers._init_worker`),
screens one video at a time (`batch_workers._run_one`) and the outcomes stream back as they
finish.  A worker process that dies is restarted and its video tried again, up to
`ATTEMPTS` times in all; a machine whose models are missing or refused is left out
with a warning, and when no worker can start every video fails with that reason.

Ray is an optional extra (`pip install 'scoliosis-screen[ray]'`).  Videos and any
explicit model path are read by path on every machine: a shared filesystem mounted
at the same place, and the same working directory for relative paths.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import batch_workers
from .batch_workers import Outcome, VideoScreener
from .errors import ScreenError, UsageProblem

INSTALL_HINT = "--engine ray needs Ray: pip install 'scoliosis-screen[ray]'"
ATTEMPTS = 3  #: tries per video when the worker process screening it dies
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2  #: outcomes are small: a local cluster's store stays small

logger = logging.getLogger(__name__)


def import_ray() -> Any:
    """The `ray` module, quiet; UsageProblem (one line, exit code 2) where it is missing."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage-stats banner or upload
    try:
        import ray
    except ImportError as error:
        raise UsageProblem(INSTALL_HINT) from error
    return ray


class _Worker:
    """One Ray actor: a batch worker process on some machine, its models loaded once."""

    def __init__(self, factory: Callable[[], VideoScreener], threads: int, cwd: str) -> None:
        if os.path.isdir(cwd):  # relative paths mean what they meant to the driver
            os.chdir(cwd)
            batch_workers._init_worker(factory, threads)
        else:
            batch_workers._worker_problem = (
                f"the driver's working directory {cwd} is not on this machine: run "
                "`screen batch` from a folder on the shared filesystem"
            )

    def problem(self) -> str | None:
        """Why this worker cannot screen (its machine named), or None when it can."""
        if batch_workers._worker_problem is None:
            return None
        return f"on {socket.gethostname()}: {batch_workers._worker_problem}"

    def screen(self, job: tuple[Path, str]) -> Outcome:
        return batch_workers._run_one(job)


@contextlib.contextmanager
def _stderr_kept_apart() -> Iterator[None]:
    """Ray's C++ core writes its warnings (e.g. a refused connection, once a second)
    straight to file descriptor 2: while Ray starts they go to a discarded file."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as discarded:
            os.dup2(discarded.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _check_reachable(address: str) -> None:
    """Fail at once, in one line, where nothing listens at HOST:PORT (Ray itself retries
    for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # e.g. "auto": Ray finds it
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as error:
        raise ScreenError(
            f"cannot reach the Ray cluster at {address}: {error.strerror or error}; on the "
            "head machine run `ray start --head` and pass the address it prints"
        ) from error


def _use_the_token() -> None:
    """Sign in to a cluster with this machine's Ray token where there is one.

    `ray start --head` turns on Ray's token authentication and keeps the token in
    ~/.ray/auth_token; Ray itself sends it to an explicit address only under
    RAY_AUTH_MODE=token.  A choice already made in RAY_AUTH_MODE stands.
    """
    if os.environ.get("RAY_AUTH_MODE") is not None:
        return
    token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray/auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or token_file.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def _died(error: Exception) -> str:
    kind = type(error).__name__
    return (
        f"the worker screening it died {ATTEMPTS} times ({kind}: killed, out of memory, or a "
        "crash in a video or model library); see the Ray logs of its machine"
    )


class RayEngine:
    """A batch engine on Ray: the local machine as a one-node cluster, or `address`.

    It joins a Ray session already started in this process (and leaves it running);
    otherwise it starts or connects to one and shuts it down when closed.
    """

    def __init__(self, address: str | None = None) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        if self.address:
            _use_the_token()  # before Ray reads its settings, on import
        self.ray = import_ray()
        if self.address:
            _check_reachable(self.address)  # before any work
        self.name = f"ray at {self.address}" if self.address else "ray (this machine)"
        self._started = False

    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        quiet: dict[str, Any] = {
            "log_to_driver": False,  # the workers' own output stays in Ray's log files
            "logging_level": logging.ERROR,
            "configure_logging": True,
        }
        try:
            with _stderr_kept_apart():
                if self.address:
                    ray.init(address=self.address, **quiet)
                else:
                    ray.init(
                        address="local",  # a fresh one-machine cluster, never one running
                        num_cpus=batch_workers.available_cores(),
                        include_dashboard=False,
                        object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                        **quiet,
                    )
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ScreenError(
                f"cannot start or reach {where}: {type(error).__name__}: {reason}; "
                "on the head machine run `ray start --head`, pass the address it prints, and "
                "give this machine its token (~/.ray/auth_token)"
            ) from error
        self._started = True

    def cores(self) -> int:
        """The cluster's CPUs: by default one worker each."""
        self._connect()
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def run(
        self, jobs: list[tuple[Path, str]], factory: Callable[[], VideoScreener], workers: int
    ) -> Iterator[Outcome]:
        """Screen the jobs on `workers` actors; yield each outcome as it finishes."""
        if not jobs:
            return
        ray = self.ray
        threads = max(1, self.cores() // workers)
        options: dict[str, Any] = {
            "num_cpus": 1,
            "max_restarts": -1,  # a dead worker process comes back (its models loaded again) ...
            "max_task_retries": ATTEMPTS - 1,  # ... and screens the video it had again
            "scheduling_strategy": "SPREAD",  # over the machines, not packed onto one
        }
        tool_variables = {
            name: value
            for name, value in os.environ.items()
            if name.startswith("SCREEN_") and name != batch_workers.CPU_SHARE_VARIABLE
        }
        if tool_variables:  # e.g. SCREEN_WEIGHTS_DIR: the models are looked for as here
            options["runtime_env"] = {"env_vars": tool_variables}
        remote = ray.remote(_Worker).options(**options)
        cwd = os.getcwd()
        actors = [remote.remote(factory, threads, cwd) for _ in range(workers)]
        starting = {actor.problem.remote(): actor for actor in actors}
        idle: list[Any] = []
        running: dict[Any, tuple[Any, tuple[Path, str]]] = {}
        queue = deque(jobs)
        problems: list[str] = []
        try:
            while queue or running:
                while idle and queue:
                    actor, job = idle.pop(), queue.popleft()
                    running[actor.screen.remote(job)] = (actor, job)
                if not running and not starting:  # no worker could start anywhere
                    reason = problems[0] if problems else "no Ray worker could start"
                    while queue:
                        yield Outcome(queue.popleft()[1], None, reason, 0.0)
                    return
                (ref,), _ = ray.wait([*running, *starting], num_returns=1)
                if ref in starting:
                    actor = starting.pop(ref)
                    problem = self._problem_of(ref)
                    if problem is None:
                        idle.append(actor)
                    else:
                        if problem not in problems:
                            problems.append(problem)
                            logger.warning("a batch worker was left out: %s", problem)
                        ray.kill(actor, no_restart=True)
                    continue
                actor, job = running.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as error:
                    outcome = Outcome(job[1], None, _died(error), 0.0)
                idle.append(actor)
                yield outcome
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)

    def _problem_of(self, ref: Any) -> str | None:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as error:
            first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
            return f"a worker could not start: {type(error).__name__}: {first}"

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False
