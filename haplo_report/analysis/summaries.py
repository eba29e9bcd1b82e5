"""Descriptive summaries as result rows: counts with their denominator, medians and ranges.

Every descriptive number a table shows is a :class:`ResultRow` too, so tables are built from
rows only. Conventions (docs/architecture.md, "Numbered outputs"):

- a count: ``statistic="count"``, ``estimate`` = patients, ``n`` = denominator,
  ``subgroup`` names the category (``"SEX=F"``, ``"SOC=Infections and infestations;PT=Sepsis"``;
  levels escaped by :func:`~haplo_report.analysis.results.subgroup_key`, a missing level empty:
  ``"SUBTYPE="``);
- a continuous variable: ``statistic`` ``median``, ``q25``, ``q75``, ``min``, ``max`` with
  ``subgroup`` = the variable name and ``n`` = patients with a value.

Adverse events count each subject once per category, at the worst CTCAE grade; appended to a
category's subgroup, ``";AETOXGR=3-5"`` marks its grade >= 3 count, ``";AESER=Y"`` serious,
``";AEREL=Y"`` related to blinatumomab, ``";AETOXGR=5"`` fatal, ``";MAXGRADE=g"`` the subjects
whose worst grade in the category is g.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from haplo_report.analysis.derive import (BEFORE_TRANSPLANT, NON_RELAPSE, RELAPSE_RELATED,
                                          of_subjects)
from haplo_report.analysis.frames import flagged, require_columns
from haplo_report.analysis.results import ResultRow, subgroup_key
from haplo_report.params import Params

COUNT_METHOD = "Number of patients (% of N)"
CONTINUOUS_METHOD = "Median, quartiles (linear interpolation, R type 7) and range"
AE_METHOD = "Subjects counted once per category at their worst CTCAE grade (% of N)"
MISSING = "Missing"
GRADE3 = "AETOXGR=3-5"
SERIOUS = "AESER=Y"
RELATED = "AEREL=Y"
FATAL = "AETOXGR=5"
# The columns of the SOC/PT and AESI tables, by subgroup suffix ("" = any grade).
AE_COLUMNS: tuple[str, ...] = ("", GRADE3, SERIOUS, RELATED, FATAL)
AE_GRADES: tuple[int, ...] = (1, 2, 3, 4, 5)
# Columns of deaths_and_serious_events (Listing 16.2.7) and their types.
LISTING_TYPES: dict[str, str] = {
    "USUBJID": "string", "SAFFL": "string", "ADY": "Int64", "DATE": "datetime64[ns]",
    "EVENT": "string",
    "TERM": "string", "SOC": "string", "GRADE": "Int64", "RELATED": "string",
    "DTHCAT": "string"}

# (kind, variable) in table order; kind is "continuous" or "categorical".
BASELINE_VARIABLES: tuple[tuple[str, str], ...] = (
    ("continuous", "AGE"), ("categorical", "SEX"), ("categorical", "SUBTYPE"),
    ("categorical", "DISSTAT"), ("categorical", "PHGRP"), ("continuous", "MRDPRE"),
    ("categorical", "MRDGRP"), ("categorical", "MRDMETH"),
)
TRANSPLANT_VARIABLES: tuple[tuple[str, str], ...] = (
    ("categorical", "DONREL"), ("categorical", "HLAMATCH"), ("categorical", "GRAFTSRC"),
    ("continuous", "CD34DOSE"), ("continuous", "BLINDAYS"), ("categorical", "CONDREG"),
)
ACUTE_GRADES: tuple[str, ...] = ("None", "I", "II", "III", "IV")
CHRONIC_GRADES: tuple[str, ...] = ("None", "MILD", "MODERATE", "SEVERE")
AESI_TYPES: tuple[str, ...] = ("CRS", "ICANS", "INFECTION")
# Viral reactivations among infections, recognised in the MedDRA preferred term.
REACTIVATIONS: dict[str, str] = {"CMV reactivation": r"\bCMV\b|cytomegalovirus",
                                 "EBV reactivation": r"\bEBV\b|epstein-barr"}


def count_row(endpoint: str, subgroup: str, count: int, denominator: int,
              method: str = COUNT_METHOD) -> ResultRow:
    """One count with its denominator."""
    return ResultRow(endpoint, subgroup, "count", None, float(count), n=int(denominator),
                     method=method)


def categorical_rows(frame: pd.DataFrame, variable: str, endpoint: str,
                     levels: Sequence[str] | None = None) -> list[ResultRow]:
    """Patients per level of ``variable`` (denominator: all rows of ``frame``).

    Levels are ``levels`` in that order (zero counts kept) or the observed ones sorted;
    missing values get a trailing row (level missing: ``"VARIABLE="``) when there are any.
    """
    require_columns(frame, [variable], endpoint)
    values = frame[variable].astype("string")
    counts = values.value_counts(dropna=True)
    order = list(levels) if levels is not None else sorted(counts.index)
    total = len(frame)
    rows = [count_row(endpoint, subgroup_key((variable, level)), int(counts.get(level, 0)),
                      total) for level in order]
    n_missing = int(values.isna().sum())
    if n_missing:
        rows.append(count_row(endpoint, subgroup_key((variable, None)), n_missing, total))
    return rows


def continuous_rows(frame: pd.DataFrame, variable: str, endpoint: str) -> list[ResultRow]:
    """Median, quartiles and range of ``variable``; ``n`` counts the non-missing values."""
    require_columns(frame, [variable], endpoint)
    values = pd.to_numeric(frame[variable], errors="coerce").astype("float64").dropna()
    n = len(values)
    stats = {"median": values.median(), "q25": values.quantile(0.25),
             "q75": values.quantile(0.75), "min": values.min(), "max": values.max()}
    return [ResultRow(endpoint, variable, statistic, None,
                      None if n == 0 else float(value), n=n, method=CONTINUOUS_METHOD,
                      flag="NE" if n == 0 else "")
            for statistic, value in stats.items()]


def fas(adsl: pd.DataFrame) -> pd.DataFrame:
    """The full analysis set rows of ADSL."""
    require_columns(adsl, ["FASFL"], "ADSL")
    return flagged(adsl, "FASFL")


def disposition_summary(adsl: pd.DataFrame, ltfu_days: int = Params.ltfu_days
                        ) -> list[ResultRow]:
    """Disposition and analysis sets (endpoint ``DISP``), denominator: enrolled patients.

    ``DTHFL=N`` counts patients alive at last contact; ``LTFUFL=Y`` those among them whose
    last contact (``LKADT``) is more than ``ltfu_days`` days before the cut (SAP v2: lost to
    follow-up).
    """
    require_columns(adsl, ["ENRLFL", "FASFL", "SAFFL", "DTHFL", "LKADT", "CUTDT"], "ADSL")
    enrolled = flagged(adsl, "ENRLFL")
    total = len(enrolled)
    flags = {column: enrolled[column].astype("string").eq("Y").fillna(False)
             for column in ("FASFL", "SAFFL", "DTHFL")}
    silent = (enrolled["CUTDT"] - enrolled["LKADT"]).dt.days > ltfu_days
    lost = ~flags["DTHFL"] & silent.fillna(False)
    counts = {"ENRLFL=Y": total, "FASFL=Y": int(flags["FASFL"].sum()),
              "FASFL=N": int((~flags["FASFL"]).sum()), "SAFFL=Y": int(flags["SAFFL"].sum()),
              "DTHFL=Y": int(flags["DTHFL"].sum()), "DTHFL=N": int((~flags["DTHFL"]).sum()),
              "LTFUFL=Y": int(lost.sum())}
    method = (f"{COUNT_METHOD}; lost to follow-up: alive, last contact more than {ltfu_days} "
              "days before the data cut")
    return [count_row("DISP", subgroup, count, total,
                      method if subgroup == "LTFUFL=Y" else COUNT_METHOD)
            for subgroup, count in counts.items()]


def _characteristics(adsl: pd.DataFrame, endpoint: str,
                     variables: Sequence[tuple[str, str]]) -> list[ResultRow]:
    data = fas(adsl)
    rows: list[ResultRow] = []
    for kind, variable in variables:
        summary = continuous_rows if kind == "continuous" else categorical_rows
        rows += summary(data, variable, endpoint)
    return rows


def baseline_summary(adsl: pd.DataFrame) -> list[ResultRow]:
    """Demographics and baseline disease (endpoint ``BASELINE``) in the FAS."""
    return _characteristics(adsl, "BASELINE", BASELINE_VARIABLES)


def transplant_summary(adsl: pd.DataFrame) -> list[ResultRow]:
    """Transplant and conditioning characteristics (endpoint ``TRANSPLANT``) in the FAS."""
    return _characteristics(adsl, "TRANSPLANT", TRANSPLANT_VARIABLES)


def _safety(adae: pd.DataFrame, adsl: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """AEs of safety-set subjects, and the safety-set size."""
    require_columns(adsl, ["USUBJID", "SAFFL"], "ADSL")
    require_columns(adae, ["USUBJID", "AEDECOD", "AEBODSYS", "AETOXGR", "AESER", "AEREL"], "ADAE")
    safety = flagged(adsl, "SAFFL")
    events = adae[of_subjects(adae["USUBJID"], safety["USUBJID"])].copy()
    events["AETOXGR"] = pd.to_numeric(events["AETOXGR"], errors="coerce").astype("Int64")
    return events, len(safety)


def _subjects(events: pd.DataFrame, mask: pd.Series | None = None) -> int:
    chosen = events if mask is None else events[mask.fillna(False).astype(bool)]
    return int(chosen["USUBJID"].nunique())


def ae_overview(adae: pd.DataFrame, adsl: pd.DataFrame) -> list[ResultRow]:
    """Subjects with any AE, grade >= 3, serious, related to blinatumomab, fatal (``AE``),
    and (``SAFFL=N``, n = enrolled patients outside the safety set) how many enrolled patients
    outside the safety set had adverse events: left out of the safety tables (SAP v2)."""
    events, total = _safety(adae, adsl)
    grade = events["AETOXGR"]
    counts = {
        "AE=Any": _subjects(events),
        GRADE3: _subjects(events, grade >= 3),
        SERIOUS: _subjects(events, events["AESER"].astype("string").eq("Y")),
        RELATED: _subjects(events, events["AEREL"].astype("string").eq("Y")),
        FATAL: _subjects(events, grade == 5),
    }
    outside = adsl[adsl["SAFFL"].astype("string").ne("Y").fillna(True)]["USUBJID"]
    with_events = adae[of_subjects(adae["USUBJID"], outside)]["USUBJID"].nunique()
    return [*(count_row("AE", subgroup, count, total, AE_METHOD)
              for subgroup, count in counts.items()),
            count_row("AE", "SAFFL=N", int(with_events), len(outside),
                      "Enrolled patients outside the safety set with adverse events")]


def _per_subject(events: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per category and subject: worst grade, any serious, any related."""
    flagged_events = events.assign(
        SERIOUS=events["AESER"].astype("string").eq("Y").fillna(False).astype(bool),
        RELATED=events["AEREL"].astype("string").eq("Y").fillna(False).astype(bool))
    return (flagged_events.groupby([*keys, "USUBJID"])
            .agg(GRADE=("AETOXGR", "max"), SERIOUS=("SERIOUS", "any"),
                 RELATED=("RELATED", "any"))
            .reset_index())


