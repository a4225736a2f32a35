"""The low-priority pool for native request work: results come back, threads run niced."""

from __future__ import annotations

import os
import threading

import pytest

from serving.heavy import LowPriority


def nice_of_this_thread() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="needs per-thread priorities")
def test_work_runs_on_lower_priority_threads_and_returns_its_result() -> None:
    pool = LowPriority(workers=1, nice=3)
    try:
        mine = nice_of_this_thread()
        assert pool.run(nice_of_this_thread) == min(mine + 3, 19)
        assert nice_of_this_thread() == mine  # the caller's own priority is untouched
        assert pool.run(sum, [1, 2, 3]) == 6
        with pytest.raises(ZeroDivisionError):
            pool.run(divmod, 1, 0)
    finally:
        pool.shutdown()


def policy_of_this_thread() -> int:
    return os.sched_getscheduler(threading.get_native_id())


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="needs Linux scheduling classes")
def test_pool_threads_run_in_the_idle_class_and_the_caller_does_not() -> None:
    pool = LowPriority(workers=1, nice=1)
    try:
        mine = policy_of_this_thread()
        assert mine != os.SCHED_IDLE
        assert pool.run(policy_of_this_thread) == os.SCHED_IDLE
        assert policy_of_this_thread() == mine
    finally:
        pool.shutdown()
