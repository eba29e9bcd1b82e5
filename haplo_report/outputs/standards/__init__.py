"""Standard outputs beside the report: ADaM datasets as SAS transport v5 with Define-XML 2.1,
and every result row as a CDISC Analysis Results Standard (ARS v1.0) reporting event."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from haplo_report.analysis.derive import read_dataset
from haplo_report.outputs.standards.ars import ArsError, write_ars
from haplo_report.outputs.standards.define import DefineBuilder
from haplo_report.outputs.standards.metadata import DATASET_LABELS, MetadataError
from haplo_report.outputs.standards.xpt import (check_transport_rules, transport_frame,
                                               write_xpt)

ADAM_DIR = Path("data") / "adam"
ARS_FILE = Path("results") / "ars.json"


class StandardOutputError(ValueError):
    """A standard output could not be written; the message names the dataset or id."""


def write_standard_outputs(run_dir: Path, *, study_id: str, study_title: str,
                           data_cut_date: str, adam: bool = True) -> list[Path]:
    """``data/adam/`` (XPT per dataset and define.xml; not with ``adam`` False: taken over
    from an earlier run of the same derived data) and ``results/ars.json`` in ``run_dir``
    (which holds the derived data in ``data/`` and the collected result rows)."""
    cut = dt.date.fromisoformat(data_cut_date)
    folder = run_dir / ADAM_DIR
    written = []
    try:
        if adam:
            folder.mkdir(parents=True, exist_ok=True)
            define = DefineBuilder(study_id=study_id, study_title=study_title, cut=cut)
            for dataset in DATASET_LABELS:  # one dataset and its transport frame at once
                frame = read_dataset(run_dir / "data" / f"{dataset.lower()}.parquet")
                out = transport_frame(frame, study_id)
                labels = check_transport_rules(dataset, out)
                define.add(dataset, frame, out)
                del out  # at 100,000 patients ADTTE's is ~0.4 GB; the XPT is written from frame
                written.append(write_xpt(dataset, frame, folder / f"{dataset.lower()}.xpt",
                                         study_id=study_id, cut=cut, labels=labels))
                del frame
            written.append(define.write(folder / "define.xml"))
        written.append(write_ars(run_dir, run_dir / ARS_FILE, study_id=study_id,
                                 study_title=study_title, data_cut_date=data_cut_date))
    except (MetadataError, ArsError) as exc:
        raise StandardOutputError(f"standard outputs: {exc}") from None
    return written
