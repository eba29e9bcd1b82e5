"""Every result row as a CDISC Analysis Results Standard (ARS v1.0) reporting event, and back.

One ``ReportingEvent`` per run: analysis sets (where-clauses on ADSL flags), data subsets
(``ADTTE.PARAMCD``), grouping factors (the SAP subgroups as prespecified groups; other
categories such as SOC/PT and the landmark time as data-driven groupings), one method per
distinct method text with one operation per statistic and value (estimate, CI limits, n,
events, flag), one analysis per endpoint x subgroup x landmark x method with its results (raw
and formatted values), ``programmingCode`` naming the notebook and cell that wrote the rows,
and one output per numbered table listing the analyses it shows.

Hand-written: no maintained Python library writes ARS, and the JSON schema does not check
that referenced ids exist, so :func:`check_references` does.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from haplo_report.analysis.derive import PARAMS, SUBGROUP_COLUMNS
from haplo_report.analysis.results import (FLOAT_FORMAT, RESULT_COLUMNS, escape_level, key_pairs,
                                           key_parts, read_results)
from haplo_report.formatting import fmt_number, fmt_p_value, fmt_percent
from haplo_report.plan import NOTEBOOKS

VALUE_FIELDS: tuple[str, ...] = ("estimate", "ci_lower", "ci_upper", "n", "events", "flag")
TIME_GROUPING = "DG_TIME"
FREE_GROUPING = "DG_CATEGORY"  # a subgroup text that is not VARIABLE=level pairs
ANALYSIS_SETS: dict[str, tuple[str, str]] = {  # id -> (flag variable, label)
    "AS_ENRL": ("ENRLFL", "Enrolled"), "AS_FAS": ("FASFL", "Full analysis set"),
    "AS_SAF": ("SAFFL", "Safety set")}
# Numbered tables by endpoint code: (table for "All", table for subgroups).
TABLES: dict[str, tuple[str, str]] = {
    "DISP": ("14.1.1", "14.1.1"), "BASELINE": ("14.1.2", "14.1.2"),
    "TRANSPLANT": ("14.1.3", "14.1.3"),
    "PFS": ("14.2.1", "14.2.2"), "OS": ("14.2.3", "14.2.4"), "CIR": ("14.2.5", "14.2.6"),
    "NRM": ("14.2.5", "14.2.6"), "MRD": ("14.2.7", "14.2.7"), "MRD1Y": ("14.2.8", "14.2.8"),
    "GRFS": ("14.2.9", "14.2.10"), "AGVHD24": ("14.3.1", "14.3.2"),
    "AGVHD34": ("14.3.1", "14.3.2"), "AGVHDMAX": ("14.3.1", "14.3.1"),
    "CGVHD": ("14.3.3", "14.3.4"), "CGVHDMS": ("14.3.3", "14.3.4"),
    "CGVHDMAX": ("14.3.3", "14.3.3"), "ANC": ("14.3.5", "14.3.5"), "PLT": ("14.3.5", "14.3.5"),
    "AE": ("14.3.6", "14.3.6"), "AESOCPT": ("14.3.7", "14.3.7"),
    "AESOCPTGR": ("14.3.8", "14.3.8"), "AESI": ("14.3.9", "14.3.9"),
    "DEATH": ("14.3.10", "14.3.10"),
}
FOLLOW_UP_STATISTICS = ("median_followup", "min", "max")  # OS rows of Table 14.1.4
PRIMARY = ("PFS",)
SECONDARY = ("OS", "CIR", "NRM", "MRD", "MRD1Y", "AGVHD24", "AGVHD34", "CGVHD", "CGVHDMS")
TEST_STATISTICS = ("logrank_p", "logrank_chisq", "gray_p", "gray_chisq")
COUNT_STATISTICS = ("count", "at_risk")  # numbers of patients: formatted as the tables, "31"


class ArsError(ValueError):
    """The reporting event is inconsistent (an id referenced but not defined, ...)."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper() or "X"


