"""Plain executemany INSERTs and UPDATEs for the sync's big writes.

``bulk_create`` builds a model instance and runs every field's ``get_db_prep_save`` for
each row; at a million artifacts that is most of a first sync. Here rows are tuples
already in database form (``db_datetime`` / ``db_json`` / ``json_text`` do the
adapting) sent with one ``executemany`` (or COPY) per batch. ``insert_instances`` and
``update_instances`` do the same for model instances (``KeyedTable``'s creates and
updates; the latter instead of ``bulk_update``, which builds and compiles a ``When``
expression per field and row: 1.65 s of its 1.70 s for 500 runs, outside the database).
Only the sync uses this module, inside its batch transactions.

On PostgreSQL a batch of at least ``STAGED_MIN_ROWS`` updates, and the creates of
mirrored rows whose pks the sync needs back, go through a staging table: COPY the rows
into a temporary table of the target's column types, then one ``UPDATE ... FROM`` or
``INSERT ... SELECT ... RETURNING``. One statement per row (``executemany``'s UPDATE)
made the server parse, plan and run a statement per row; ``bulk_create``'s
``UNNEST`` of one array per column had psycopg quote every value into the SQL text.
At 5,000 runs the staged path took a third of the UPDATEs' time and 0.6 of
``bulk_create``'s (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from psycopg.pq import Format
from psycopg.types.json import JsonbBinaryDumper

# PostgreSQL: update batches from this size on go through a staging table (below it,
# the temporary table's creation costs more than the statements it saves).
STAGED_MIN_ROWS = 50
# The staging table's column that keeps the order rows were copied in.
STAGING_ORDER = "staging_order"
# A staging table's name: this, then the target table's.
STAGING_PREFIX = "staging_"


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
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _copy_rows(cursor, table=table, columns=columns, rows=rows)
            return
        quote = connection.ops.quote_name
        # Table and column names come from metadata, never from data; values are parameters.
        names = ", ".join(quote(column) for column in columns)
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {quote(table)} ({names}) VALUES ({placeholders})", rows)  # noqa: S608


def _copy_rows(
    cursor, *, table: str, columns: Sequence[str], rows: Sequence[tuple], into: str = ""
) -> None:
    """COPY ``rows`` into ``columns`` of ``table`` (or of ``into``, a staging table made
    from ``table``), seen by Django like any other statement.

    Binary when psycopg can send every column's type that way (``column_types``): it
    packs each value by its column's type, and the server stores it without parsing
    text. For a first sync's million artifact rows the writer process spent 2.0 s of
    CPU instead of 5.6 s, and its server backend 11.4 s instead of 12.3 s (ADR 0010).

    The COPY goes through the connection's execute wrappers (so write counters and
    query limits see it) and, under a debug cursor, into ``connection.queries`` as
    "<n> times: COPY ...", as an executemany would.
    """
    quote = connection.ops.quote_name
    types = column_types(cursor, table=table, columns=columns)
    names = ", ".join(quote(column) for column in columns)
    # Table and column names come from metadata, never from data; values are parameters.
    sql = f"COPY {into or quote(table)} ({names}) FROM STDIN"
    if types is not None:
        sql += " (FORMAT BINARY)"

    def copy_in(sql, params, many, context):
        copy_cursor = context["cursor"]
        if types is not None:
            # By oid only (no Python type): used for jsonb columns in this COPY alone.
            copy_cursor.adapters.register_dumper(None, JsonTextBinaryDumper)
        with copy_cursor.copy(sql) as copy:
            if types is not None:
                copy.set_types(types)
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


def column_types(cursor, *, table: str, columns: Sequence[str]) -> tuple[int, ...] | None:
    """PostgreSQL: the type oids of ``table``'s ``columns`` if psycopg can send each of
    them in binary, else None.

    Read from the system catalogue once per database, table and columns: a sync copies
    some 200 batches into the same few tables.
    """
    key = (connection.settings_dict["NAME"], table, tuple(columns))
    if key not in _column_types:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [connection.ops.quote_name(table)],
        )
        oids = dict(cursor.fetchall())
        types: tuple[int, ...] | None = tuple(oids[column] for column in columns)
        try:
            for oid in types:
                cursor.adapters.get_dumper_by_oid(oid, Format.BINARY)
        except (psycopg.ProgrammingError, ValueError):
            types = None  # a type without a binary dumper: the COPY goes as text
        _column_types[key] = types
    return _column_types[key]


_column_types: dict[tuple[str, str, tuple[str, ...]], tuple[int, ...] | None] = {}


class JsonTextBinaryDumper(JsonbBinaryDumper):
    """jsonb in binary COPY: a str is JSON text already (``json_text``), sent as is.

    psycopg's own dumper would encode the str as a JSON string; anything else (Django's
    ``Jsonb`` wrapper) goes to it.
    """

    def dump(self, obj: Any) -> bytes | None:
        if isinstance(obj, str):
            return b"\x01" + obj.encode()
        return super().dump(obj)


# "Is the row marked missing?" as the database computes it, for ``iter_raw_rows``.
IS_MISSING = ExpressionWrapper(Q(missing_since__isnull=False), output_field=BooleanField())


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
    if connection.vendor == "postgresql" and len(rows) >= STAGED_MIN_ROWS:
        _update_staged(table=table, columns=columns, rows=rows)
        return
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    sql = f"UPDATE {quote(table)} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def insert_instances(*, model: type, instances: Sequence[Any], batch_size: int) -> None:
    """INSERT unsaved ``instances`` of ``model`` and set their pks, as ``bulk_create`` does.

    PostgreSQL: through a staging table (see the module's docstring), the pks read back
    in the order the rows were staged. Elsewhere: ``bulk_create`` in ``batch_size``
    statements (SQLite's is cheap).
    """
    if not instances:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(instances, batch_size=batch_size)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = [field.column for field in fields]
    # What bulk_create's compiler sends for each field: pre_save, then the db form.
    rows = [
        tuple(field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields)
        for obj in instances
    ]
    table = model._meta.db_table
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    pk_column = quote(model._meta.pk.column)
    with _staging_table(table=table, columns=columns, ordered=True) as (cursor, staging):
        _copy_rows(cursor, table=table, columns=columns, rows=rows, into=staging)
        # Rows go in, and come back from RETURNING, in staging order (as Django's own
        # bulk_create relies on for its INSERT ... SELECT ... UNNEST).
        cursor.execute(
            f"INSERT INTO {quote(table)} ({names})"  # noqa: S608 (names from metadata)
            f" SELECT {names} FROM {staging} ORDER BY {STAGING_ORDER} RETURNING {pk_column}"
        )
        pks = [pk for (pk,) in cursor.fetchall()]
    if len(pks) != len(instances):
        raise RuntimeError(f"{table}: inserted {len(instances)} rows, got {len(pks)} pks back")
    for obj, pk in zip(instances, pks, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def update_instances(*, model: type, instances: Sequence[Any], fields: Sequence[str]) -> None:
    """UPDATE ``fields`` of saved ``instances`` by pk, with the values ``bulk_update`` sends.

    ``update_rows`` underneath: a statement per row on SQLite, staged on PostgreSQL.
    """
    if not instances:
        return
    concrete = [model._meta.get_field(name) for name in fields]

    def db_values(obj) -> tuple:
        return tuple(
            field.get_db_prep_save(getattr(obj, field.attname), connection) for field in concrete
        )

    rows = [(*db_values(obj), obj.pk) for obj in instances]
    update_rows(model=model, columns=[field.column for field in concrete], rows=rows)


def _update_staged(*, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """PostgreSQL: ``update_table_rows`` as COPY into a staging table, then one UPDATE."""
    quote = connection.ops.quote_name
    pk = quote("id")
    staged = [*columns, "id"]
    assignments = ", ".join(f"{quote(column)} = staged.{quote(column)}" for column in columns)
    with _staging_table(table=table, columns=staged) as (cursor, staging):
        _copy_rows(cursor, table=table, columns=staged, rows=rows, into=staging)
        cursor.execute(
            f"UPDATE {quote(table)} SET {assignments}"  # noqa: S608 (names from metadata)
            f" FROM {staging} AS staged WHERE {quote(table)}.{pk} = staged.{pk}"
        )


@contextlib.contextmanager
def _staging_table(*, table: str, columns: Sequence[str], ordered: bool = False):
    """A temporary table with ``columns`` of ``table`` (their exact types), in a transaction.

    Yields (cursor, quoted name). The table is dropped when the block ends; if the block
    fails, rolling back its savepoint drops it (PostgreSQL's DDL is transactional).
    """
    quote = connection.ops.quote_name
    staging = quote(f"{STAGING_PREFIX}{table}")
    names = ", ".join(quote(column) for column in columns)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS"  # noqa: S608
            f" SELECT {names} FROM {quote(table)} WITH NO DATA"
        )
        if ordered:
            # Filled by COPY, in the order rows are copied.
            cursor.execute(f"ALTER TABLE {staging} ADD COLUMN {STAGING_ORDER} bigserial")
        yield cursor, staging
        cursor.execute(f"DROP TABLE {staging}")


def db_datetime(value: datetime | None) -> Any:
    """A datetime as the database backend stores it (what a DateTimeField would send)."""
    return connection.ops.adapt_datetimefield_value(value)


def datetime_adapter() -> Callable[[datetime | None], Any]:
    """``db_datetime`` bound to this thread's connection once, for per-row loops."""
    return connection.ops.adapt_datetimefield_value


def json_text(value: Any) -> str:
    """A JSON value as text, for a row that ``insert_rows`` writes.

    Both databases parse it into the column's type on the way in (PostgreSQL's COPY
    sends it as jsonb's text, ``JsonTextBinaryDumper``; SQLite stores JSON as text), so
    no per-row JSON adapter is built and dumped: on PostgreSQL that was most of COPY's
    Python time per row.
    """
    return json.dumps(value)


def db_json(value: Any) -> Any:
    """A JSON value as a JSONField would send it."""
    adapt = getattr(connection.ops, "adapt_json_value", None)
    if adapt is not None:
        return adapt(value, None)
    return json.dumps(value)
