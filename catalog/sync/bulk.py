"""Plain executemany INSERTs and UPDATEs for the sync's big writes.

``bulk_create`` builds a model instance and runs every field's ``get_db_prep_save`` for
each row; at a million artifacts that is most of a first sync. Here rows are tuples
already in database form (``db_datetime`` / ``db_json`` do the adapting) sent with one
``executemany`` per batch. Only reconcile uses it, inside its batch transactions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection


def insert_rows(*, model: type, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order, database-ready values) into ``model``."""
    if not rows:
        return
    quote = connection.ops.quote_name
    # Table and column names come from the model's metadata; values are parameters.
    names = ", ".join(quote(column) for column in columns)
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def update_rows(*, model: type, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """UPDATE ``model`` rows by pk: each row is (value per column ..., pk)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def db_datetime(value: datetime | None) -> Any:
    """A datetime as the database backend stores it (what a DateTimeField would send)."""
    return connection.ops.adapt_datetimefield_value(value)


def db_json(value: Any) -> Any:
    """A JSON value as a JSONField would send it."""
    adapt = getattr(connection.ops, "adapt_json_value", None)
    if adapt is not None:
        return adapt(value, None)
    return json.dumps(value)
