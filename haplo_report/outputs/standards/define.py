"""Define-XML 2.1 describing the SAS transport datasets (:mod:`.xpt`): datasets, variables,
labels, types, lengths, codelists and origins (derivations in the SAP's words), modelled with
odmlib and checked with its OID reference checker before writing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from odmlib.define_2_1 import model as DEFINE
from odmlib.oid_generator import create_oid_checker

from haplo_report.outputs.standards.metadata import (
    CODELISTS,
    DATASET_CLASSES,
    DATASET_KEYS,
    DATASET_LABELS,
    MetadataError,
    variable,
)
from haplo_report.outputs.standards.xpt import longest_utf8

DEFINE_VERSION = "2.1.7"
ADAMIG = "ST.ADAMIG"


def _text(text: str) -> DEFINE.Description:
    return DEFINE.Description(TranslatedText=[DEFINE.TranslatedText(_content=text, lang="en")])


def _data_type(column: pd.Series, original: pd.Series | None) -> str:
    """Define-XML data type of a transport column (``original``: the derived column)."""
    if original is not None and pd.api.types.is_datetime64_any_dtype(original):
        return "date"
    if original is not None and pd.api.types.is_integer_dtype(original):
        return "integer"
    return "float" if pd.api.types.is_numeric_dtype(column) else "text"


def _codelist(oid: str, name: str, values: list[str], decodes: dict[str, str] | None,
              data_type: str) -> DEFINE.CodeList:
    codelist = DEFINE.CodeList(OID=oid, Name=name, DataType=data_type)
    for order, value in enumerate(values, start=1):
        if decodes:
            codelist.CodeListItem.append(DEFINE.CodeListItem(
                CodedValue=value, OrderNumber=order,
                Decode=DEFINE.Decode(TranslatedText=[DEFINE.TranslatedText(
                    _content=decodes.get(value, value), lang="en")])))
        else:
            codelist.EnumeratedItem.append(DEFINE.EnumeratedItem(CodedValue=value,
                                                                 OrderNumber=order))
    return codelist


class DefineBuilder:
    """The Define-XML document, built one dataset at a time (:meth:`add`), so that a run holds
    one dataset and its transport frame at once (at 100,000 patients ADTTE's is ~1 GB)."""

    def __init__(self, *, study_id: str, study_title: str, cut: dt.date) -> None:
        self.study_id, self.study_title, self.cut = study_id, study_title, cut
        self.version = DEFINE.MetaDataVersion(
            OID=f"MDV.{study_id}.ADAM", Name=f"{study_id} ADaM datasets, data cut {cut}",
            Description=f"Analysis datasets of {study_id} for the data cut of {cut}",
            DefineVersion=DEFINE_VERSION)
        self.version.Standards = DEFINE.Standards(Standard=[DEFINE.Standard(
            OID=ADAMIG, Name="ADaMIG", Type="IG", Version="1.3", Status="Final")])
        self.codelist_values: dict[str, set[str]] = {}
        self.codelist_types: dict[str, str] = {}
        self.methods: list[DEFINE.MethodDef] = []

    def add(self, dataset: str, frame: pd.DataFrame, out: pd.DataFrame) -> None:
        """Describe ``dataset``: its derived ``frame`` and transport frame ``out``
        (:func:`transport_frame`)."""
        group = DEFINE.ItemGroupDef(
            OID=f"IG.{dataset}", Name=dataset, SASDatasetName=dataset, Repeating=
            "No" if dataset == "ADSL" else "Yes", IsReferenceData="No", Purpose="Analysis",
            Structure="One record per subject" if dataset == "ADSL" else
            "One or more records per subject", StandardOID=ADAMIG,
            ArchiveLocationID=f"LF.{dataset}", Description=_text(DATASET_LABELS[dataset]))
        group.Class = DEFINE.Class(Name=DATASET_CLASSES[dataset])
        keys = DATASET_KEYS[dataset]
        for order, name in enumerate(out.columns, start=1):
            meta = variable(dataset, name)
            item_oid = f"IT.{dataset}.{name}"
            ref = DEFINE.ItemRef(ItemOID=item_oid, OrderNumber=order,
                                 Mandatory="Yes" if name in keys else "No")
            if name in keys:
                ref.KeySequence = keys.index(name) + 1
            origin = DEFINE.Origin(Type="Derived" if meta.derivation else "Predecessor")
            if meta.derivation:
                method_oid = f"MT.{dataset}.{name}"
                ref.MethodOID = method_oid
                self.methods.append(DEFINE.MethodDef(
                    OID=method_oid, Name=f"Derivation of {name}", Type="Computation",
                    Description=_text(meta.derivation)))
            else:
                origin.Description = _text(f"{name} of the data cut's tables")
            group.ItemRef.append(ref)
            data_type = _data_type(out[name], frame.get(name))
            item = DEFINE.ItemDef(OID=item_oid, Name=name, SASFieldName=name,
                                  DataType=data_type, Description=_text(meta.label))
            if data_type == "text":
                item.Length = longest_utf8(out[name]) or 1
            elif data_type == "integer":
                digits = out[name].dropna().abs().astype(int).astype(str).str.len()
                item.Length = int(digits.max()) if len(digits) else 1
            elif data_type == "float":
                item.Length = 8  # SAS numeric bytes
            else:
                item.DisplayFormat = "DATE9."
            item.Origin.append(origin)
            if meta.codelist:
                oid = f"CL.{meta.codelist}"
                item.CodeListRef = DEFINE.CodeListRef(CodeListOID=oid)
                present = out[name].dropna()
                if data_type == "integer":
                    present = present.astype(int)
                self.codelist_values.setdefault(meta.codelist, set()).update(
                    map(str, present.unique()))
                self.codelist_types[meta.codelist] = ("integer" if data_type == "integer"
                                                      else "text")
            self.version.ItemDef.append(item)
        group.leaf = DEFINE.leaf(ID=f"LF.{dataset}", href=f"{dataset.lower()}.xpt",
                                 title=DEFINE.title(_content=f"{dataset.lower()}.xpt"))
        self.version.ItemGroupDef.append(group)

    def document(self) -> DEFINE.ODM:
        """The document of the datasets added; :class:`MetadataError` for a value outside
        its codelist."""
        version, study_id, cut = self.version, self.study_id, self.cut
        for name in sorted(self.codelist_values):
            decodes = CODELISTS.get(name)
            values = list(decodes) if decodes else sorted(self.codelist_values[name])
            unknown = sorted(self.codelist_values[name] - set(values))
            if unknown:
                raise MetadataError(f"codelist {name}: value(s) {', '.join(unknown)} not in "
                                    "the codelist")
            version.CodeList.append(_codelist(f"CL.{name}", name, values, decodes,
                                              self.codelist_types[name]))
        version.MethodDef.extend(self.methods)
        stamp = f"{cut.isoformat()}T00:00:00"
        study = DEFINE.Study(OID=f"ST.{study_id}", GlobalVariables=DEFINE.GlobalVariables(
            StudyName=DEFINE.StudyName(_content=study_id),
            StudyDescription=DEFINE.StudyDescription(_content=self.study_title),
            ProtocolName=DEFINE.ProtocolName(_content=study_id)), MetaDataVersion=version)
        return DEFINE.ODM(FileOID=f"DEF.{study_id}.{cut.isoformat()}", FileType="Snapshot",
                          CreationDateTime=stamp, ODMVersion="1.3.2", Originator="haplo-report",
                          SourceSystem="haplo-report", Context="Submission", Study=study)

    def write(self, path: Path) -> Path:
        """Write :meth:`document` as ``path`` (define.xml) once its references check."""
        document = self.document()
        check_references(document)
        document.write_xml(str(path))
        data = Path(path).read_bytes()
        end = data.index(b"?>") + 2 if data.startswith(b"<?xml") else 0
        Path(path).write_bytes(data[:end] + b"\n" + stamp_note(self.cut).encode("ascii")
                               + data[end:])
        return path


def stamp_note(cut: dt.date) -> str:
    """The XML comment saying what define.xml's CreationDateTime (and the XPT header stamps)
    is: a fixed stamp, the data cut, so that the same data give the same bytes."""
    return (f"<!-- CreationDateTime {cut.isoformat()}T00:00:00 is a fixed stamp: the data cut "
            "date, not the time this file was written, so that the same data and suite give a "
            "byte-identical define.xml; the XPT files' header stamps are the same date. When "
            "the run was made: run_started in the run folder's manifest.json. -->")


def check_references(document: DEFINE.ODM) -> None:
    """odmlib's checks: unique OIDs and every OID reference defined (raises otherwise)."""
    document.verify_oids(create_oid_checker("define_2_1"))
