"""``haplo-report qualify``: installation and operational qualification of the installed suite.

The environment against the lock, the R reference cases shipped in ``reference/`` (checked
against their manifest first), an end-to-end run of the bundled example cut with its
independent check and ``verify --reproduce``; a report a QA reviewer signs (PDF, HTML) and
``qualification.json``.
"""