def _column_counts(events: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Subjects per category (index ``keys``) in each of :data:`AE_COLUMNS` (columns named
    by their subgroup suffix, ``""`` for any grade)."""
    per = _per_subject(events, keys)
    grade = per["GRADE"]
    per = per.assign(**{"": True, GRADE3: (grade >= 3).fillna(False), SERIOUS: per["SERIOUS"],
                        RELATED: per["RELATED"], FATAL: (grade == 5).fillna(False)})
    return per.groupby(keys)[list(AE_COLUMNS)].sum().astype(int)


def _column_rows(endpoint: str, subgroup: str, counts: pd.Series, total: int
                 ) -> list[ResultRow]:
    """A category's rows: ``subgroup`` (any grade), then ``subgroup;<column>`` each."""
    return [count_row(endpoint, subgroup if not column else f"{subgroup};{column}",
                      int(counts.get(column, 0)), total, AE_METHOD) for column in AE_COLUMNS]


def _coded(events: pd.DataFrame) -> pd.DataFrame:
    return events.assign(ALL="Any", SOC=events["AEBODSYS"].astype("string").fillna("Uncoded"),
                         PT=events["AEDECOD"].astype("string").fillna("Uncoded"))


def _soc_pt_order(events: pd.DataFrame) -> list[tuple[tuple[str, ...], str]]:
    """The rows of the SOC/PT tables in order, as (key, subgroup): ``(("Any",), "AE=Any")``,
    then each SOC by decreasing number of subjects, then name, each followed by its
    preferred terms ordered the same way."""
    socs = events.groupby("SOC")["USUBJID"].nunique()
    pts = events.groupby(["SOC", "PT"])["USUBJID"].nunique()
    order: list[tuple[tuple[str, ...], str]] = [(("Any",), "AE=Any")]
    for soc in sorted(socs.index, key=lambda name: (-int(socs[name]), name)):
        order.append(((soc,), subgroup_key(("SOC", soc))))
        terms = pts.loc[soc]
        order += [((soc, term), subgroup_key(("SOC", soc), ("PT", term)))
                  for term in sorted(terms.index, key=lambda name: (-int(terms[name]), name))]
    return order


def _by_key(per_key: Callable[[list[str]], pd.DataFrame]) -> dict[tuple[str, ...], pd.Series]:
    """``per_key(keys)`` for the overall row, SOCs and preferred terms, by row key."""
    found: dict[tuple[str, ...], pd.Series] = {}
    for keys in (["ALL"], ["SOC"], ["SOC", "PT"]):
        for key, counts in per_key(keys).iterrows():
            found[key if isinstance(key, tuple) else (key,)] = counts
    return found


def ae_by_soc_pt(adae: pd.DataFrame, adsl: pd.DataFrame) -> list[ResultRow]:
    """Subjects by system organ class and preferred term (``AESOCPT``), safety set.

    Rows ``AE=Any``, ``SOC=...`` and ``SOC=...;PT=...`` (:func:`_soc_pt_order`), each followed
    by its ``;AETOXGR=3-5``, ``;AESER=Y``, ``;AEREL=Y`` and ``;AETOXGR=5`` rows
    (:data:`AE_COLUMNS`): a subject counts once per row, at the worst grade; serious or
    related when any of its events in that row is.
    """
    events, total = _safety(adae, adsl)
    events = _coded(events)
    counts = _by_key(lambda keys: _column_counts(events, keys))
    rows: list[ResultRow] = []
    for key, subgroup in _soc_pt_order(events):
        rows += _column_rows("AESOCPT", subgroup, counts.get(key, pd.Series(dtype=int)), total)
    return rows


def ae_by_max_grade(adae: pd.DataFrame, adsl: pd.DataFrame) -> list[ResultRow]:
    """Subjects by system organ class, preferred term and maximum CTCAE grade
    (``AESOCPTGR``), safety set: for each row of :func:`ae_by_soc_pt` (same order) one row
    ``<row>;MAXGRADE=g`` per grade g of :data:`AE_GRADES`, a subject once, at its worst grade
    in that row."""
    events, total = _safety(adae, adsl)
    events = _coded(events)

    def per_grade(keys: list[str]) -> pd.DataFrame:
        worst = events.groupby([*keys, "USUBJID"])["AETOXGR"].max().rename("GRADE")
        return worst.reset_index().groupby([*keys, "GRADE"]).size().unstack(fill_value=0)

    counts = _by_key(per_grade)
    rows: list[ResultRow] = []
    for key, subgroup in _soc_pt_order(events):
        found = counts.get(key, pd.Series(dtype=int))
        rows += [count_row("AESOCPTGR", f"{subgroup};MAXGRADE={grade}",
                           int(found.get(grade, 0)), total, AE_METHOD) for grade in AE_GRADES]
    return rows


def aesi_summary(adae: pd.DataFrame, adsl: pd.DataFrame) -> list[ResultRow]:
    """Adverse events of special interest (``AESI``), safety set: CRS, ICANS, infections,
    and among infections CMV and EBV reactivation (recognised in the preferred term); each
    with the columns of :data:`AE_COLUMNS` as in :func:`ae_by_soc_pt`."""
    events, total = _safety(adae, adsl)
    aesi = (events["AESI"].astype("string").str.upper() if "AESI" in events.columns
            else pd.Series(pd.NA, index=events.index, dtype="string"))
    term = events["AEDECOD"].astype("string")
    categories = {}
    for kind in AESI_TYPES:
        chosen = aesi.eq(kind).fillna(False)
        categories[f"AESI={kind}"] = chosen
        if kind == "INFECTION":
            for name, pattern in REACTIVATIONS.items():
                virus = term.str.contains(pattern, case=False, regex=True).fillna(False)
                categories[subgroup_key(("AESI", kind), ("PT", name))] = chosen & virus
    rows: list[ResultRow] = []
    for subgroup, mask in categories.items():
        counts = _column_counts(events[mask.to_numpy(dtype=bool)].assign(ALL="Any"), ["ALL"])
        rows += _column_rows("AESI", subgroup, counts.iloc[0] if len(counts) else
                             pd.Series(dtype=int), total)
    return rows


def deaths_and_serious_events(adsl: pd.DataFrame, adae: pd.DataFrame | None) -> pd.DataFrame:
    """Every death and serious adverse event up to the cut of enrolled patients, for Listing
    16.2.7: ``USUBJID, SAFFL, ADY`` (days from transplant; missing when never transplanted),
    ``DATE``,
    ``EVENT`` ("Serious AE" or "Death"), ``TERM`` (preferred term, or the recorded cause of
    death), ``SOC``, ``GRADE``, ``RELATED`` (AEs) and ``DTHCAT`` (deaths); sorted by patient,
    day, then serious AEs before a death on the same day."""
    require_columns(adsl, ["USUBJID", "ENRLFL", "SAFFL", "HSCTDT", "DTHDT", "DTHCAUS",
                           "DTHCAT"], "ADSL")
    enrolled = flagged(adsl, "ENRLFL")
    dead = enrolled[enrolled["DTHDT"].notna()]
    deaths = pd.DataFrame({
        "USUBJID": dead["USUBJID"], "SAFFL": dead["SAFFL"],
        "ADY": (dead["DTHDT"] - dead["HSCTDT"]).dt.days, "DATE": dead["DTHDT"],
        "EVENT": "Death",
        "TERM": dead["DTHCAUS"].astype("string").fillna("UNKNOWN"), "SOC": pd.NA,
        "GRADE": pd.NA, "RELATED": pd.NA, "DTHCAT": dead["DTHCAT"]})
    parts = [deaths]
    if adae is not None:
        require_columns(adae, ["USUBJID", "ADY", "AESTDT", "AEDECOD", "AEBODSYS", "AETOXGR",
                               "AESER", "AEREL"], "ADAE")
        serious = adae[of_subjects(adae["USUBJID"], enrolled["USUBJID"])
                       & adae["AESER"].astype("string").eq("Y").fillna(False)]
        parts.append(pd.DataFrame({
            "USUBJID": serious["USUBJID"],
            "SAFFL": serious["USUBJID"].map(enrolled.set_index("USUBJID")["SAFFL"]),
            "ADY": serious["ADY"], "DATE": serious["AESTDT"], "EVENT": "Serious AE",
            "TERM": serious["AEDECOD"],
            "SOC": serious["AEBODSYS"], "GRADE": serious["AETOXGR"],
            "RELATED": serious["AEREL"], "DTHCAT": pd.NA}))
    listing = pd.concat([p.astype(LISTING_TYPES) for p in parts], ignore_index=True)
    listing = listing.assign(_ORDER=listing["EVENT"].eq("Death").astype(int))
    return (listing.sort_values(["USUBJID", "ADY", "_ORDER", "TERM"], kind="stable")
            .drop(columns="_ORDER").reset_index(drop=True))


def _death_rows(dead: pd.DataFrame, category: str, total: int) -> list[ResultRow]:
    """One death category (``DTHCAT=...``) and the recorded causes within it, by frequency
    then name."""
    in_level = dead.loc[dead["DTHCAT"].astype("string").eq(category).fillna(False), "DTHCAUS"]
    counts = in_level.astype("string").fillna("UNKNOWN").value_counts()
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [count_row("DEATH", f"DTHCAT={category}", len(in_level), total),
            *(count_row("DEATH", subgroup_key(("DTHCAT", category), ("DTHCAUS", name)),
                        int(count), total)
              for name, count in ordered)]


def death_summary(adsl: pd.DataFrame) -> list[ResultRow]:
    """Deaths (``DEATH``) in the FAS: all, by category (relapse-related, non-relapse) and by
    cause within category; then (SAP v3) deaths before transplant of the enrolled patients
    outside the FAS (``DTHCAT=Death before transplant``, denominator: those patients), shown
    only when some enrolled patient is outside the FAS."""
    require_columns(adsl, ["ENRLFL", "FASFL", "DTHFL", "DTHCAT", "DTHCAUS"], "ADSL")
    data = fas(adsl)
    total = len(data)
    dead = flagged(data, "DTHFL")
    rows = [count_row("DEATH", "DTHFL=Y", len(dead), total)]
    for category in (RELAPSE_RELATED, NON_RELAPSE):
        rows += _death_rows(dead, category, total)
    enrolled = flagged(adsl, "ENRLFL")
    outside = enrolled[~enrolled["FASFL"].astype("string").eq("Y").fillna(False)]
    if len(outside):
        rows += _death_rows(flagged(outside, "DTHFL"), BEFORE_TRANSPLANT, len(outside))
    return rows


def _max_grade_rows(episodes: pd.DataFrame, patients: pd.Series, endpoint: str,
                    grades: Sequence[str]) -> list[ResultRow]:
    """Maximum grade per patient (``MAXGRADE=...``, ``None`` without an episode) and organs
    ever involved (``ORGAN=...``, a patient once per organ), over all FAS patients."""
    total = len(patients)
    rank = {grade: i for i, grade in enumerate(grades)}
    graded = episodes.assign(RANK=episodes["GRADE"].astype("string").map(rank))
    worst = graded.groupby("USUBJID")["RANK"].max()
    worst = worst.reindex(patients).fillna(0).astype(int)
    counts = worst.value_counts()
    rows = [count_row(endpoint, f"MAXGRADE={grade}", int(counts.get(i, 0)), total)
            for i, grade in enumerate(grades)]
    if "ORGANS" in episodes.columns:
        organs = (episodes.assign(ORGAN=episodes["ORGANS"].astype("string").str.upper()
                                  .str.split(";"))
                  .explode("ORGAN"))
        organs["ORGAN"] = organs["ORGAN"].astype("string").str.strip()
        organs = organs[organs["ORGAN"].fillna("").ne("")]
        per_organ = organs.groupby("ORGAN")["USUBJID"].nunique()
        ordered = sorted(per_organ.items(), key=lambda item: (-item[1], item[0]))
        rows += [count_row(endpoint, subgroup_key(("ORGAN", organ)), int(count), total)
                 for organ, count in ordered]
    return rows


def gvhd_summary(adgvhd: pd.DataFrame, adsl: pd.DataFrame) -> list[ResultRow]:
    """Maximum acute GVHD grade (``AGVHDMAX``) and chronic GVHD severity (``CGVHDMAX``)
    among FAS patients, each with organ involvement."""
    require_columns(adgvhd, ["USUBJID", "GVHDTYPE", "GRADE"], "ADGVHD")
    patients = fas(adsl)["USUBJID"]
    episodes = adgvhd[of_subjects(adgvhd["USUBJID"], patients)]
    kind = episodes["GVHDTYPE"].astype("string")
    unknown = sorted(set(episodes["GRADE"].dropna().astype(str)) -
                     set(ACUTE_GRADES) - set(CHRONIC_GRADES))
    if unknown:
        raise ValueError(f"ADGVHD has unknown GRADE value(s): {', '.join(unknown)}")
    return (_max_grade_rows(episodes[kind.eq("ACUTE").fillna(False)], patients, "AGVHDMAX",
                            ACUTE_GRADES)
            + _max_grade_rows(episodes[kind.eq("CHRONIC").fillna(False)], patients,
                              "CGVHDMAX", CHRONIC_GRADES))


def patient_timeline(adsl: pd.DataFrame, admrd: pd.DataFrame | None,
                     adgvhd: pd.DataFrame | None, mrd_threshold: float) -> pd.DataFrame:
    """Per-patient events for the swimmer plot (FAS): ``USUBJID, ADY, EVENT`` with EVENT in
    ``MRD-negative``/``MRD-positive`` (result >= ``mrd_threshold``), ``Relapse``,
    ``Acute GVHD``/``Chronic GVHD`` (first onset of each), ``Death`` or ``Last follow-up``
    (at ``EOSDT``); days from transplant, sorted by patient, day and event."""
    data = fas(adsl)
    require_columns(data, ["USUBJID", "HSCTDT", "EOSDT", "DTHFL", "RELFL", "RELDT"], "ADSL")
    day = lambda column: (data[column] - data["HSCTDT"]).dt.days  # noqa: E731
    dead = data["DTHFL"].astype("string").eq("Y").fillna(False)
    relapsed = data["RELFL"].astype("string").eq("Y").fillna(False)
    parts = [
        pd.DataFrame({"USUBJID": data["USUBJID"], "ADY": day("EOSDT"),
                      "EVENT": dead.map({True: "Death", False: "Last follow-up"})}),
        pd.DataFrame({"USUBJID": data.loc[relapsed, "USUBJID"],
                      "ADY": day("RELDT")[relapsed], "EVENT": "Relapse"}),
    ]
    if admrd is not None:
        require_columns(admrd, ["USUBJID", "ADY", "RESULT"], "ADMRD")
        mrd = admrd[of_subjects(admrd["USUBJID"], data["USUBJID"])]
        positive = mrd["RESULT"].astype("float64") >= mrd_threshold
        parts.append(pd.DataFrame({"USUBJID": mrd["USUBJID"], "ADY": mrd["ADY"],
                                   "EVENT": positive.map({True: "MRD-positive",
                                                          False: "MRD-negative"})}))
    if adgvhd is not None:
        require_columns(adgvhd, ["USUBJID", "ADY", "GVHDTYPE"], "ADGVHD")
        gvhd = adgvhd[of_subjects(adgvhd["USUBJID"], data["USUBJID"])]
        first = gvhd.groupby(["USUBJID", "GVHDTYPE"], as_index=False)["ADY"].min()
        kind = first["GVHDTYPE"].astype("string").str.capitalize()
        parts.append(first.assign(EVENT=kind + " GVHD")[["USUBJID", "ADY", "EVENT"]])
    timeline = pd.concat(parts, ignore_index=True)
    timeline["USUBJID"] = timeline["USUBJID"].astype(str)
    timeline["ADY"] = timeline["ADY"].astype("float64")
    timeline["EVENT"] = timeline["EVENT"].astype(str)
    return timeline.sort_values(["USUBJID", "ADY", "EVENT"], kind="stable",
                                ignore_index=True)
