"""The schema's indexes: none redundant, the few partial ones used by the queries they serve.

Every index is paid for by each insert of a first sync (a million artifact rows at the
benchmark's scale), so an index that another index already provides is a defect, and a
partial index that its query cannot use is dead weight. ADR 0007 says why each exists.
"""

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from catalog import selectors
from catalog.artifact_browser import owner_artifacts
from catalog.models import Artifact, LoggedModel, Run
from tests.factories import make_logged_model


def _indexes(table: str) -> dict[str, tuple[str, ...]]:
    """Index (and unique constraint) name -> its columns, as the database reports them."""
    return {name: columns for name, (columns, _unique) in _index_details(table).items()}


def _index_details(table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name: (tuple(info["columns"]), bool(info["unique"]))
        for name, info in constraints.items()
        if (info["index"] or info["unique"]) and not info["primary_key"]
    }


def _catalog_tables() -> list[str]:
    return [model._meta.db_table for model in apps.get_app_config("catalog").get_models()]


@pytest.mark.django_db
@pytest.mark.parametrize("table", _catalog_tables())
def test_no_index_repeats_the_leading_columns_of_another(table):
    """An index that another one starts with is redundant, unless it enforces uniqueness."""
    details = _index_details(table)
    # An index on expressions only (the search's trigram indexes) reports no columns.
    redundant = [
        (name, other)
        for name, (columns, unique) in details.items()
        for other, (other_columns, _) in details.items()
        if name != other and columns and not unique and other_columns[: len(columns)] == columns
    ]
    assert redundant == []


@pytest.mark.django_db
def test_artifact_table_keeps_only_the_indexes_its_queries_need():
    assert _indexes(Artifact._meta.db_table) == {
        "artifact_natural_key": ("bucket", "key"),
        "artifact_by_run_folder": ("run_id", "folder", "path"),
        "artifact_by_lm_folder": ("logged_model_id", "folder", "path"),
        "artifact_gone": ("missing_since",),
    }


def _plan(queryset) -> str:
    """The database's plan for ``queryset``, with sequential scans discouraged on PostgreSQL.

    The test tables are nearly empty, where PostgreSQL rightly prefers a scan; what is
    checked is that the index *can* serve the query (its partial condition is implied).
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


@pytest.mark.django_db
def test_the_partial_indexes_serve_their_queries():
    logged_model = make_logged_model()
    cutoff = timezone.now() - timedelta(days=30)

    assert "artifact_by_lm_folder" in _plan(
        owner_artifacts(owner=logged_model).filter(folder="").order_by("path")
    )
    assert "artifact_gone" in _plan(
        Artifact.objects.filter(missing_since__isnull=False).order_by("-missing_since")[:50]
    )
    # The purge's filter (unordered: it deletes what it finds).
    assert "artifact_gone" in _plan(Artifact.objects.filter(missing_since__lt=cutoff).order_by())
    assert "run_gone" in _plan(Run.objects.filter(missing_since__lt=cutoff).order_by())
    assert "logged_model_gone" in _plan(
        LoggedModel.objects.filter(missing_since__isnull=False).order_by("-missing_since")
    )
    # The orphans (no run, no logged model) are a short range of the run folder index.
    assert "artifact_by_run_folder" in _plan(selectors.orphan_folders())
    # The drift report's runs: its counts and its tables read their own few index rows.
    assert "run_without_artifacts" in _plan(selectors.runs_without_artifacts().order_by())
    assert "run_deleted_with_artifacts" in _plan(
        selectors.deleted_runs_with_artifacts().order_by().values("artifact_bytes")
    )
    assert "run_deleted_with_artifacts" in _plan(selectors.deleted_runs_with_artifacts())


@pytest.mark.django_db(transaction=True)
def test_lean_indexes_migration_reverses_and_reapplies():
    target, latest = ("catalog", "0001_initial"), ("catalog", "0002_lean_indexes")
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    assert "catalog_artifact_run_id_4431e055" in _indexes("catalog_artifact")
    assert "artifact_gone" not in _indexes("catalog_artifact")

    executor = MigrationExecutor(connection)
    executor.migrate([latest])
    assert "catalog_artifact_run_id_4431e055" not in _indexes("catalog_artifact")
    assert "artifact_gone" in _indexes("catalog_artifact")
