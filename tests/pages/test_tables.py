"""Every column of every table rendered on a populated queryset; every CSV export parses."""

from __future__ import annotations

import csv
import io

import django_tables2 as dt_tables
import pytest
from django.test import RequestFactory
from django.urls import reverse

from catalog import formatting, selectors, tables
from tests.factories import make_model_version, make_registered_model, make_run


def _render_every_cell(table) -> int:
    """Render every cell of every row (HTML and CSV value); return the number of rows."""
    rows = list(table.rows)
    for row in rows:
        for column in table.columns:
            html = str(row.get_cell(column.name))
            assert "None" not in html or column.name == "name", (column.name, html)
            row.get_cell_value(column.name)
    return len(rows)


@pytest.mark.parametrize(
    ("table_class", "rows"),
    [
        (tables.QuickReferenceTable, lambda world: selectors.experiment_rows()),
        (tables.ExperimentTable, lambda world: selectors.experiment_rows()),
        (
            tables.RunTable,
            lambda world: selectors.experiment_runs(experiment=world["experiments"]["4"]),
        ),
        (tables.AuditRunTable, lambda world: selectors.deleted_runs_with_artifacts()),
        (tables.RegisteredModelTable, lambda world: selectors.registered_model_rows()),
        (
            tables.ModelVersionTable,
            lambda world: selectors.model_versions(
                registered_model=world["models"]["ai4i_classifier_svc_baseline"]
            ),
        ),
        (
            tables.RunModelVersionTable,
            lambda world: selectors.run_model_versions(run=world["runs"]["mimii_benchmark"]),
        ),
        (tables.AuditVersionTable, lambda world: selectors.versions_with_missing_artifacts()),
        (tables.LeaderboardTable, lambda world: selectors.leaderboard_rows(metric="accuracy")),
        (tables.OrphanFolderTable, lambda world: selectors.orphan_folders()),
        (tables.CategoryModelTable, lambda world: selectors.category_model_rows()),
    ],
)
def test_every_column_renders(seed_world, table_class, rows, django_assert_max_num_queries):
    run = seed_world["runs"]["svc_baseline"]
    run.lifecycle_stage = "deleted"
    run.save()
    version = seed_world["models"]["xjtu_feature_scaler"].versions.get()
    version.artifacts_present = False
    version.save()
    make_model_version(
        registered_model=seed_world["models"]["ai4i_classifier_svc_baseline"],
        run=make_run(experiment=seed_world["experiments"]["4"], metrics={}),
        version=2,
        aliases=["candidate"],
        artifacts_present=None,
        artifact_bucket="",
        artifact_prefix="",
    )
    table = table_class(rows(seed_world))
    table.paginate(per_page=50)
    # Rendering never queries per row: a constant handful (the queryset and prefetches).
    with django_assert_max_num_queries(4):
        count = _render_every_cell(table)
    assert count > 0
    request = RequestFactory().get("/")
    assert "<table" in table.as_html(request)


def test_formatting_helpers():
    from datetime import timedelta

    assert formatting.format_duration(timedelta(seconds=42)) == "42s"
    assert formatting.format_duration(timedelta(minutes=7, seconds=3)) == "7m 03s"
    assert formatting.format_duration(timedelta(hours=2, minutes=5)) == "2h 05m"
    assert formatting.format_duration(None) == ""
    assert formatting.format_metric(0.981234) == "0.9812"
    assert formatting.format_metric("n/a") == "n/a"
    assert formatting.key_metrics({"zeta": 1, "rmse": 2.5, "accuracy": 0.9}) == [
        ("accuracy", "0.9"),
        ("rmse", "2.5"),
        ("zeta", "1"),
    ]
    assert formatting.plain_purpose("\n## Heading **x**\nmore") == "Heading **x**"
    assert formatting.plain_purpose("a" * 300, limit=10) == "a" * 9 + "…"


@pytest.mark.django_db
def test_status_badges_of_a_deleted_missing_run_render_as_html_not_text():
    run = make_run(lifecycle_stage="deleted", status="FAILED")
    run.missing_since = run.last_seen
    html = str(tables.RunTable([]).columns["status"].render(record=run))
    assert html.count('<span class="badge') == 3
    assert "&lt;span" not in html


def _table_classes() -> list[type]:
    return [getattr(tables, name) for name in tables.__all__ if name.endswith("Table")]


