"""Analysis sets and ADaM-style datasets (ADSL, ADTTE, ADMRD, ADGVHD, ADAE) for one data cut.

The data-cut rule (SAP "Origin, unit, data cut") is applied here and nowhere else: only
information dated on or before ``data_cut_date`` is used. A patient whose informed consent is
after the cut is not enrolled at that cut and is in no dataset. Events after the cut are
ignored; follow-up ends at death (on or before the cut) or else at the last known alive date
(SAP v2: the latest of ``LSTALVDT`` and every dated record before death, capped at the cut).
A patient transplanted after the cut is enrolled but not in the full analysis set (FAS).

Everything is vectorised (group-wise minima and masks), so 100,000 patients derive in seconds.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import multiprocessing.process
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from haplo_report import plan
from haplo_report.data.cut import TABLES, Cut
from haplo_report.data.schemas import on_distinct
from haplo_report.limits import MIN_FREE_TEXT_PATIENTS
from haplo_report.params import Params
from haplo_report.text import spreadsheet_safe_frame

DATASETS: tuple[str, ...] = ("adsl", "adtte", "admrd", "adgvhd", "adae")
SUBGROUP_COLUMNS: tuple[str, ...] = ("MRDGRP", "DISGRP", "PHGRP")
# Death categories (DTHCAT), the words every table and listing uses (SAP v2, v3): the first two
# are defined for transplanted patients (FAS) only; a patient who died without being
# transplanted is "Death before transplant", whatever the recorded cause.
RELAPSE_RELATED = "Relapse-related"
NON_RELAPSE = "Non-relapse"
BEFORE_TRANSPLANT = "Death before transplant"
DEATH_CATEGORIES: tuple[str, ...] = (RELAPSE_RELATED, NON_RELAPSE, BEFORE_TRANSPLANT)

PARAMS: dict[str, str] = {
    "PFS": "Progression-free survival (days)",
    "OS": "Overall survival (days)",
    "CIR": "Time to relapse (days)",
    "NRM": "Time to non-relapse death (days)",
    "AGVHD24": "Time to acute GVHD grade II-IV (days)",
    "AGVHD34": "Time to acute GVHD grade III-IV (days)",
    "CGVHD": "Time to chronic GVHD, any severity (days)",
    "CGVHDMS": "Time to chronic GVHD, moderate-severe (days)",
    "GRFS": "GVHD-free, relapse-free survival (days)",
    "ANC": "Time to neutrophil recovery (days)",
    "PLT": "Time to platelet recovery (days)",
}

ADSL_ADDED: tuple[str, ...] = ("ENRLFL", "FASFL", "SAFFL", "CUTDT", "LKADT", "EOSDT",
                               "FUPDAYS", "DTHFL", "DTHDT", "DTHCAUS", "DTHCAT", "RELFL",
                               "RELDT", *SUBGROUP_COLUMNS)
ADTTE_COLUMNS: tuple[str, ...] = ("USUBJID", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL",
                                  "CNSR", "EVNTTYPE", "EVNTDESC", "CNSDTDSC", *SUBGROUP_COLUMNS)

# Columns (and sort keys) of the event tables, as the data-cut spec and Cut types them;
# used for the empty dataset of a table that was not supplied.
_EVENT_TABLES: dict[str, dict[str, str]] = {
    "mrd": {"USUBJID": "string", "MRDDT": "datetime64[ns]", "METHOD": "string",
            "RESULT": "float64"},
    "gvhd": {"USUBJID": "string", "GVHDTYPE": "string", "ONSETDT": "datetime64[ns]",
             "GRADE": "string", "ORGANS": "string", "SYSTX": "string"},
    "adverse_events": {"USUBJID": "string", "AETERM": "string", "AEDECOD": "string",
                       "AEBODSYS": "string", "AETOXGR": "Int64", "AESER": "string",
                       "AEREL": "string", "AESI": "string", "AESTDT": "datetime64[ns]"},
}
_SORT_KEYS: dict[str, list[str]] = {
    "mrd": ["USUBJID", "MRDDT", "METHOD", "RESULT"],
    "gvhd": ["USUBJID", "ONSETDT", "GVHDTYPE", "GRADE", "SYSTX"],
    "adverse_events": ["USUBJID", "AESTDT", "AEBODSYS", "AEDECOD", "AETOXGR", "AETERM"],
}

ACUTE_24 = ("II", "III", "IV")
ACUTE_34 = ("III", "IV")
CHRONIC_ANY = ("MILD", "MODERATE", "SEVERE")
CHRONIC_MS = ("MODERATE", "SEVERE")

CENSORED_AT_LAST_CONTACT = "ALIVE WITHOUT EVENT AT LAST CONTACT"
CENSORED_AT_CUT = "FOLLOW-UP CUT AT DATA CUT DATE"
NO_ENGRAFTMENT_RECORD = "NO ENGRAFTMENT RECORD"


# Free text shown in tables (SAP silent; privacy, issue 12): free-text columns keep a value only
# when MIN_FREE_TEXT_PATIENTS patients or more hold it, else "Other"; HLA match and GVHD organs
# are controlled (a "k/n" loci count; the MAGIC and NIH 2014 organ names).
FREE_TEXT: dict[str, tuple[str, ...]] = {"adsl": ("SITEID", "SUBTYPE", "CONDREG"),
                                         "adae": ("AETERM",)}
OTHER = "Other"
HLA_MATCH = r"[0-9]{1,2}/[0-9]{1,2}"
ORGANS: frozenset[str] = frozenset({
    "SKIN", "LIVER", "GUT", "GI", "UPPER GI", "LOWER GI", "UGI", "LGI", "MOUTH", "ORAL", "EYE",
    "EYES", "LUNG", "LUNGS", "JOINT", "JOINTS", "FASCIA", "JOINTS/FASCIA", "GENITAL",
    "GENITAL TRACT", "ESOPHAGUS", "MUSCLE", "KIDNEY", "NAILS", "HAIR", "SCALP", "OTHER"})


def grouped_free_text(values: pd.Series, patients: pd.Series) -> pd.Series:
    """``values`` with each value held by fewer than :data:`MIN_FREE_TEXT_PATIENTS` distinct
    ``patients`` replaced by "Other" (missing stays missing)."""
    held = patients.groupby(values.astype("string"), dropna=True).nunique()
    rare = held.index[held < MIN_FREE_TEXT_PATIENTS]
    return values.astype("string").mask(values.isin(rare), OTHER)


def controlled_organs(organs: pd.Series) -> pd.Series:
    """GVHD organ lists (``SKIN;GUT``) with each organ not in :data:`ORGANS` as "OTHER"."""
    def one(text: str) -> str:
        parts = [p.strip().upper() for p in text.split(";") if p.strip()]
        return ";".join(dict.fromkeys(p if p in ORGANS else "OTHER" for p in parts))
    return on_distinct(organs.astype("string"), lambda distinct: distinct.map(
        one, na_action="ignore").astype("string"))


class DerivedDataError(ValueError):
    """A derived-data folder that cannot be read; the message names the problem."""


@dataclass
class Derived:
    """The analysis datasets of one data cut and the rows supplied per input table."""

    adsl: pd.DataFrame
    adtte: pd.DataFrame
    admrd: pd.DataFrame
    adgvhd: pd.DataFrame
    adae: pd.DataFrame
    supplied: dict[str, int | None]

    def write(self, folder: Path) -> None:
        """Write each dataset as ``<name>.parquet`` and ``<name>.csv`` plus ``supplied.json``.

        Rows are already sorted and columns fixed by :func:`derive_cut`; CSV dates are ISO,
        floats ``%.10g``, line ends ``\\n``: equal inputs give equal bytes.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with _BackgroundCsv(self.adtte, folder / "adtte.csv") as background:
            for name in DATASETS:
                frame = getattr(self, name)
                frame.to_parquet(folder / f"{name}.parquet", index=False)
                if not (background.started and name == "adtte"):
                    _write_csv(frame, folder / f"{name}.csv")
        (folder / "supplied.json").write_text(json.dumps(self.supplied, indent=2) + "\n",
                                              encoding="utf-8")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A derived dataset as CSV, text cells a spreadsheet would run as formulas quoted."""
    spreadsheet_safe_frame(frame).to_csv(path, index=False, date_format="%Y-%m-%d", float_format="%.10g",
                 lineterminator="\n")


def _write_csv_in_child(frame: pd.DataFrame, path: Path, report: Connection) -> None:
    try:
        _write_csv(frame, path)
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which raises it
        report.send((getattr(exc, "errno", None) or errno.EIO, str(exc)))
        raise SystemExit(1) from None
    report.send(None)


class _BackgroundCsv:
    """Write one frame's CSV copy in a forked process while this one writes the rest.

    pandas' CSV writer holds the GIL (a thread would not help): at 100,000 patients the
    1 M-row ADTTE takes 3.4 s, about as long as every other file and the cache keys together,
    so a second process halves the step. A fork shares the frame without copying or pickling
    it; where fork is not available the CSV is written in this process (``started`` False).
    On leaving, waits for the child and raises its error as :class:`OSError` naming the file.
    """

    def __init__(self, frame: pd.DataFrame, path: Path) -> None:
        self._frame = frame
        self._path = path
        self._child: multiprocessing.process.BaseProcess | None = None
        self.started = False

    def __enter__(self) -> _BackgroundCsv:
        if "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            self._report, sending = context.Pipe(duplex=False)
            self._child = context.Process(target=_write_csv_in_child,
                                          args=(self._frame, self._path, sending))
            self._child.start()
            sending.close()
            self.started = True
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        child = self._child
        if child is None:
            return
        if kind is not None:  # this process failed or was interrupted: stop the child
            child.terminate()
            child.join()
            return
        try:
            error = self._report.recv()
        except EOFError:  # ended without a word: killed (out of memory, a signal)
            error = None
        child.join()
        if error is None and child.exitcode != 0:
            error = (errno.EIO, f"the process writing it ended with exit code {child.exitcode}")
        if error is not None:
            raise OSError(error[0], error[1], str(self._path))


_ARROW_TEXT = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}


class _DerivedOnDemand(Derived):
    """:class:`Derived` whose datasets are read from their Parquet files on first use.

    A notebook uses two or three of the five datasets; reading only those keeps a kernel at
    100,000 patients from holding the 1 M-row ADTTE it never reads (hand-written: pandas and
    pyarrow read whole files, not attributes).
    """

    def __init__(self, paths: dict[str, Path], supplied: dict[str, int | None],
                 endpoints: tuple[str, ...] | None = None) -> None:
        self._paths = paths
        self._endpoints = endpoints
        self.supplied = supplied

    def __getattr__(self, name: str) -> pd.DataFrame:  # only called for attributes not yet set
        if name not in DATASETS or "_paths" not in self.__dict__:
            raise AttributeError(name)
        if name == "adtte" and self._endpoints is not None:
            frame = _read_rows(self._paths[name], "PARAMCD", self._endpoints)
        else:
            frame = read_dataset(self._paths[name])
        setattr(self, name, frame)
        return frame


def _read_rows(path: Path, column: str, values: tuple[str, ...]) -> pd.DataFrame:
    """The rows of a derived dataset whose ``column`` is one of ``values``, indexed by their
    position in the file (as ``frame[frame[column].isin(values)]`` of the whole dataset).

    Read batch by batch (hand-written: pyarrow's filtered reads do not say where a row was):
    at 100,000 patients a notebook's endpoints are a tenth of ADTTE's 2 M rows, and a kernel
    holding all of them was most of the run's peak memory.
    """
    wanted = pa.array(values, type=pa.string())
    file = pq.ParquetFile(path)
    batches, positions, start = [], [], 0
    for batch in file.iter_batches():
        keep = pc.is_in(batch.column(column), value_set=wanted).to_numpy(zero_copy_only=False)
        batches.append(batch.filter(keep))
        positions.append(np.flatnonzero(keep) + start)
        start += batch.num_rows
    schema = file.schema_arrow
    table = pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()
    frame = table.to_pandas(types_mapper=_ARROW_TEXT.get)
    frame.index = pd.Index(np.concatenate(positions) if positions else [], dtype="int64")
    return frame


def read_dataset(path: Path) -> pd.DataFrame:
    """One derived dataset written by :meth:`Derived.write` (``<name>.parquet``)."""
    # Text stays in Arrow buffers (pandas "string" dtype, pyarrow storage) rather than one
    # Python object per value: at 100,000 patients a third of the memory, three times faster.
    return pq.read_table(path).to_pandas(types_mapper=_ARROW_TEXT.get)


def load_derived(folder: Path, notebook: str | None = None) -> Derived:
    """Datasets written by :meth:`Derived.write` (the Parquet files keep the types), each read
    when first used; for ``notebook`` (a :mod:`plan` entry) ADTTE holds only the rows of its
    endpoints, the rows its cache key covers."""
    folder = Path(folder)
    paths = {name: folder / f"{name}.parquet" for name in DATASETS}
    paths["supplied"] = folder / "supplied.json"
    missing = [path.name for path in paths.values() if not path.is_file()]
    if missing:
        raise DerivedDataError(f"{folder}: derived dataset(s) not found: {', '.join(missing)}")
    try:
        supplied = json.loads(paths["supplied"].read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DerivedDataError(f"{paths['supplied']}: not valid JSON ({error})") from None
    spec = next((s for s in plan.NOTEBOOKS if s.name == notebook), None)
    if notebook is not None and spec is None:
        raise ValueError(f"no notebook {notebook!r} in the report plan")
    endpoints = None if spec is None or "*" in spec.endpoints else spec.endpoints
    return _DerivedOnDemand(paths, supplied, endpoints)


def of_subjects(usubjid: pd.Series, subjects: pd.Series) -> pd.Series:
    """``usubjid.isin(subjects)`` (True where the subject is one of ``subjects``), fast for
    Arrow-backed text too.

    Hand-written because pandas' ``isin`` on Arrow-backed text converts each wanted value to a
    pyarrow scalar one by one: 0.4 s per call at 100,000 patients; Arrow's own ``is_in`` takes
    a few milliseconds.
    """
    found = pc.is_in(pa.array(usubjid, type=pa.large_string(), from_pandas=True),
                     value_set=pa.array(subjects, type=pa.large_string(), from_pandas=True))
    return pd.Series(found.to_numpy(zero_copy_only=False), index=usubjid.index, dtype=bool)


def derive_cut(cut: Cut, params: Params) -> Derived:
    """All analysis datasets of ``cut`` at ``params.data_cut_date``."""
    cut_date = pd.Timestamp(params.data_cut_date)
    adsl = derive_adsl(cut, cut_date, mrdpre_cutoff=params.mrdpre_cutoff)
    return Derived(
        adsl=adsl,
        adtte=derive_adtte(cut, adsl, cut_date,
                           gvhd_relapse_competes=params.gvhd_relapse_competes),
        admrd=_event_dataset(cut.mrd, "mrd", "MRDDT", adsl, cut_date),
        adgvhd=_event_dataset(cut.gvhd, "gvhd", "ONSETDT", adsl, cut_date),
        adae=_event_dataset(cut.adverse_events, "adverse_events", "AESTDT", adsl, cut_date,
                            extra=("SAFFL",)),
        supplied={name: cut.supplied()[name] for name in TABLES},
    )


def cutoff_label(cutoff: float) -> str:
    """``1e-3`` for 0.001: the MRD cutoff as the SAP writes it."""
    mantissa, exponent = f"{cutoff:e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _on_or_before(frame: pd.DataFrame | None, column: str, cut_date: pd.Timestamp
                  ) -> pd.DataFrame | None:
    return None if frame is None else frame[frame[column] <= cut_date]


def _first(frame: pd.DataFrame | None, column: str, index: pd.Index,
           mask: pd.Series | None = None) -> pd.Series:
    """Earliest ``column`` date per patient (``NaT`` without a row), aligned to ``index``."""
    if frame is None:
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    rows = frame if mask is None else frame[mask.fillna(False).astype(bool)]
    return rows.groupby("USUBJID")[column].min().reindex(index).astype("datetime64[ns]")


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.days.astype("Int64")


def last_known_alive(cut: Cut, cut_date: pd.Timestamp, ids: pd.Index,
                     death_date: pd.Series) -> pd.Series:
    """Per patient the last date known alive on or before the cut (SAP v2, as ADaM derives
    it): the latest of ``LSTALVDT`` and every dated record before death and on or before the
    cut (relapse, MRD assessment, GVHD onset, engraftment, adverse event start), capped at the
    cut. A death date is never "alive": records on or after the death date do not count."""
    subjects = cut.subjects.set_index("USUBJID")
    dates = [subjects["LSTALVDT"].reindex(ids).astype("datetime64[ns]").clip(upper=cut_date)]
    records = ((cut.relapses, ("RELDT",)), (cut.mrd, ("MRDDT",)), (cut.gvhd, ("ONSETDT",)),
               (cut.engraftment, ("ANCDT", "PLTDT")), (cut.adverse_events, ("AESTDT",)))
    for frame, columns in records:
        if frame is None:
            continue
        for column in columns:
            death = frame["USUBJID"].map(death_date).astype("datetime64[ns]")
            alive = (frame[column] <= cut_date) & ~(frame[column] >= death).fillna(False)
            dates.append(_latest(frame[alive.fillna(False)], column, ids))
    return pd.concat(dates, axis=1).max(axis=1).astype("datetime64[ns]")


def _latest(frame: pd.DataFrame, column: str, index: pd.Index) -> pd.Series:
    """Latest ``column`` date per patient (``NaT`` without a row), aligned to ``index``."""
    return frame.groupby("USUBJID")[column].max().reindex(index).astype("datetime64[ns]")


def derive_adsl(cut: Cut, cut_date: pd.Timestamp, *, mrdpre_cutoff: float) -> pd.DataFrame:
    """One row per patient enrolled at the cut (informed consent ``RFICDT`` on or before it):
    the subjects columns plus flags, death, relapse, end of follow-up and subgroups.

    - FASFL: transplanted on or before the cut; SAFFL: ``BLINDAYS`` > 0 (missing: N), within
      the enrolled patients.
    - DTHFL/DTHDT/DTHCAUS, RELFL/RELDT (first relapse): only dates on or before the cut.
    - LKADT: last known alive on or before the cut (:func:`last_known_alive`).
    - EOSDT: the death date when dead, else LKADT; FUPDAYS: EOSDT - HSCTDT for FAS patients.
    - DTHCAT: for a patient who died without being transplanted on or before the cut
      "Death before transplant" (SAP v3), whatever the cause; else "Relapse-related" when
      death is on or after the first relapse, whatever the recorded cause (SAP v2), else
      "Non-relapse"; missing when alive.
    - MRDGRP by ``MRDPRE`` >= ``mrdpre_cutoff``; DISGRP "CR1" / "CR2+" (CR2, CR3+);
      PHGRP "Ph-positive" when ``SUBTYPE`` names Ph-positive, else "Ph-negative"
      (Ph-like ALL is BCR-ABL1 negative).
    """
    adsl = cut.subjects[(cut.subjects["RFICDT"] <= cut_date).fillna(False)].copy()
    ids = pd.Index(adsl["USUBJID"])
    deaths = _on_or_before(cut.deaths, "DTHDT", cut_date).set_index("USUBJID")
    death_date = deaths["DTHDT"].reindex(ids).astype("datetime64[ns]")
    relapse_date = _first(_on_or_before(cut.relapses, "RELDT", cut_date), "RELDT", ids)
    transplanted = adsl["HSCTDT"].notna() & (adsl["HSCTDT"] <= cut_date)
    dead = death_date.notna().to_numpy()
    relapsed = relapse_date.notna().to_numpy()
    yes_no = np.array(["N", "Y"])
    all_deaths = cut.deaths.set_index("USUBJID")["DTHDT"].reindex(ids)
    alive_until = last_known_alive(cut, cut_date, ids, all_deaths)
    eos = np.where(dead, death_date.to_numpy(), alive_until.to_numpy())
    cause = deaths["DTHCAUS"].reindex(ids).astype("string").to_numpy()
    relapse_death = relapsed & (relapse_date <= death_date).fillna(False).to_numpy()
    subtype = adsl["SUBTYPE"].astype("string").str.upper()
    disstat = adsl["DISSTAT"].astype("string")
    label = cutoff_label(mrdpre_cutoff)
    added = {
        "ENRLFL": np.full(len(adsl), "Y", dtype=object),
        "FASFL": yes_no[transplanted.to_numpy(dtype=int)],
        "SAFFL": yes_no[(adsl["BLINDAYS"] > 0).fillna(False).to_numpy(dtype=int)],
        "CUTDT": np.full(len(adsl), cut_date.to_datetime64()).astype("datetime64[ns]"),
        "LKADT": alive_until.to_numpy(),
        "EOSDT": pd.to_datetime(eos).astype("datetime64[ns]"),
        "DTHFL": yes_no[dead.astype(int)],
        "DTHDT": death_date.to_numpy(),
        "DTHCAUS": cause,
        "DTHCAT": np.where(~dead, None, np.where(
            ~transplanted.to_numpy(), BEFORE_TRANSPLANT,
            np.where(relapse_death, RELAPSE_RELATED, NON_RELAPSE))),
        "RELFL": yes_no[relapsed.astype(int)],
        "RELDT": relapse_date.to_numpy(),
        "MRDGRP": np.where(adsl["MRDPRE"].isna(), None,
                           np.where(adsl["MRDPRE"] >= mrdpre_cutoff, f">={label}",
                                    f"<{label}")),
        "DISGRP": np.where(disstat.isna(), None,
                           np.where(disstat.eq("CR1").fillna(False), "CR1", "CR2+")),
        "PHGRP": np.where(subtype.isna(), None,
                          np.where(subtype.str.contains("PH-POSITIVE|PH\\+").fillna(False),
                                   "Ph-positive", "Ph-negative")),
    }
    for name, values in added.items():
        adsl[name] = values
    for column in (c for c in FREE_TEXT["adsl"] if c in adsl.columns):
        adsl[column] = grouped_free_text(adsl[column], adsl["USUBJID"])
    if "HLAMATCH" in adsl.columns:
        hla = adsl["HLAMATCH"].astype("string")
        adsl["HLAMATCH"] = hla.mask(~hla.str.fullmatch(HLA_MATCH).fillna(True), OTHER)
    adsl["FUPDAYS"] = _days(adsl["EOSDT"], adsl["HSCTDT"]).where(transplanted.to_numpy())
    text = ["ENRLFL", "FASFL", "SAFFL", "DTHFL", "DTHCAUS", "DTHCAT", "RELFL",
            *SUBGROUP_COLUMNS]
    adsl[text] = adsl[text].astype("string")
    columns = [c for c in cut.subjects.columns if c not in ADSL_ADDED] + list(ADSL_ADDED)
    return adsl[columns].sort_values("USUBJID", kind="stable").reset_index(drop=True)


def _endpoint(base: pd.DataFrame, paramcd: str, event: pd.Series, event_desc: pd.Series | str,
              competing: pd.Series | None = None, competing_desc: pd.Series | str = "",
              *, competing_wins_ties: bool = False,
              no_record: pd.Series | None = None) -> pd.DataFrame:
    """ADTTE rows of one parameter from per-patient dates aligned to ``base`` (FAS, by USUBJID).

    The earlier of ``event`` and ``competing`` counts; on the same day the event counts
    unless ``competing_wins_ties``. Without either, the patient is censored at EOSDT (CNSR 1
    at last contact, CNSR 2 when follow-up was cut at the data cut); ``no_record`` marks
    patients with nothing recorded, censored at EOSDT with CNSR 4.
    """
    if competing is None:
        competing = pd.Series(pd.NaT, index=base.index, dtype="datetime64[ns]")
    before = competing <= event if competing_wins_ties else competing < event
    is_event = event.notna() & ~before.fillna(False)
    if no_record is None:
        no_record = pd.Series(False, index=base.index)
    no_record = no_record & ~is_event
    is_competing = competing.notna() & ~is_event & ~no_record
    at_cut = base["CENSORED_AT_CUT"]
    adt = base["EOSDT"].mask(is_event, event).mask(is_competing, competing)
    cnsr = np.select([is_event, is_competing, no_record, at_cut], [0, 3, 4, 2], 1)
    desc = np.select(
        [is_event, is_competing, no_record, at_cut],
        [pd.Series(event_desc, index=base.index).astype(object),
         pd.Series(competing_desc, index=base.index).astype(object),
         NO_ENGRAFTMENT_RECORD, CENSORED_AT_CUT], CENSORED_AT_LAST_CONTACT)
    date_desc = np.select([is_event | is_competing, no_record, at_cut],
                          [None, "END OF FOLLOW-UP", "DATA CUT DATE"], "LAST KNOWN ALIVE DATE")
    return pd.DataFrame({
        "USUBJID": base.index,
        "PARAMCD": paramcd,
        "PARAM": PARAMS[paramcd],
        "STARTDT": base["HSCTDT"].to_numpy(),
        "ADT": adt.to_numpy(),
        "AVAL": (adt - base["HSCTDT"]).dt.days.to_numpy(dtype="int64"),
        "CNSR": cnsr.astype("int64"),
        "EVNTTYPE": np.select([is_event, is_competing], [1, 2], 0).astype("int64"),
        "EVNTDESC": desc,
        "CNSDTDSC": date_desc,
        **{column: base[column].to_numpy() for column in SUBGROUP_COLUMNS},
    })


def _earliest(dates: dict[str, pd.Series]) -> tuple[pd.Series, pd.Series]:
    """Per patient the earliest of several dates and the name of the first (in dict order)
    reaching it: on the same day the earlier-listed component names the event."""
    frame = pd.DataFrame(dates)
    first = frame.min(axis=1)
    name = pd.Series(None, index=frame.index, dtype=object)
    for label in reversed(list(dates)):
        name = name.mask(frame[label].eq(first) & frame[label].notna(), label)
    return first.astype("datetime64[ns]"), name


def derive_adtte(cut: Cut, adsl: pd.DataFrame, cut_date: pd.Timestamp, *,
                 gvhd_relapse_competes: bool) -> pd.DataFrame:
    """One row per FAS patient per parameter (``PARAMS``), AVAL in days from transplant.

    Ties (same day):
    - PFS: relapse and death on one day is described as RELAPSE.
    - CIR / NRM: a relapse on the death date is the first event: CIR event, NRM competing.
    - GVHD endpoints: onset on the day of death (or relapse, when it competes) is the event.
    - GRFS: the event is named by the first component in the order acute GVHD III-IV,
      chronic GVHD needing systemic therapy, relapse, death.
    - ANC / PLT: recovery on the day of death is the event.
    Without a gvhd table the GVHD endpoints and GRFS are absent; without an engraftment
    table ANC and PLT are absent; a FAS patient without an engraftment row is censored at
    end of follow-up with CNSR 4.
    """
    base = adsl[adsl["FASFL"] == "Y"].set_index("USUBJID")
    base = base.assign(CENSORED_AT_CUT=base["LSTALVDT"] > base["CUTDT"])
    ids = base.index
    death = base["DTHDT"].astype("datetime64[ns]")
    relapse = base["RELDT"].astype("datetime64[ns]")

    pfs_desc = pd.Series(np.where(relapse.notna() & ~(death < relapse).fillna(False),
                                  "RELAPSE", "DEATH"), index=ids)
    frames = [
        _endpoint(base, "PFS", pd.concat([relapse, death], axis=1).min(axis=1)
                  .astype("datetime64[ns]"), pfs_desc),
        _endpoint(base, "OS", death, "DEATH"),
        _endpoint(base, "CIR", relapse, "RELAPSE", death, "DEATH WITHOUT RELAPSE (COMPETING)"),
        _endpoint(base, "NRM", death, "DEATH WITHOUT RELAPSE", relapse, "RELAPSE (COMPETING)",
                  competing_wins_ties=True),
    ]

    gvhd = _on_or_before(cut.gvhd, "ONSETDT", cut_date)
    if gvhd is not None:
        kind, grade = gvhd["GVHDTYPE"].astype("string"), gvhd["GRADE"].astype("string")
        acute, chronic = kind.eq("ACUTE"), kind.eq("CHRONIC")
        gvhd_endpoints = {
            "AGVHD24": (acute & grade.isin(ACUTE_24), "ACUTE GVHD II-IV"),
            "AGVHD34": (acute & grade.isin(ACUTE_34), "ACUTE GVHD III-IV"),
            "CGVHD": (chronic & grade.isin(CHRONIC_ANY), "CHRONIC GVHD"),
            "CGVHDMS": (chronic & grade.isin(CHRONIC_MS), "CHRONIC GVHD MODERATE-SEVERE"),
        }
        if gvhd_relapse_competes:
            competing, competing_name = _earliest({"RELAPSE": relapse, "DEATH": death})
        else:
            competing, competing_name = death, pd.Series("DEATH", index=ids)
        for paramcd, (mask, label) in gvhd_endpoints.items():
            frames.append(_endpoint(base, paramcd, _first(gvhd, "ONSETDT", ids, mask), label,
                                    competing,
                                    competing_name.astype("string") + f" WITHOUT {label} (COMPETING)"))
        systemic = chronic & gvhd["SYSTX"].astype("string").eq("Y")
        grfs, grfs_name = _earliest({
            "ACUTE GVHD III-IV": _first(gvhd, "ONSETDT", ids, acute & grade.isin(ACUTE_34)),
            "CHRONIC GVHD REQUIRING SYSTEMIC THERAPY": _first(gvhd, "ONSETDT", ids, systemic),
            "RELAPSE": relapse,
            "DEATH": death,
        })
        frames.append(_endpoint(base, "GRFS", grfs, grfs_name))

    engraftment = cut.engraftment
    if engraftment is not None:
        recorded = engraftment.drop_duplicates("USUBJID").set_index("USUBJID")
        no_record = pd.Series(~ids.isin(recorded.index), index=ids)
        for paramcd, column, label in (("ANC", "ANCDT", "NEUTROPHIL RECOVERY"),
                                       ("PLT", "PLTDT", "PLATELET RECOVERY")):
            recovery = recorded[column].reindex(ids).astype("datetime64[ns]")
            recovery = recovery.where(recovery <= cut_date)
            frames.append(_endpoint(base, paramcd, recovery, label, death,
                                    f"DEATH WITHOUT {label} (COMPETING)", no_record=no_record))

    adtte = pd.concat(frames, ignore_index=True)
    order = {code: i for i, code in enumerate(PARAMS)}
    adtte = (adtte.assign(_ORDER=adtte["PARAMCD"].map(order))
             .sort_values(["_ORDER", "USUBJID"], kind="stable")
             .drop(columns="_ORDER").reset_index(drop=True))
    text = ["USUBJID", "PARAMCD", "PARAM", "EVNTDESC", "CNSDTDSC", *SUBGROUP_COLUMNS]
    adtte[text] = adtte[text].astype("string")
    for column in ("STARTDT", "ADT"):
        adtte[column] = adtte[column].astype("datetime64[ns]")
    return adtte[list(ADTTE_COLUMNS)]


def _event_dataset(frame: pd.DataFrame | None, table: str, date_column: str,
                   adsl: pd.DataFrame, cut_date: pd.Timestamp,
                   extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows of an event table of enrolled patients dated on or before the cut, with ``ADY``
    (days from transplant; negative before it, missing when never transplanted) and ``extra``
    ADSL columns."""
    if frame is None:
        frame = pd.DataFrame({c: pd.Series(dtype=t) for c, t in _EVENT_TABLES[table].items()})
    rows = frame[(frame[date_column] <= cut_date)
                 & of_subjects(frame["USUBJID"], adsl["USUBJID"])].copy()
    subjects = adsl.set_index("USUBJID")
    rows["ADY"] = _days(rows[date_column],
                        rows["USUBJID"].map(subjects["HSCTDT"]).astype("datetime64[ns]"))
    for column in extra:
        rows[column] = rows["USUBJID"].map(subjects[column]).astype("string")
    if table == "adverse_events":
        for column in (c for c in FREE_TEXT["adae"] if c in rows.columns):
            rows[column] = grouped_free_text(rows[column], rows["USUBJID"])
    if table == "gvhd" and "ORGANS" in rows.columns:
        rows["ORGANS"] = controlled_organs(rows["ORGANS"])
    return rows.sort_values(_SORT_KEYS[table], kind="stable").reset_index(drop=True)
