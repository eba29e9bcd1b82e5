"""Numbered report tables (ICH E3): :class:`Table` and one builder per table number.

Each builder takes result rows (a list of ``ResultRow`` or a frame from ``read_results``) and
the data cut, and returns a :class:`Table`; ``BUILDERS`` maps the table number to it.
"""

from __future__ import annotations

from collections.abc import Callable

from haplo_report.outputs.tables.core import Table, TableInputError
from haplo_report.outputs.tables.efficacy import (table_14_2_1, table_14_2_2, table_14_2_3,
                                          table_14_2_4, table_14_2_5, table_14_2_6,
                                          table_14_2_7, table_14_2_8, table_14_2_9,
                                          table_14_2_10)
from haplo_report.outputs.tables.listings import listing_16_2_6, listing_16_2_7, listing_markdown
from haplo_report.outputs.tables.population import (table_14_1_1, table_14_1_2, table_14_1_3,
                                            table_14_1_4)
from haplo_report.outputs.tables.safety import (table_14_3_1, table_14_3_2, table_14_3_3,
                                        table_14_3_4, table_14_3_5, table_14_3_6,
                                        table_14_3_7, table_14_3_8, table_14_3_9,
                                        table_14_3_10)

BUILDERS: dict[str, Callable[..., Table]] = {
    builder.__name__.removeprefix("table_").replace("_", "."): builder
    for builder in (table_14_1_1, table_14_1_2, table_14_1_3, table_14_1_4, table_14_2_1,
                    table_14_2_2, table_14_2_3, table_14_2_4, table_14_2_5, table_14_2_6,
                    table_14_2_7, table_14_2_8, table_14_2_9, table_14_2_10, table_14_3_1,
                    table_14_3_2, table_14_3_3, table_14_3_4, table_14_3_5, table_14_3_6,
                    table_14_3_7, table_14_3_8, table_14_3_9, table_14_3_10)
}

__all__ = ["BUILDERS", "Table", "TableInputError", "listing_16_2_6", "listing_16_2_7",
           "listing_markdown",
           *(f"table_{k.replace('.', '_')}" for k in BUILDERS)]
