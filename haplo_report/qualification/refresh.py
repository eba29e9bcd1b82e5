"""``python -m haplo_report.qualification.refresh``: write the reference manifest anew after
regenerating reference files (only on purpose: the diff shows which files changed)."""

from __future__ import annotations

from haplo_report.qualification.integrity import REFERENCE_DIR, reference_files, refresh

if __name__ == "__main__":
    path = refresh()
    print(f"wrote {path}: {len(reference_files(REFERENCE_DIR))} files")
