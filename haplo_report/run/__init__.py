"""The run of one data cut, one concern per module: :mod:`build` tells the story (validate,
derive, execute, collect, render, swap); :mod:`kernels`, :mod:`progress`, :mod:`cache`,
:mod:`execute`, :mod:`collect`, :mod:`folder` and :mod:`manifest` do the steps."""

from haplo_report.run.build import RunResult, run
from haplo_report.run.errors import RunFailed

__all__ = ["RunFailed", "RunResult", "run"]
