"""Native CPU-heavy work of requests (TreeSHAP over a batch) on low-priority threads.

A 20-row batch spends ~90% of its time in LightGBM's `pred_contrib`, which releases the GIL. Run on
an ordinary thread it competes for the cores on equal terms with the event loop, which answers the
cheap requests (stored scores, worklists), so their tail latency grows with every batch in flight.
Here such calls run on a small pool of threads whose OS priority is lowered (`nice` +`NICE`, per
thread: Linux schedules threads individually) and, where Linux offers it, put in the `SCHED_IDLE`
class, which the scheduler preempts at once for any ordinary thread that wakes: the event loop wins
the cores whenever both are runnable (`make soak` shows the difference in the account-detail tail).
Only the native call runs there, so a low-priority thread never holds the GIL for long
(no priority inversion). Where per-thread priorities are unavailable the threads run as usual.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

NICE = 10
WORKERS = 2  # LightGBM runs single-threaded in requests; two batches can use both cores
T = TypeVar("T")


def lower_priority(nice: int = NICE, idle: bool = True) -> None:
    """Raise the calling thread's nice value by `nice` (Linux: per-thread) and, with `idle`, move
    it to the `SCHED_IDLE` scheduling class, where permitted."""
    if not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    if idle and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))


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


HEAVY = LowPriority()
