"""Keep Streamlit's garbage collection after every script run cheap.

Streamlit runs ``gc.collect()`` after each script run (``runner.postScriptGC``), so that the memory of a
finished run (tensors, images) comes back at once. A full collection walks every object the process
tracks, and with torch, plotly and pandas imported that is about a million objects: 100-150 ms of CPU
per click on the 2-core classroom server, most of what a click cost. The imported modules live as long
as the process, so once a page's imports are done they are moved out of the collector's sight with
``gc.freeze()``; later collections walk only what the script runs create, and still free it.
"""
from __future__ import annotations

import gc
import sys

_modules_at_freeze = 0


def freeze_imports() -> bool:
    """Freeze the heap once new modules were imported since the last freeze; return whether it froze.

    A collection first, so that the garbage of this run is freed rather than frozen. It runs once per
    page's first visit in the process (when that page's imports arrive), never on an ordinary click.
    """
    global _modules_at_freeze
    if len(sys.modules) == _modules_at_freeze:
        return False
    gc.collect()
    gc.freeze()
    _modules_at_freeze = len(sys.modules)
    return True