@pytest.mark.parametrize("table_class", _table_classes(), ids=lambda cls: cls.__name__)
def test_every_exported_html_cell_has_a_plain_value(table_class):
    """A ``render_<column>`` writes HTML for the page; the CSV export must not get it.

    django-tables2 exports a column through ``value_<column>`` when the table has one,
    else through ``render_<column>``: every rendered column that is exported needs its
    plain value, and dates are written in ISO 8601.
    """
    table = table_class([])
    for column in table.columns.iterall():
        if column.column.exclude_from_export:
            continue
        if hasattr(table, f"render_{column.name}"):
            assert hasattr(table, f"value_{column.name}"), (table_class.__name__, column.name)
        if isinstance(column.column, dt_tables.DateTimeColumn):
            assert isinstance(column.column, tables.IsoDateTimeColumn), column.name


def test_folder_tables_export_every_model_in_one_query(seed_world, django_assert_num_queries):
    for index in range(4):
        make_registered_model(name=f"extra_{index}", experiment=seed_world["experiments"]["4"])
    table = tables.ExperimentTable(selectors.experiment_rows())
    with django_assert_num_queries(2):  # the rows, then every row's present models
        rows = list(table.as_values())
    four = dict(zip(rows[0], rows[4], strict=True))
    assert four["Key models"].count(";") == 10 - 1
    assert list(table.as_values()) == rows  # a second export of the same table is the same
    # A list of experiments (no queryset) gets its models the same way.
    listed = tables.QuickReferenceTable(list(selectors.experiment_rows()))
    assert [row[-1] for row in listed.as_values()][4] == four["Key models"]


def _csv(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_every_csv_export_parses(seed_world, reader_client):
    run = seed_world["runs"]["svc_baseline"]
    run.lifecycle_stage = "deleted"
    run.save()
    exports = {
        reverse("catalog:home"): ("S3 folder", 7),
        reverse("catalog:experiment_list"): ("Experiment", 7),
        reverse("catalog:experiment_detail", args=["4"]): ("Run ID", 6),
        reverse("catalog:model_list"): ("Name", 17),
        reverse("catalog:model_list") + "?category=preprocessing": ("Name", 2),
        reverse("catalog:model_detail", args=["xjtu_feature_scaler"]): ("Version", 1),
        # Those below the threshold too (noted), without the 2 preprocessing models.
        reverse("catalog:metrics") + "?metric=accuracy&threshold=0.9": ("Model", 15),
        reverse("catalog:audit") + "?section=orphans": ("Folder", 1),
        reverse("catalog:audit") + "?section=deleted-runs": ("Run ID", 1),
    }
    for url, (column, count) in exports.items():
        separator = "&" if "?" in url else "?"
        rows = _csv(reader_client.get(url + separator + "_export=csv"))
        assert len(rows) == count, url
        assert column in rows[0], url
    rows = _csv(reader_client.get(reverse("catalog:home") + "?_export=csv"))
    four = next(row for row in rows if row["S3 folder"] == "4/")
    assert four["Models"] == "6"
    # The page's three key models first (all six are @champion: the best accuracies lead,
    # 0.985, 0.981, 0.973), then every other one: no "+3 more" in a file.
    assert four["Key models"] == (
        "ai4i_classifier_lightgbm_engineered; ai4i_classifier_randomforest_engineered; "
        "ai4i_classifier_svc_engineered; ai4i_classifier_lightgbm_baseline; "
        "ai4i_classifier_randomforest_baseline; ai4i_classifier_svc_baseline"
    )
    rows = _csv(
        reader_client.get(reverse("catalog:experiment_detail", args=["4"]) + "?_export=csv")
    )
    assert {row["Name"] for row in rows} >= {"svc_engineered", "lightgbm_baseline"}
    assert all("accuracy=" in row["Key metrics"] for row in rows)


def test_csv_export_is_every_row_not_one_page(seed_world, reader_client):
    experiment = seed_world["experiments"]["4"]
    for _ in range(55):
        make_run(experiment=experiment)
    url = reverse("catalog:experiment_detail", args=["4"])
    assert len(reader_client.get(url).context["table"].page.object_list) == 50
    assert len(_csv(reader_client.get(url + "?_export=csv"))) == 61
