"""Plain executemany INSERTs and UPDATEs for the sync's big writes.

``bulk_create`` builds a model instance and runs every field's ``get_db_prep_save`` for
each row; at a million artifacts that is most of a first sync. Here rows are tuples
already in database form (``db_datetime`` / ``db_json`` / ``json_text`` do the
adapting) sent with one ``executemany`` (or COPY) per batch. Only reconcile uses it,
inside its batch transactions.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db import connection


def insert_rows(*, model: type, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order, database-ready values) into ``model``.

    SQLite gets one ``executemany`` (its per-row cost is tiny); PostgreSQL gets ``COPY``,
    since a round trip per row, or parsing one huge statement, is what costs there.
    """
    insert_table_rows(table=model._meta.db_table, columns=columns, rows=rows)


def insert_table_rows(*, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """``insert_rows`` into a table by name (the benchmark's insert floor writes a copy)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    # Table and column names come from metadata, never from data; values are parameters.
    table = quote(table)
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _copy_rows(cursor, f"COPY {table} ({names}) FROM STDIN", rows)
            return
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", rows)  # noqa: S608


def _copy_rows(cursor, sql: str, rows: Sequence[tuple]) -> None:
    """COPY ``rows`` in, seen by Django like any other statement.

    The COPY goes through the connection's execute wrappers (so write counters and
    query limits see it) and, under a debug cursor, into ``connection.queries`` as
    "<n> times: COPY ...", as an executemany would.
    """

    def copy_in(sql, params, many, context):
        with context["cursor"].copy(sql) as copy:
            for row in params:
                copy.write_row(row)

    executor = copy_in
    for wrapper in reversed(connection.execute_wrappers):
        executor = functools.partial(wrapper, executor)
    debug_sql = getattr(cursor, "debug_sql", None)
    logged = debug_sql(sql, rows, many=True) if debug_sql else contextlib.nullcontext()
    # Driver errors as Django's (IntegrityError, ...), as for any other statement.
    with logged, connection.wrap_database_errors:
        executor(sql, rows, True, {"connection": connection, "cursor": cursor})


def iter_raw_rows(queryset, *, chunk_size: int) -> Iterator[tuple]:
    """The rows of a ``values_list`` queryset as the database driver returns them.

    No ordering and none of Django's per-value converters: for the sync's comparison
    maps, which read a million rows and want only ints, strings and booleans (select a
    boolean expression such as ``missing_since IS NOT NULL`` rather than a datetime,
    whose raw form differs by backend).
    """
    sql, params = queryset.order_by().query.sql_with_params()
    # A server-side cursor on PostgreSQL (a plain cursor would hold the whole result in
    # memory); SQLite steps through the result as rows are fetched anyway.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield from rows


def update_rows(*, model: type, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """UPDATE ``model`` rows by pk: each row is (value per column ..., pk)."""
    update_table_rows(table=model._meta.db_table, columns=columns, rows=rows)


def update_table_rows(*, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """``update_rows`` of a table by name (the artifact writer process has no models)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    sql = f"UPDATE {quote(table)} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def db_datetime(value: datetime | None) -> Any:
    """A datetime as the database backend stores it (what a DateTimeField would send)."""
    return connection.ops.adapt_datetimefield_value(value)


def datetime_adapter() -> Callable[[datetime | None], Any]:
    """``db_datetime`` bound to this thread's connection once, for per-row loops."""
    return connection.ops.adapt_datetimefield_value


def json_text(value: Any) -> str:
    """A JSON value as text, for a row that ``insert_rows`` writes.

    Both databases parse it into the column's type on the way in (PostgreSQL's COPY
    reads text; SQLite stores JSON as text), so no per-row JSON adapter is built and
    dumped: on PostgreSQL that was most of COPY's Python time per row.
    """
    return json.dumps(value)


def db_json(value: Any) -> Any:
    """A JSON value as a JSONField would send it."""
    adapt = getattr(connection.ops, "adapt_json_value", None)
    if adapt is not None:
        return adapt(value, None)
    return json.dumps(value)
