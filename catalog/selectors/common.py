"""Pieces every page's reads share: the data version, the last sync, metric helpers."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    F,
    QuerySet,
    Value,
)
from django.db.models.functions import Coalesce, NullIf

from catalog.models import (
    SyncRun,
)

# How many metric keys, runs or versions a chart or a picker looks at: enough for any
# honest comparison, bounded whatever the data size.
METRIC_KEY_SAMPLE = 500
CHART_MAX_BARS = 40
KEY_MODELS_SHOWN = 3
SEARCH_LIMIT = 20
# Heavy columns of an experiment that list pages showing its name never read.
EXPERIMENT_HEAVY_FIELDS = (
    "experiment__tags",
    "experiment__mlflow_description",
    "experiment__description",
    "experiment__notes",
)
# MLflow experiment ids are numbers in strings: shorter first sorts "2" before "10".
EXPERIMENT_NUMERIC_ORDER = ("id_length", "experiment_id")
# Metrics shown first in "key metrics" cells and picked first by charts.
PREFERRED_METRICS = (
    "accuracy",
    "f1",
    "f1_score",
    "roc_auc",
    "auc",
    "precision",
    "recall",
    "rmse",
    "mae",
    "mape",
    "r2",
)


def effective_category_expression():
    """SQL for ``RegisteredModel.effective_category``: the override when set, else inferred."""
    return Coalesce(NullIf(F("category_override"), Value("")), F("category"))


def last_sync() -> SyncRun | None:
    """The latest finished sync (ok, partial, failed or aborted: not running), or None."""
    return SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).first()


@dataclass(frozen=True)
class DataVersion:
    """What every page is a function of, read in one query (see ``catalog.pagecache``).

    ``token`` changes when a sync starts or finishes (the newest SyncRun's id, status and
    times) and when the admin logs an edit (the newest LogEntry's id and time): between
    those, the synced and curated rows stay as they are. ``last_sync`` is the header's
    "synced N min ago" (the latest finished sync, as ``last_sync()``).
    """

    token: str
    last_sync: SyncRun | None


def _data_version_sql() -> str:
    quote = connection.ops.quote_name
    sync, log = quote(SyncRun._meta.db_table), quote(LogEntry._meta.db_table)
    # Table names come from model metadata; the one value is a query parameter.
    return (
        f"SELECT s.*,"  # noqa: S608
        f" (SELECT l.id FROM {log} l ORDER BY l.id DESC LIMIT 1) AS edit_pk,"
        f" (SELECT l.action_time FROM {log} l ORDER BY l.id DESC LIMIT 1) AS edit_time"
        f" FROM {sync} s"
        f" WHERE s.id = (SELECT MAX(n.id) FROM {sync} n)"
        f" OR s.id = (SELECT f.id FROM {sync} f WHERE f.status <> %s"
        f" ORDER BY f.started_at DESC LIMIT 1)"
    )


def data_version() -> DataVersion:
    """The catalogue's data version: one query (two when no sync has ever run).

    Up to two SyncRun rows (the newest by id, the latest finished one, as ``last_sync``)
    each carrying the newest admin LogEntry. Every page request runs it, so it is plain
    SQL: the same query built with the ORM (four subqueries) cost ~1.3 ms of Python per
    request against ~0.1 ms (SQLite), a quarter of a page cache hit. Portable SQL only.
    """
    rows = list(SyncRun.objects.raw(_data_version_sql(), [SyncRun.Status.RUNNING.value]))
    if rows:
        edit = (rows[0].edit_pk, rows[0].edit_time)
    else:
        edit = LogEntry.objects.order_by("-pk").values_list("pk", "action_time").first()
    newest = max(rows, key=lambda row: row.pk, default=None)
    finished = [row for row in rows if row.status != SyncRun.Status.RUNNING]
    latest_finished = max(finished, key=lambda row: row.started_at, default=None)
    sync_part = (
        (newest.pk, newest.status, newest.started_at, newest.finished_at) if newest else None
    )
    # edit_time is a string on SQLite (raw columns are not converted): fine for a token.
    return DataVersion(token=repr((sync_part, edit)), last_sync=latest_finished)


def request_data_version(request) -> DataVersion:
    """``data_version()`` read once per request (the page cache and the header share it)."""
    version = getattr(request, "_catalog_data_version", None)
    if version is None:
        version = data_version()
        request._catalog_data_version = version
    return version


def request_last_sync(request) -> SyncRun | None:
    """The latest finished sync, read once per request (the header and a view both show it)."""
    return request_data_version(request).last_sync


def order_metric_keys(keys) -> list[str]:
    """Metric keys with the usual quality metrics first, then alphabetical."""
    preferred = [key for key in PREFERRED_METRICS if key in keys]
    return preferred + sorted(set(keys) - set(preferred))


def _metric_keys_of(dicts) -> list[str]:
    keys: set[str] = set()
    for metrics in dicts:
        if isinstance(metrics, dict):
            keys.update(metrics)
    return order_metric_keys(keys)


def _is_number(value) -> bool:
    """A finite int or float (MLflow metrics may be NaN or infinite; charts skip those)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def pick_metric(*, requested: str | None, available: list[str]) -> str | None:
    """The requested metric when it is one of ``available``, else the first available."""
    if requested and requested in available:
        return requested
    return available[0] if available else None


def counts(*, limit: int | None = None, **querysets: QuerySet) -> dict[str, int]:
    """The row count of each queryset, named as passed, in one round trip.

    Each is counted in its own scalar subquery, so each is still read through the
    index its filter implies (a partial index of deleted runs, say), as its own
    ``count()`` would be. With ``limit``, each count stops there (at most ``limit``).
    """
    selects, params = [], []
    for index, queryset in enumerate(querysets.values()):
        rows = queryset.order_by().values("pk")
        if limit is not None:
            rows = rows[:limit]
        # The subqueries and their parameters are Django's own; only aliases are added.
        try:
            sql, query_params = rows.query.sql_with_params()
        except EmptyResultSet:  # .none(), pk__in=[]: Django knows there is no row
            selects.append("0")
            continue
        selects.append(f"(SELECT COUNT(*) FROM ({sql}) counted_{index})")  # noqa: S608
        params.extend(query_params)
    query = "SELECT " + ", ".join(selects)
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        row = cursor.fetchone()
    return dict(zip(querysets, row, strict=True))
