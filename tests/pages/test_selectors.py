"""The read side: load snippets for every source form, parsing helpers, search."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog import selectors
from catalog.models import ModelVersion, RegisteredModel, Run
from catalog.tables import LeaderboardTable
from catalog.views.quality import parse_threshold
from tests.factories import (
    BUCKET,
    NOW,
    make_experiment,
    make_logged_model,
    make_model_version,
    make_registered_model,
    make_run,
)


def test_snippets_for_a_runs_source(db):
    run = make_run()
    model = make_registered_model(name="m")
    version = make_model_version(
        registered_model=model,
        run=run,
        source=f"runs:/{run.run_id}/nested/model",
        aliases=["b", "a"],
    )
    uris = [s.uri for s in selectors.load_snippets(version=version, registered_model=model)]
    assert uris == [
        "models:/m@a",
        "models:/m@b",
        "models:/m/1",
        f"runs:/{run.run_id}/nested/model",
        f"s3://{BUCKET}/{version.artifact_prefix.rstrip('/')}",
    ]
    assert selectors.load_snippets(version=version, registered_model=model)[0].code == (
        'model = mlflow.pyfunc.load_model("models:/m@a")'
    )


def test_snippets_for_an_mlflow_artifacts_source_and_a_logged_model(db):
    run = make_run()
    logged = make_logged_model(experiment=run.experiment, run=run)
    model = make_registered_model(name="m3")
    version = make_model_version(
        registered_model=model,
        run=run,
        source=f"mlflow-artifacts:/{run.experiment.experiment_id}/{run.run_id}/artifacts/model",
        logged_model=logged,
    )
    uris = [s.uri for s in selectors.load_snippets(version=version, registered_model=model)]
    assert f"runs:/{run.run_id}/model" in uris
    assert f"models:/{logged.model_id}" in uris


def test_unresolvable_source_gives_only_registry_forms(db):
    model = make_registered_model(name="odd")
    version = make_model_version(
        registered_model=model,
        source="file:///tmp/x",
        run=make_run(),
        source_run_id="",
        artifact_bucket="",
        artifact_prefix="",
    )
    version.run = None
    uris = [s.uri for s in selectors.load_snippets(version=version, registered_model=model)]
    assert uris == ["models:/odd/1"]


def test_parse_threshold():
    assert parse_threshold("0.9") == 0.9
    assert parse_threshold("90%") == 0.9
    assert parse_threshold(" 12.5 ") == 12.5
    assert parse_threshold("") is None
    assert parse_threshold("lots") is None


def test_tag_queries_and_metric_order():
    assert selectors.parse_tag_query("team=ops") == ("team", "ops")
    assert selectors.parse_tag_query("team:") == ("team", None)
    assert selectors.parse_tag_query("=x") is None
    assert selectors.parse_tag_query("plain") is None
    assert selectors.order_metric_keys({"zz", "rmse", "accuracy", "aa"}) == [
        "accuracy",
        "rmse",
        "aa",
        "zz",
    ]
    assert selectors.pick_metric(requested="rmse", available=["accuracy", "rmse"]) == "rmse"
    assert selectors.pick_metric(requested="nope", available=["accuracy"]) == "accuracy"
    assert selectors.pick_metric(requested=None, available=[]) is None


def test_search_by_tag_with_odd_keys(db):
    run = make_run(tags={"a__b": "1", "mlflow.user": "ana"})
    assert selectors.search(query="a__b=1").runs == [run]
    assert selectors.search(query="mlflow.user=ana").runs == [run]
    assert selectors.search(query="mlflow.user=bob").runs == []
    assert selectors.search(query="mlflow.user:").runs == [run]
    assert selectors.search(query="   ").total == 0


def test_bucket_of():
    assert selectors.bucket_of("s3://b/1") == "b"
    assert selectors.bucket_of("file:///x") == ""


def test_search_finds_runs_by_id_prefix(db):
    run = make_run(run_id="abcdef0123456789abcdef0123456789")
    assert selectors.search(query="ABCDEF01").runs == [run]


def test_large_catalogues_search_artifacts_by_path_only(db, settings):
    from tests.factories import make_artifact

    run = make_run(name="r", artifact_count=3)
    run.experiment.artifact_count = 3
    run.experiment.save()
    artifact = make_artifact(run=run, path="plots/anomaly_scores.png")
    assert selectors.search(query="anomaly").artifacts == [artifact]
    settings.CATALOG_SEARCH_FULL_SCAN_MAX_ARTIFACTS = 2
    results = selectors.search(query="anomaly")
    assert (results.artifacts, results.artifact_mode) == ([], "paths")
    assert selectors.search(query="anomaly_scores.png").artifacts == [artifact]
    assert selectors.search(query="plots/").artifacts == [artifact]
    assert selectors.search(query="k=v").artifact_mode == "none"


def test_error_metrics_rank_lowest_first(db):
    for name, rmse in (("good", 1.5), ("bad", 9.0), ("middling", 4.0)):
        model = make_registered_model(name=name, latest_version=1)
        make_model_version(registered_model=model, run=make_run(metrics={"rmse": rmse}))
    assert selectors.lower_is_better("rmse") and selectors.lower_is_better("holdout_day_mae")
    assert selectors.lower_is_better("val_loss") and not selectors.lower_is_better("accuracy")
    assert not selectors.lower_is_better("precision")
    ranked = [v.registered_model.name for v in selectors.leaderboard(metric="rmse")]
    assert ranked == ["good", "middling", "bad"]
    within = [v.registered_model.name for v in selectors.leaderboard(metric="rmse", threshold=5)]
    assert within == ["good", "middling"]


def test_leaderboard_keeps_only_values_within_the_threshold(db):
    """Both databases rank the same rows, whichever query each runs (ADR 0014)."""
    cases = {
        "high": {"accuracy": 0.95},
        "edge": {"accuracy": 0.9},
        "low": {"accuracy": 0.5},
        "other": {"f1": 0.99},
    }
    for name, metrics in cases.items():
        model = make_registered_model(name=name, latest_version=2)
        make_model_version(registered_model=model, version=1, run=make_run(metrics={"accuracy": 1}))
        make_model_version(registered_model=model, version=2, run=make_run(metrics=metrics))
    runless = make_model_version(registered_model=make_registered_model(latest_version=1))
    ModelVersion.objects.filter(pk=runless.pk).update(run=None)

    def ranked(**kwargs):
        rows = selectors.leaderboard(metric="accuracy", **kwargs)
        return rows.count(), [(v.registered_model.name, v.metric_value) for v in rows]

    assert ranked() == (3, [("high", 0.95), ("edge", 0.9), ("low", 0.5)])
    assert ranked(threshold=0.9) == (2, [("high", 0.95), ("edge", 0.9)])
    assert ranked(threshold=0.96) == (0, [])
    # The chart draws the threshold as a line over every ranked model, as the page greys
    # the rows below it instead of hiding them.
    assert selectors.leaderboard_values(metric="accuracy") == [
        ("high", 0.95),
        ("edge", 0.9),
        ("low", 0.5),
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan (ADR 0014)")
def test_leaderboard_looks_each_source_run_up_by_pk_on_postgresql(seed_world):
    # Joined, the planner merge-joined versions and runs along the run primary key when
    # the statistics leaned that way, testing the metrics of every run up to the highest
    # one referenced (14,020 of 100,000 to keep 2,000). No join, no such plan.
    rows = selectors.leaderboard_rows(metric="accuracy", threshold=0.9)
    with CaptureQueriesContext(connection) as queries:
        assert rows.count() == len(list(rows[:50])) == 6
    # The count, the page, the page's runs by pk, the versions of those runs: no join
    # over the ranked versions.
    assert [query["sql"].count('JOIN "catalog_run"') for query in queries] == [0, 0, 0, 0]
    ranking = selectors.leaderboard(metric="accuracy", threshold=0.9)
    assert 'JOIN "catalog_run"' not in str(ranking.query)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # the test tables are tiny
        plan = ranking.explain()
    assert "SubPlan" in plan and "Index Scan using catalog_run_pkey" in plan
    assert "Join" not in plan.split("SubPlan")[0].split("catalog_registeredmodel")[-1]


def test_leaderboard_rows_read_only_the_shown_columns(seed_world, django_assert_num_queries):
    rows = selectors.leaderboard_rows(metric="accuracy")
    table = LeaderboardTable(rows)
    table.paginate(per_page=50)  # the count
    # The page, its runs and the versions of those runs (for "shared with"); no
    # deferred column is read back row by row.
    with django_assert_num_queries(3):
        cells = [list(row) for row in table.page.object_list]
    # Every row, as the CSV export reads them: one query, and one for the versions of
    # their runs.
    with django_assert_num_queries(2):
        values = list(
            LeaderboardTable(
                selectors.leaderboard_rows(metric="accuracy", every_row=True)
            ).as_values()
        )
    assert len(cells) == len(values) - 1 == 17
    assert all(len(row) == 7 and "None" not in row for row in cells)
    assert [row[:3] for row in values[1:]] == [
        [row.record.registered_model.name, row.record.version, row.record.metric_value]
        for row in table.page.object_list
    ]
    for version in (rows[0], selectors.leaderboard_rows(metric="accuracy", every_row=True)[0]):
        assert {"tags", "aliases", "source"} <= version.get_deferred_fields()
        assert {"tags", "aliases"} <= version.registered_model.get_deferred_fields()
        assert {"params", "metrics", "tags"} <= version.run.get_deferred_fields()
        assert {"tags", "mlflow_description"} <= version.run.experiment.get_deferred_fields()


def test_leaderboard_csv_export_of_more_than_a_thousand_rows(db, reader_client):
    # A prefetch of every row's run would be one OR per run on SQLite (Django 5.2's
    # TupleIn), past its expression depth of 1,000: the export joins the runs instead.
    experiment = make_experiment()
    runs = Run.objects.bulk_create(
        Run(
            run_id=f"{index:032x}",
            experiment=experiment,
            metrics={"accuracy": index / 2000},
            first_seen=NOW,
            last_seen=NOW,
        )
        for index in range(1001)
    )
    models = RegisteredModel.objects.bulk_create(
        RegisteredModel(name=f"m{index:04d}", latest_version=1, first_seen=NOW, last_seen=NOW)
        for index in range(1001)
    )
    ModelVersion.objects.bulk_create(
        ModelVersion(registered_model=model, version=1, run=run, first_seen=NOW, last_seen=NOW)
        for model, run in zip(models, runs, strict=True)
    )
    response = reader_client.get("/metrics/?metric=accuracy&_export=csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 1 + 1001
    assert lines[1].startswith("m1000,1,0.5,")


def test_counts_in_one_query_equal_each_querysets_own_count(seed_world):
    from catalog.selectors.common import counts

    runs = Run.objects.filter(name__contains="baseline")
    querysets = {
        "runs": runs,
        "none": Run.objects.filter(name="no such run"),
        "models": RegisteredModel.objects.filter(name__contains="forecaster"),
        "versions": ModelVersion.objects.all(),
    }
    with CaptureQueriesContext(connection) as queries:
        counted = counts(**querysets)
    assert len(queries.captured_queries) == 1
    assert counted == {name: queryset.count() for name, queryset in querysets.items()}
    assert counted["runs"] > 0 and counted["none"] == 0


def test_counts_of_querysets_known_to_be_empty_are_zero(seed_world):
    from catalog.selectors.common import counts

    # Django compiles no SQL for these (EmptyResultSet); count() answers 0 without a query.
    counted = counts(
        none=Run.objects.none(),
        no_keys=Run.objects.filter(pk__in=[]),
        runs=Run.objects.all(),
        limit=3,
    )
    assert counted == {"none": 0, "no_keys": 0, "runs": 3}
