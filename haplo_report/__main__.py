from haplo_report.cli import main

raise SystemExit(main())
