from haplo_report.cli import entry

entry()
