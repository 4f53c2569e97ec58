"""Count the rows a piece of code writes, by table, through Django's execute wrapper."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Iterator

from catalog.sync.bulk import STAGING_PREFIX

_WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM|COPY)\s+"?(\w+)"?', re.IGNORECASE)


class WriteCounter:
    """Rows inserted, updated or deleted per table while installed."""

    def __init__(self) -> None:
        self.rows: Counter[str] = Counter()
        self.statements = 0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        result = execute(sql, params, many, context)
        match = _WRITE.match(sql)
        # A staging table's rows are counted by the statement that moves them into
        # their table (catalog.sync.bulk), not twice.
        if match and not match.group(2).startswith(STAGING_PREFIX):
            self.statements += 1
            self.rows[match.group(2)] += _rows_of(match.group(1), sql, params, many, context)
        return result

    def add_writer_process_rows(self, report) -> None:
        """Add the artifact rows the sync's writer process wrote: its statements run on
        its own connection, past this wrapper (``catalog.sync.artifacts.writer``)."""
        if report.rows_written_by_writer_process:
            self.rows["catalog_artifact"] += report.rows_written_by_writer_process

    def catalogue_rows(self, *, ignore: tuple[str, ...] = ("catalog_syncrun",)) -> int:
        """Rows written to the catalogue's tables, leaving out the sync's own record."""
        return sum(count for table, count in self.rows.items() if table not in ignore)


def _rows_of(verb: str, sql: str, params, many: bool, context) -> int:
    """Rows a write touched: the driver's rowcount, else the number of value tuples sent.

    A COPY (``catalog.sync.bulk`` on PostgreSQL) sends its rows as the parameters.

    psycopg's rowcount is right for every statement (PostgreSQL's bulk INSERT sends one
    array per column, so tuples can't be counted there); sqlite3's is not yet set for
    INSERT ... RETURNING when the wrapper returns, so there the tuples are counted.
    """
    if verb.upper() == "COPY":
        return len(params)
    rowcount = getattr(context["cursor"], "rowcount", -1)
    trusted = context["connection"].vendor == "postgresql" or "RETURNING" not in sql.upper()
    if rowcount >= 0 and trusted:
        return rowcount
    if verb.upper().startswith("INSERT"):
        columns = sql[sql.index("(") + 1 : sql.index(")")].count(",") + 1
        if many:
            return sum(len(p) // columns for p in params)
        return len(params or ()) // columns
    return max(rowcount, 0)


@contextlib.contextmanager
def count_writes() -> Iterator[WriteCounter]:
    from django.db import connection

    counter = WriteCounter()
    with connection.execute_wrapper(counter):
        yield counter
