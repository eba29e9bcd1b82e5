"""Where things live: the project's notebooks and report definition, and a run's folders.

A run of one cut owns these names inside ``OUTPUT/<study_id>/``: the report folder
``<cut>/``, the build folder ``.<cut>.build/`` (swapped in only on success), the previous
report ``.<cut>.previous/`` (aside for an instant during the swap), the lock ``.<cut>.lock``
with its holder ``.<cut>.lock.holder`` (both there only while a run holds the lock), and a kept
failed build ``.failed/<cut>/``. Nothing of the run's own machinery is inside ``<cut>/``.
The build folder is hidden, and Quarto ignores a project under a hidden folder: the Quarto
renderer renders elsewhere (:mod:`haplo_report.render.quarto`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from haplo_report.params import ParamsError

PACKAGE = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE.parent  # a checkout's root (its git state is the suite's commit)
# The notebooks, the report definition and the bundled example cut are package data, so an
# installed suite has them too: in a checkout haplo_report/notebooks, haplo_report/_quarto.yml
# and haplo_report/example/{data,example.yml} are links to notebooks/, _quarto.yml,
# data/example/ and params/example.yml (one copy of each); a wheel holds the files themselves.
NOTEBOOKS_DIR = (PACKAGE / "notebooks").resolve()
QUARTO_YML = (PACKAGE / "_quarto.yml").resolve()
EXAMPLE_DATA = (PACKAGE / "example" / "data").resolve()
EXAMPLE_PARAMS = (PACKAGE / "example" / "example.yml").resolve()
MANIFEST = "manifest.json"  # a run folder's record for auditors (haplo_report.run.manifest)
# A manifest's wall-clock values per notebook: never shown in the report, so that it is the
# same however often it is rendered.
TIMING_KEYS: tuple[str, ...] = ("start", "duration_s")
QC_CSV = "qc.csv"  # a run folder's independent check (haplo_report.analysis.qc)


@dataclass(frozen=True)
class RunFolders:
    """The folders and files of one study's data cut under the output folder."""

    study_dir: Path  # OUTPUT/<study_id>
    cut: str  # data cut date, YYYY-MM-DD

    @classmethod
    def of(cls, output_dir: Path, study_id: str, data_cut_date: str) -> RunFolders:
        """The folders of ``study_id``'s cut ``data_cut_date`` under ``output_dir``."""
        return cls(Path(output_dir) / study_id, data_cut_date)

    @property
    def final(self) -> Path:
        """The report folder of the last good run."""
        return self.study_dir / self.cut

    @property
    def build(self) -> Path:
        return self.study_dir / f".{self.cut}.build"

    @property
    def previous(self) -> Path:
        return self.study_dir / f".{self.cut}.previous"

    @property
    def failed(self) -> Path:
        return self.study_dir / ".failed" / self.cut

    @property
    def lock(self) -> Path:
        return self.study_dir / f".{self.cut}.lock"

    @property
    def lock_holder(self) -> Path:
        return self.study_dir / f".{self.cut}.lock.holder"


def previous_run(study_dir: Path, cut: dt.date) -> Path | None:
    """The latest run folder of an earlier cut under ``study_dir`` (``OUTPUT/<study>``); a
    link there is not a run folder of this output folder and is not followed."""
    earlier = []
    for path in study_dir.iterdir() if study_dir.is_dir() else ():
        try:
            date = dt.date.fromisoformat(path.name)
        except ValueError:
            continue
        if date < cut and not path.is_symlink() and (path / MANIFEST).is_file():
            earlier.append((date, path))
    return max(earlier)[1] if earlier else None


def resolve_previous(compare_to: str | None, study_dir: Path, cut: dt.date) -> Path | None:
    """The run folder a run compares with: ``compare_to`` as a date (a run folder under
    ``study_dir``) or a folder; by default the latest earlier cut (None when there is none).
    :class:`ParamsError` when ``compare_to`` names no earlier run folder."""
    if compare_to is None:
        return previous_run(study_dir, cut)
    try:
        path = study_dir / str(dt.date.fromisoformat(compare_to))
    except ValueError:
        path = Path(compare_to)
    else:
        if path.is_symlink():
            raise ParamsError(f"--compare-to {compare_to}: {path} is a link, not a run folder "
                              "of this output folder (not followed)")
    if not (path / MANIFEST).is_file():
        raise ParamsError(f"--compare-to {compare_to}: no run folder with a manifest.json at "
                          f"{path}")
    return path
