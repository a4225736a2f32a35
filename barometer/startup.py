"""The `barometer` executable's start: no garbage collection while a module is being imported.

Importing the libraries a command needs (MLflow with SQLAlchemy, scikit-learn with SciPy, Ibis,
pandas) creates about a million long-lived objects. Python's collector runs a full collection
each time the heap has grown by a quarter, so while they load it walks the same young modules
again and again and finds nothing to free: on 2 cores that is a quarter of train's imports.
`pause_collection_while_importing` wraps the import statement so the collector waits until no
import statement is running in any thread, then runs as usual. Commands import lazily, in the
middle of their work, so this is per import rather than one pause at start-up.
`importlib.import_module` does not go through the import statement and is not covered.

`barometer.cli.run` (the executable) installs it; a process that imports Barometer as a library
keeps Python's own import statement.
"""

from __future__ import annotations

import builtins
import gc
import threading
from collections.abc import Callable

_PLAIN_IMPORT: Callable = builtins.__import__
_lock = threading.Lock()
_running = 0  # import statements in progress, in every thread
_paused = False  # whether the collector was on when the first of them started


def _import_without_collection(name, globals=None, locals=None, fromlist=(), level=0):
    """`__import__`, with the collector off while any import statement runs (the collector is
    one per process, so the count is too); it is turned back on only if it was on before."""
    global _running, _paused
    with _lock:
        if _running == 0:
            _paused = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        return _PLAIN_IMPORT(name, globals, locals, fromlist, level)
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _paused:
                gc.enable()


def pause_collection_while_importing() -> None:
    """Install the wrapped import statement (once; calling again changes nothing)."""
    builtins.__import__ = _import_without_collection
