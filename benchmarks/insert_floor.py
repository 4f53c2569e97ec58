"""The database's own cost of a first pass: the same artifact rows, written bare.

Item 2's first pass is judged against 50,000 artifacts/s. Part of its time is the
database inserting a million rows into a table with a unique key and five more
indexes, which no catalogue code can make cheaper. This measures that part: the
artifact table's schema is copied to a scratch table (its indexes and its foreign keys:
on PostgreSQL ``LIKE ... INCLUDING ALL`` copies no foreign key, so they are added from
``pg_constraint``; each row's checks cost the server about as much as its COPY), the rows
the first sync wrote are read back in pk order, a batch at a time, and inserted with
the sync's batch size and its own insert (``catalog.sync.bulk``: ``executemany`` on
SQLite, ``COPY`` on PostgreSQL), one transaction per batch. Only the inserts and
commits are timed.
"""

from __future__ import annotations

import re
import time

SCRATCH_TABLE = "bench_insert_floor"


def measure(*, batch_size: int) -> dict:
    """Seconds to insert every catalogued artifact row again, bare; and how many rows."""
    from django.db import connection, transaction

    from catalog.sync.artifacts.rows import ARTIFACT_INSERT_COLUMNS as COLUMNS
    from catalog.sync.bulk import insert_table_rows

    _create_scratch_table(connection)
    try:
        quote = connection.ops.quote_name
        # meta read as text on PostgreSQL, as the sync sends it (COPY parses it to jsonb).
        as_text = {"meta"} if connection.vendor == "postgresql" else set()
        read = ", ".join(
            f"{column}::text" if column in as_text else quote(column) for column in COLUMNS
        )
        select = f"SELECT id, {read} FROM catalog_artifact WHERE id > %s ORDER BY id LIMIT %s"  # noqa: S608
        last_pk, rows_written, seconds = 0, 0, 0.0
        while True:
            with connection.cursor() as cursor:
                cursor.execute(select, [last_pk, batch_size])
                batch = cursor.fetchall()
            if not batch:
                break
            last_pk = batch[-1][0]
            rows = [row[1:] for row in batch]
            started = time.perf_counter()
            with transaction.atomic():
                insert_table_rows(table=SCRATCH_TABLE, columns=COLUMNS, rows=rows)
            seconds += time.perf_counter() - started
            rows_written += len(rows)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH_TABLE}")
    return {"rows": rows_written, "seconds": round(seconds, 3)}


def _create_scratch_table(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH_TABLE}")
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TABLE {SCRATCH_TABLE} (LIKE catalog_artifact INCLUDING ALL)")
            cursor.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = 'catalog_artifact'::regclass AND contype = 'f' ORDER BY conname"
            )
            for number, (definition,) in enumerate(cursor.fetchall()):
                name = f"{SCRATCH_TABLE}_fk{number}"
                cursor.execute(f"ALTER TABLE {SCRATCH_TABLE} ADD CONSTRAINT {name} {definition}")
            return
        cursor.execute(
            "SELECT type, sql FROM sqlite_master"
            " WHERE tbl_name = 'catalog_artifact' AND sql IS NOT NULL ORDER BY type DESC"
        )
        for kind, sql in cursor.fetchall():
            sql = sql.replace('"catalog_artifact"', f'"{SCRATCH_TABLE}"')
            if kind == "index":
                sql = re.sub(r'INDEX "([^"]+)"', rf'INDEX "{SCRATCH_TABLE}_\1"', sql)
            cursor.execute(sql)
