"""CPU-heavy request work (batch scoring with TreeSHAP and reasons) away from the event loop.

Two ways, both at a lowered OS priority (`nice` +`NICE`) so the event loop, which answers the cheap
requests (stored scores, worklists), wins the cores whenever both are runnable:

- `LowPriority`: a pool of niced threads in the server's process, for a native call that releases
  the GIL (LightGBM's `pred_contrib`).
- `HeavyProcesses`: niced worker processes (spawned) that run a whole batch answer, its Python parts
  too (encoding, wording each row's reasons, validating and serialising the answer). Python code on
  a thread of the server's process holds the GIL, and the event loop waits for it: each time it
  comes back from `epoll` it may wait up to the switch interval (5 ms) for a thread that is busy in
  Python. A worker process has its own GIL, so the server's only Python cost of a batch is parsing
  the request and sending the rows and the answer's bytes through a pipe.

A worker keeps the models it was sent, keyed by (target, version). A task names the key it must
use; a worker that lacks it answers `NEED_MODEL` and the task is sent again with the model, so
an answer always comes from exactly the model version the request was routed with (a promotion
in between cannot mix versions), and a model crosses the pipe once per worker and version.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import TypeVar

NICE = 10
WORKERS = 2  # LightGBM runs single-threaded in requests; two batches can use both cores
KEEP_MODELS = 4  # per worker: the current champions and the ones just replaced
NEED_MODEL = "need-model"
T = TypeVar("T")


def lower_priority(nice: int = NICE) -> None:
    """Raise the calling thread's nice value by `nice` (Linux: per-thread), if permitted."""
    if not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)


class LowPriority:
    """A lazily started pool of low-priority threads; `run` waits for the result."""

    def __init__(self, workers: int = WORKERS, nice: int = NICE) -> None:
        self.workers, self.nice = workers, nice
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        self.workers,
                        thread_name_prefix="barometer-heavy",
                        initializer=lower_priority,
                        initargs=(self.nice,),
                    )
        return self._pool

    def run(self, function: Callable[..., T], *args) -> T:
        """`function(*args)` on a low-priority thread (blocks: call it from a worker thread)."""
        return self.pool().submit(function, *args).result()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


# ------------------------------------------------------------------ worker processes

_MODELS: dict[tuple, object] = {}  # in a worker: (target, version, ...) → model
_CONTEXT: list = [None]  # in a worker: what `context()` gave (e.g. the feature registry)


def _start_worker(nice: int, context: Callable[[], object] | None) -> None:
    """A worker's initializer: lower the whole process's priority, build the shared context."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(nice)
    _CONTEXT[0] = None if context is None else context()


def _run_keyed(key: tuple, model, function: Callable, args: tuple):
    """In a worker: `function(model, context, *args)` with the model of `key` (`NEED_MODEL` when
    this worker has not been sent it yet)."""
    if model is not None:
        while len(_MODELS) >= KEEP_MODELS:
            _MODELS.pop(next(iter(_MODELS)))
        _MODELS[key] = model
    found = _MODELS.get(key)
    if found is None:
        return NEED_MODEL
    return function(found, _CONTEXT[0], *args)


class HeavyProcesses:
    """A lazily started pool of niced worker processes running functions of a keyed model.

    `context` (a module-level function, run once in each worker) builds what every call shares
    and cannot be pickled, such as the feature registry with its formatting functions.
    """

    def __init__(
        self,
        workers: int = WORKERS,
        nice: int = NICE,
        context: Callable[[], object] | None = None,
    ) -> None:
        self.workers, self.nice, self.context = workers, nice, context
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ProcessPoolExecutor(
                        self.workers,
                        mp_context=mp.get_context("spawn"),  # never fork a threaded server
                        initializer=_start_worker,
                        initargs=(self.nice, self.context),
                    )
        return self._pool

    def run(self, key: tuple, model, function: Callable, *args):
        """`function(model, context, *args)` in a worker, with the model sent only to a worker
        that does not hold `key` yet. Blocks: call it from a thread. `function` must be a
        module-level function (it is pickled by name); `key` must change with the model."""
        pool = self.pool()
        result = pool.submit(_run_keyed, key, None, function, args).result()
        if isinstance(result, str) and result == NEED_MODEL:
            result = pool.submit(_run_keyed, key, model, function, args).result()
        return result

    def start(self) -> None:
        """Start the workers now (imports take seconds), instead of on the first request."""
        pool = self.pool()
        for future in [pool.submit(os.getpid) for _ in range(self.workers)]:
            future.result()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


HEAVY = LowPriority()
