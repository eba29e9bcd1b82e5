"""The run of one data cut, one concern per module: :mod:`build` tells the story (validate,
derive, execute, collect, render, swap); :mod:`kernels`, :mod:`progress`, :mod:`cache`,
:mod:`execute`, :mod:`collect`, :mod:`folder` and :mod:`manifest` do the steps.

``run``, ``RunResult`` and ``RunFailed`` are imported on first use (PEP 562), so that a run can
start its kernels (:mod:`kernels`) before it imports pandas, pandera and the rest of the suite.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"run": "build", "RunResult": "fast_path", "RunFailed": "errors"}

__all__ = ["RunFailed", "RunResult", "run"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
