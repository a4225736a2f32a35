"""The low-priority pools for heavy request work: results come back, threads and processes niced."""

from __future__ import annotations

import os
import threading

import pytest

from serving.heavy import HeavyProcesses, LowPriority


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


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="needs process priorities")
def test_worker_processes_use_the_model_sent_for_each_key_at_a_lower_priority() -> None:
    # Worker-side functions are pickled by name, so these are builtins called as
    # `function(model, context, *args)`; the context is the worker's pid.
    pool = HeavyProcesses(workers=1, nice=3, context=os.getpid)
    try:
        first = pool.run(("churn", "1"), 2.0, slice, "x")
        assert first.start == 2.0 and first.step == "x"
        assert first.stop != os.getpid()  # computed in another process
        assert pool.run(("churn", "2"), 3.0, slice, "x").start == 3.0
        # A key names one model: the worker keeps the one it was first sent for that key.
        assert pool.run(("churn", "1"), 99.0, slice, "x").start == 2.0
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert pool.run(("nice",), os.PRIO_PROCESS, os.getpriority) == min(mine + 3, 19)
        with pytest.raises(TypeError):
            pool.run(("churn", "1"), 1.0, divmod, 5)  # divmod(model, pid, 5): too many arguments
    finally:
        pool.shutdown()
