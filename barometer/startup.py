"""The `barometer` executable's start: no garbage collection while a module is being imported.

Importing the libraries a command needs (MLflow with SQLAlchemy, scikit-learn with SciPy, Ibis,
pandas) creates about a million long-lived objects. Python's collector runs a full collection
each time the heap has grown by a quarter, so while they load it walks the same young modules
again and again: about 0.8 s of train's 3.5 s of imports on 2 cores, and nothing it finds is
garbage. `pause_collection_while_importing` wraps the import statement so the collector waits
until the outermost import has finished, then runs as usual. Commands import lazily, in the
middle of their work, so this is per import rather than one pause at start-up.

It is installed by `barometer.cli` (the executable), never by the library rooms: a process that
imports Barometer as a library keeps Python's own import statement.
"""

from __future__ import annotations

import builtins
import gc
from collections.abc import Callable

_PLAIN_IMPORT: Callable = builtins.__import__


def _import_without_collection(name, globals=None, locals=None, fromlist=(), level=0):
    """`__import__`, with the collector off until the outermost import returns or raises.

    An import inside another one (or while a caller has the collector off) leaves it alone, so
    only the outermost one turns it back on."""
    if not gc.isenabled():
        return _PLAIN_IMPORT(name, globals, locals, fromlist, level)
    gc.disable()
    try:
        return _PLAIN_IMPORT(name, globals, locals, fromlist, level)
    finally:
        gc.enable()


def pause_collection_while_importing() -> None:
    """Install the wrapped import statement (once; calling again changes nothing)."""
    builtins.__import__ = _import_without_collection
