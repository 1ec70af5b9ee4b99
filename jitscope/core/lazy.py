"""A module imported when first used, for the modules every ``jitscope`` process loads.

The built-in workloads' files are loaded by every ``jitscope run`` parent (the registry
reads their sizes, parameters and kernel lists to plan the run) and by every worker, but
only a cell's inputs, reference, check and NumPy kernel use NumPy: importing it at their
top cost each parent and each pure-Python worker ~0.2 s of CPU for nothing
(docs/performance.md, "Start-up"). Such a file writes::

    if TYPE_CHECKING:
        import numpy as np
    else:
        np = LazyModule("numpy", globals(), "np")

and uses ``np`` as before. The first attribute read imports the module and puts it in the
handle's place in the file's namespace, so from then on ``np.zeros`` in a timed kernel is the
plain global lookup it always was (a function-level ``import`` would cost every call ~0.5 us).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any


class LazyModule:
    """Stands for module ``name``, bound as ``alias`` in ``namespace``, until first used."""

    def __init__(self, name: str, namespace: dict[str, Any], alias: str) -> None:
        self._name = name
        self._namespace = namespace
        self._alias = alias

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self._name)
        if self._namespace.get(self._alias) is self:
            self._namespace[self._alias] = module
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def loaded_numpy() -> Any:
    """NumPy if something already imported it, else None. Code that only asks "is this an
    array?" needs no import to answer: no value can be a NumPy array before NumPy is loaded,
    so a pure-Python cell never loads it to ask."""
    return sys.modules.get("numpy")
