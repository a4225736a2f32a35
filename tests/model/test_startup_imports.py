"""The executable's import statement: no garbage collection while a module loads, and the
collector back exactly as it was once the outermost import has returned or raised. Each case runs
in its own interpreter, so the test process's import statement is not the one under test."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

# A module whose import allocates 300,000 tracked objects: with Python's thresholds (700 new
# objects per young collection) that is hundreds of collections.
HEAVY_MODULE = "junk = [[i] for i in range(300_000)]\n"

COUNT_COLLECTIONS = """
import gc, sys
sys.path.insert(0, {folder!r})
runs = []
gc.callbacks.append(lambda phase, info: runs.append(info) if phase == "start" else None)
"""


def run(script: str, folder: Path) -> str:
    code = COUNT_COLLECTIONS.format(folder=str(folder)) + textwrap.dedent(script)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def modules(tmp_path: Path) -> Path:
    (tmp_path / "heavy.py").write_text(HEAVY_MODULE)
    (tmp_path / "outer.py").write_text("import heavy\nafter = [[i] for i in range(10)]\n")
    (tmp_path / "broken.py").write_text(HEAVY_MODULE + "raise RuntimeError('bad module')\n")
    return tmp_path


def test_python_s_own_import_collects_many_times_while_the_heavy_module_loads(tmp_path):
    out = run("import heavy\nprint(len(runs), gc.isenabled())", modules(tmp_path))
    collections, enabled = out.split()
    assert int(collections) > 50
    assert enabled == "True"


def test_the_executable_s_import_collects_nothing_while_a_module_loads_then_collects_again(
    tmp_path,
):
    script = """
    from barometer import startup
    startup.pause_collection_while_importing()
    runs.clear()
    import outer  # imports heavy inside it
    during = len(runs)
    enabled = gc.isenabled()
    junk = [[i] for i in range(50_000)]
    print(during, enabled, len(runs) > 0)
    """
    assert run(script, modules(tmp_path)) == "0 True True"


def test_an_import_that_raises_still_turns_the_collector_back_on(tmp_path):
    script = """
    from barometer import startup
    startup.pause_collection_while_importing()
    try:
        import broken
    except RuntimeError as exc:
        print(exc, gc.isenabled())
    """
    assert run(script, modules(tmp_path)) == "bad module True"


def test_a_caller_that_turned_the_collector_off_keeps_it_off(tmp_path):
    script = """
    from barometer import startup
    startup.pause_collection_while_importing()
    gc.disable()
    import heavy
    print(gc.isenabled())
    """
    assert run(script, modules(tmp_path)) == "False"


def test_an_import_in_another_thread_keeps_the_collector_waiting_until_it_ends(tmp_path):
    """The collector is one per process: while one thread is still importing, another thread's
    import ending must not turn it back on."""
    (tmp_path / "gate.py").write_text(
        "import threading\n"
        "events = {n: (threading.Event(), threading.Event()) for n in ('first', 'second')}\n"
    )
    for name in ("first", "second"):  # each import waits until the test releases it
        (tmp_path / f"{name}.py").write_text(
            f"import gate\nstarted, release = gate.events[{name!r}]\n"
            "started.set()\nrelease.wait(30)\n"
        )
    script = """
    import threading
    from barometer import startup
    startup.pause_collection_while_importing()
    import gate
    def load(name):
        __import__(name)
    threads = {n: threading.Thread(target=load, args=(n,)) for n in ("first", "second")}
    for name, thread in threads.items():
        thread.start()
        gate.events[name][0].wait(30)
    gate.events["first"][1].set()
    threads["first"].join()  # its import ended while "second" is still importing
    during = gc.isenabled()
    gate.events["second"][1].set()
    threads["second"].join()
    print(during, gc.isenabled())
    """
    assert run(script, modules(tmp_path)) == "False True"


def test_the_executable_installs_it_and_the_library_rooms_do_not(tmp_path):
    script = """
    import atexit, builtins, sys
    plain = builtins.__import__
    import barometer.settings, barometer.targets, training.cli, features.cli, barometer.cli
    from barometer import startup
    print(builtins.__import__ is plain, flush=True)  # imported as a library
    atexit.register(lambda: print(builtins.__import__ is startup._import_without_collection))
    sys.argv = ["barometer", "version"]
    barometer.cli.run()
    """
    assert run(script, tmp_path) == "True\n0.1.0\nTrue"
