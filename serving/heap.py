"""Keep the garbage collector's full passes short while serving.

The service holds large long-lived structures (models, score snapshots, feature rows). CPython's
full collections walk every tracked object, so without care each one pauses all requests for the
whole heap. After loading, `settle_heap` collects once and freezes what is alive
(`gc.freeze`): later full collections walk only what requests allocate.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect, then freeze the survivors; run after loading or swapping state, never per request.

    Unfreezing first lets state replaced since the last call be collected if it sits in a cycle."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def thaw_heap() -> None:
    """Undo `settle_heap` (at shutdown, so what was frozen is released normally)."""
    gc.unfreeze()