def _short_id(prefix: str, text: str) -> str:
    """A stable id: readable prefix and slug, with a hash where the slug would be long."""
    slug = _slug(text)
    if len(slug) > 40:
        slug = slug[:30] + "_" + hashlib.sha256(text.encode()).hexdigest()[:8].upper()
    return f"{prefix}_{slug}"


def raw_value(value: Any) -> str | None:
    """A value as results.csv writes it (floats with 10 significant digits)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, str):
        return value or None
    if float(value).is_integer() and abs(float(value)) < 1e15:
        return str(int(value))
    return FLOAT_FORMAT % float(value)


def _formatted(field: str, statistic: str, value: Any) -> str | None:
    raw = raw_value(value)
    if raw is None or field == "flag":
        return raw
    if field in ("n", "events"):
        return raw
    number = float(raw)
    if statistic in ("survival", "cif", "proportion"):
        return fmt_percent(number)
    if statistic.endswith("_p"):
        return fmt_p_value(number)
    if statistic in COUNT_STATISTICS:
        return fmt_number(number, 0)
    return fmt_number(number, 1)


def _subgroup_pairs(subgroup: str) -> list[tuple[str, str]] | None:
    """``"A=x;B=y"`` as (variable, level) pairs, levels unescaped (a missing level ""); None
    when the text is not of that form."""
    if subgroup != "All" and not all(
            re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*=.*", part) for part in key_parts(subgroup)):
        return None
    pairs = key_pairs(subgroup)
    return [(variable, "" if level is None else level) for variable, level in pairs]


def _analysis_set(endpoint: str) -> str:
    if endpoint == "DISP":
        return "AS_ENRL"
    return "AS_SAF" if endpoint.startswith("AE") else "AS_FAS"


def _purpose(endpoint: str, subgroup: str, statistic: str) -> str:
    if subgroup != "All" and endpoint in (*PRIMARY, *SECONDARY, "GRFS") \
            or statistic in TEST_STATISTICS:
        return "EXPLORATORY OUTCOME MEASURE"
    if endpoint in PRIMARY:
        return "PRIMARY OUTCOME MEASURE"
    return "SECONDARY OUTCOME MEASURE" if endpoint in SECONDARY else "EXPLORATORY OUTCOME MEASURE"


def tables_of(endpoint: str, subgroup: str, statistic: str) -> list[str]:
    """The numbered tables that show a result row."""
    if endpoint == "OS" and statistic in FOLLOW_UP_STATISTICS:
        return ["14.1.4"]
    pair = TABLES.get(endpoint)
    if pair is None:
        return []
    return [pair[0] if subgroup == "All" else pair[1]]


def _notebook_cells(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Per notebook: the executed cell that wrote its result rows (id and index)."""
    found = {}
    for spec in NOTEBOOKS:
        path = run_dir / "notebooks" / f"{spec.name}.ipynb"
        if not path.is_file():
            continue
        notebook = nbformat.read(path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code" and "write_results(" in cell.source:
                found[spec.name] = {"id": cell.get("id", str(index)), "index": index}
                break
    return found


def _rows_by_notebook(run_dir: Path) -> pd.DataFrame:
    """results.csv rows with the notebook that wrote each (``results/<notebook>.csv``)."""
    frames = []
    for spec in NOTEBOOKS:
        path = run_dir / "results" / f"{spec.name}.csv"
        if path.is_file():
            frame = read_results(path)
            frame["notebook"] = spec.name
            frames.append(frame)
    filled = [f for f in frames if not f.empty]
    return pd.concat(filled, ignore_index=True) if filled else \
        pd.DataFrame(columns=[*RESULT_COLUMNS, "notebook"])


def reporting_event(rows: pd.DataFrame, *, study_id: str, study_title: str, data_cut_date: str,
                    cells: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ARS reporting event of ``rows`` (result rows with a ``notebook`` column)."""
    cells = cells or {}
    methods: dict[str, dict[str, Any]] = {}
    operations: dict[tuple[str, str, str], str] = {}
    subsets: dict[str, dict[str, Any]] = {}
    subject_groupings: dict[str, dict[str, Any]] = {}
    data_groupings: dict[str, dict[str, Any]] = {
        TIME_GROUPING: {"id": TIME_GROUPING, "label": "Landmark (days from transplant)",
                        "groupingDataset": "ADTTE", "groupingVariable": "AVAL",
                        "dataDriven": True}}
    analyses: dict[str, dict[str, Any]] = {}
    outputs: dict[str, list[str]] = {}
    documents: dict[str, dict[str, Any]] = {}

    for row in rows.itertuples(index=False):
        method_id = methods.setdefault(row.method, {
            "id": f"MTH_{len(methods) + 1:02d}", "name": row.method or "Not stated",
            "operations": []})["id"]
        method = methods[row.method]
        for field in VALUE_FIELDS:
            key = (row.method, row.statistic, field)
            if key not in operations:
                operation_id = f"{method_id}_{_slug(row.statistic)}_{_slug(field)}"
                operations[key] = operation_id
                method["operations"].append({
                    "id": operation_id, "name": f"{row.statistic} {field}",
                    "label": f"{row.statistic}: {field.replace('_', ' ')}",
                    "order": len(method["operations"]) + 1})
        groupings: list[tuple[str, dict[str, Any]]] = []
        pairs = _subgroup_pairs(row.subgroup)
        if pairs is None:
            data_groupings.setdefault(FREE_GROUPING, {
                "id": FREE_GROUPING, "label": "Category", "dataDriven": True})
            groupings.append((FREE_GROUPING, {"groupingId": FREE_GROUPING,
                                              "groupValue": row.subgroup}))
        for variable, level in pairs or []:
            grouping_id = f"AG_{_slug(variable)}"
            if variable in SUBGROUP_COLUMNS:
                factor = subject_groupings.setdefault(grouping_id, {
                    "id": grouping_id, "label": f"Subgroup {variable}",
                    "groupingDataset": "ADSL", "groupingVariable": variable,
                    "dataDriven": False, "groups": []})
                known = {g["label"]: g["id"] for g in factor["groups"]}
                group_id = known.get(level, f"{grouping_id}_{len(known) + 1}")
                if level not in known:
                    factor["groups"].append({
                        "id": group_id, "label": level, "level": 1,
                        "order": len(factor["groups"]) + 1,
                        "condition": {"dataset": "ADSL", "variable": variable,
                                      "comparator": "EQ", "value": [level]}})
                groupings.append((grouping_id, {"groupingId": grouping_id, "groupId": group_id}))
            else:
                subject_groupings.setdefault(grouping_id, {
                    "id": grouping_id, "label": variable, "groupingVariable": variable,
                    "dataDriven": True})
                groupings.append((grouping_id, {"groupingId": grouping_id, "groupValue": level}))
        time = raw_value(row.time_days)
        if time is not None:
            groupings.append((TIME_GROUPING, {"groupingId": TIME_GROUPING, "groupValue": time}))

        analysis_key = "|".join([row.endpoint, row.subgroup, time or "-", row.method])
        analysis_id = _short_id("AN", analysis_key)
        analysis = analyses.get(analysis_id)
        if analysis is None:
            label = row.endpoint + ("" if row.subgroup == "All" else f", {row.subgroup}") \
                + ("" if time is None else f", day {time}")
            analysis = {
                "id": analysis_id, "name": label, "label": label,
                "reason": {"controlledTerm": "SPECIFIED IN SAP"},
                "purpose": {"controlledTerm": _purpose(row.endpoint, row.subgroup,
                                                       row.statistic)},
                "analysisSetId": _analysis_set(row.endpoint),
                "methodId": method_id,
                "orderedGroupings": [{"order": i + 1, "groupingId": g, "resultsByGroup": True}
                                     for i, (g, _) in enumerate(groupings)],
                "results": []}
            if row.endpoint in PARAMS:
                subset_id = f"DS_{_slug(row.endpoint)}"
                subsets.setdefault(subset_id, {
                    "id": subset_id, "label": PARAMS[row.endpoint], "level": 1,
                    "order": len(subsets) + 1,
                    "condition": {"dataset": "ADTTE", "variable": "PARAMCD",
                                  "comparator": "EQ", "value": [row.endpoint]}})
                analysis["dataset"] = "ADTTE"
                analysis["variable"] = "AVAL"
                analysis["dataSubsetId"] = subset_id
            cell = cells.get(row.notebook)
            if row.notebook:
                document_id = f"RD_{_slug(row.notebook)}"
                documents.setdefault(document_id, {
                    "id": document_id, "name": f"{row.notebook}.ipynb",
                    "location": f"notebooks/{row.notebook}.ipynb"})
                code: dict[str, Any] = {"context": "Python (Jupyter notebook executed with "
                                                   "papermill)",
                                        "documentRef": {"referenceDocumentId": document_id}}
                if cell:
                    code["documentRef"]["pageRefs"] = [{
                        "refType": "NamedDestination", "pageNames": [f"cell {cell['id']}"],
                        "label": f"cell {cell['index'] + 1} of {row.notebook}.ipynb"}]
                analysis["programmingCode"] = code
            analyses[analysis_id] = analysis
            for table in tables_of(row.endpoint, row.subgroup, row.statistic):
                outputs.setdefault(table, []).append(analysis_id)
        groups = [group for _, group in groupings]
        for field in VALUE_FIELDS:
            value = getattr(row, field)
            raw = raw_value(value)
            if raw is None:
                continue
            result: dict[str, Any] = {"operationId": operations[(row.method, row.statistic,
                                                                 field)],
                                      "rawValue": raw,
                                      "formattedValue": _formatted(field, row.statistic, value)}
            if groups:
                result["resultGroups"] = groups
            analysis["results"].append(result)

    output_list = []
    for number in sorted(outputs, key=lambda n: [int(p) for p in n.split(".")]):
        output_list.append({
            "id": f"OUT_{_slug(number)}", "name": f"Table {number}",
            "fileSpecifications": [
                {"name": f"{number}.rtf", "location": f"tables/{number}.rtf",
                 "fileType": {"controlledTerm": "rtf"}}],
            "displays": [{"order": 1, "display": {"id": f"DSP_{_slug(number)}",
                                                  "name": f"Table {number}",
                                                  "displayTitle": f"Table {number}"}}]})
    contents = [{"name": a["name"], "level": 1, "order": i + 1, "analysisId": a["id"]}
                for i, a in enumerate(analyses.values())]
    contents += [{"name": o["name"], "level": 1, "order": len(contents) + i + 1,
                  "outputId": o["id"]} for i, o in enumerate(output_list)]
    event = {
        "id": f"RE_{_slug(study_id)}_{data_cut_date.replace('-', '')}",
        "name": f"{study_title}: data cut {data_cut_date}",
        "version": 1,
        "mainListOfContents": {"name": "Analyses and outputs",
                               "contentsList": {"listItems": contents}},
        "otherListsOfContents": [{
            "name": "Analyses by output", "contentsList": {"listItems": [
                {"name": o["name"], "level": 1, "order": i + 1, "outputId": o["id"],
                 "sublist": {"listItems": [
                     {"name": analyses[a]["name"], "level": 2, "order": j + 1, "analysisId": a}
                     for j, a in enumerate(dict.fromkeys(outputs[o["name"].split()[-1]]))]}}
                for i, o in enumerate(output_list)]}}],
        "referenceDocuments": list(documents.values()),
        "analysisSets": [{"id": set_id, "label": label, "level": 1, "order": i + 1,
                          "condition": {"dataset": "ADSL", "variable": flag,
                                        "comparator": "EQ", "value": ["Y"]}}
                         for i, (set_id, (flag, label)) in enumerate(ANALYSIS_SETS.items())],
        "dataSubsets": list(subsets.values()),
        "analysisGroupings": list(subject_groupings.values()),
        "dataGroupings": list(data_groupings.values()),
        "methods": list(methods.values()),
        "analyses": list(analyses.values()),
        "outputs": output_list,
    }
    check_references(event)
    return event


def _ids(items: Iterable[dict[str, Any]]) -> set[str]:
    return {item["id"] for item in items}


def check_references(event: dict[str, Any]) -> None:
    """Every id an object refers to is defined (the ARS JSON schema does not check it)."""
    defined = {
        "analysisSetId": _ids(event.get("analysisSets", [])),
        "dataSubsetId": _ids(event.get("dataSubsets", [])),
        "methodId": _ids(event.get("methods", [])),
        "analysisId": _ids(event.get("analyses", [])),
        "outputId": _ids(event.get("outputs", [])),
        "groupingId": _ids(event.get("analysisGroupings", []))
        | _ids(event.get("dataGroupings", [])),
        "referenceDocumentId": _ids(event.get("referenceDocuments", [])),
        "operationId": {op["id"] for m in event.get("methods", []) for op in m["operations"]},
        "groupId": {g["id"] for f in [*event.get("analysisGroupings", []),
                                      *event.get("dataGroupings", [])]
                    for g in f.get("groups", [])},
    }
    everything = [item for values in defined.values() for item in values]
    if len(everything) != len(set(everything)):
        duplicates = sorted({i for i in everything if everything.count(i) > 1})
        raise ArsError(f"ids defined twice: {', '.join(duplicates[:5])}")

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in defined and isinstance(value, str) and value not in defined[key]:
                    raise ArsError(f"{where}: {key} {value!r} is not defined")
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}[{index}]")

    walk(event, "ReportingEvent")


def write_ars(run_dir: Path, path: Path, *, study_id: str, study_title: str,
              data_cut_date: str) -> Path:
    """``path``: the reporting event of ``run_dir``'s result rows."""
    event = reporting_event(_rows_by_notebook(run_dir), study_id=study_id,
                            study_title=study_title, data_cut_date=data_cut_date,
                            cells=_notebook_cells(run_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(event, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def rows_from_ars(event: dict[str, Any]) -> pd.DataFrame:
    """The result rows an ARS reporting event written by :func:`reporting_event` holds."""
    operations = {op["id"]: op["name"].rsplit(" ", 1)
                  for method in event["methods"] for op in method["operations"]}
    method_names = {m["id"]: m["name"] for m in event["methods"]}
    groups = {g["id"]: g["label"] for f in event.get("analysisGroupings", [])
              for g in f.get("groups", [])}
    variables = {f["id"]: f.get("groupingVariable", "") for f in event.get("analysisGroupings", [])}
    records: dict[tuple[str, str, str], dict[str, Any]] = {}
    for analysis in event["analyses"]:
        endpoint = analysis["name"].split(",")[0]
        method = method_names[analysis["methodId"]]
        method = "" if method == "Not stated" else method
        for result in analysis["results"]:
            statistic, field = operations[result["operationId"]]
            subgroup, time = [], None
            for group in result.get("resultGroups", []):
                if group["groupingId"] == TIME_GROUPING:
                    time = group["groupValue"]
                elif group["groupingId"] == FREE_GROUPING:
                    subgroup.append(group["groupValue"])
                else:
                    level = groups.get(group.get("groupId"), group.get("groupValue"))
                    subgroup.append(f"{variables[group['groupingId']]}="
                                    f"{escape_level(level or None)}")
            key = (analysis["id"], statistic, ";".join(subgroup))
            record = records.setdefault(key, {
                "endpoint": endpoint, "subgroup": ";".join(subgroup) or "All",
                "statistic": statistic, "time_days": time, "method": method, "flag": ""})
            record[field] = result["rawValue"]
    frame = pd.DataFrame(list(records.values()))
    frame = frame.reindex(columns=RESULT_COLUMNS)
    for column in ("time_days", "estimate", "ci_lower", "ci_upper"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    for column in ("n", "events"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    frame["flag"] = frame["flag"].fillna("")
    return frame
