"""Write the bundled example cut's ADTTE rows for the R reference (make_expected_example.R)
and its MRD inputs (ADSL columns, assessments) for make_expected_mrd.R.

Run from the repository root:
    .venv/bin/python haplo_report/qualification/reference/export_example.py
The rows come from the real pipeline (haplo_report.qualification.example), so R and Python
estimate from the same data; tests/test_reference_example.py and ``haplo-report qualify`` check
that the committed CSVs still equal a fresh export. Then refresh the reference manifest:
``python -m haplo_report.qualification.refresh``.
"""

from __future__ import annotations

from pathlib import Path

from haplo_report.qualification.example import adtte_text, example_derived, mrd_texts

INPUTS = Path(__file__).resolve().parent / "inputs"


def main() -> None:
    derived = example_derived()
    texts = {"example_adtte.csv": adtte_text(derived.adtte)}
    texts["example_mrd_patients.csv"], texts["example_mrd_assessments.csv"] = mrd_texts(
        derived.adsl, derived.admrd)
    for name, text in texts.items():
        (INPUTS / name).write_text(text, encoding="utf-8")
        print(f"wrote {INPUTS / name}")


if __name__ == "__main__":
    main()
