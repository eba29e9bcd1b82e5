"""``haplo-report qualify``: the steps in order, with progress, then the report.

1. the shipped reference files against their manifest (an altered file is named, never used);
2. the environment against the shipped lock;
3. the R reference cases;
4. the bundled example cut end to end in a temporary folder, with ``verify --reproduce``;
5. the report (PDF, HTML) and ``qualification.json``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import TextIO

from haplo_report.qualification.checks import Check
from haplo_report.qualification.end_to_end import end_to_end_checks
from haplo_report.qualification.environment import environment_checks
from haplo_report.qualification.integrity import REFERENCE_DIR, check_manifest
from haplo_report.qualification.reference_cases import References, reference_checks
from haplo_report.qualification.report import Qualification, write_reports

STEPS = 5


class _Steps:
    """One progress line per step and per reference set, with the time since the start."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.start, self.step = stream, time.monotonic(), 0

    def say(self, text: str) -> None:
        self.stream.write(f"qualify [{time.monotonic() - self.start:5.1f} s] {text}\n")
        self.stream.flush()

    def begin(self, text: str) -> None:
        self.step += 1
        self.say(f"{self.step}/{STEPS} {text}")

    def done(self, checks: list[Check]) -> None:
        failed = sum(not check.passed for check in checks)
        self.say(f"    {len(checks)} checks, {failed} failed")


def qualify(out_dir: Path, stream: TextIO, *, jobs: int | None = None,
            reference_dir: Path = REFERENCE_DIR,
            end_to_end: bool = True) -> tuple[Qualification, dict[str, Path]]:
    """Every check, then the report in ``out_dir``. ``reference_dir``: the reference cases to
    check (the shipped ones); ``end_to_end=False`` leaves out the run of the example cut
    (tests of the reference checks alone)."""
    steps = _Steps(stream)
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    steps.begin("reference files against their manifest")
    manifest, unusable = check_manifest(reference_dir)
    steps.done(manifest)
    steps.begin("environment against the lock")
    environment, versions = environment_checks()
    steps.done(environment)
    steps.begin("R reference cases")
    references = reference_checks(References(reference_dir, unusable),
                                  lambda section: steps.say(f"    {section}"))
    steps.done(references)
    checks = manifest + environment + references
    if end_to_end:
        steps.begin("the example cut end to end, then verify --reproduce")
        with tempfile.TemporaryDirectory(prefix="haplo-report-qualify-") as temporary:
            run = end_to_end_checks(Path(temporary), stream, jobs)
        steps.done(run)
        checks += run
    else:
        steps.begin("the example cut end to end: left out")
    result = Qualification(checks, versions, started, time.monotonic() - steps.start)
    steps.begin("the qualification report (PDF, HTML, JSON)")
    written = write_reports(result, Path(out_dir))
    steps.say(f"report written: {', '.join(str(p) for p in written.values())}")
    return result, written
