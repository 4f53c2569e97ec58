"""Every page on the seed world: 200 for a reader, login for anonymous, bounded queries."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import ReaderVisit
from tests.factories import (
    NOW,
    make_artifact,
    make_model_version,
    make_registered_model,
    make_run,
)
from tests.pages.conftest import SEED_WORLD

MAX_QUERIES = 15


def page_urls(world) -> list[str]:
    rf = world["runs"]["randomforest_baseline"]
    return [
        reverse("catalog:home"),
        reverse("catalog:experiment_list"),
        reverse("catalog:experiment_detail", args=["4"]),
        reverse("catalog:run_detail", args=[rf.run_id]),
        reverse("catalog:model_list"),
        reverse("catalog:model_list") + "?category=forecasting&sort=-latest_version",
        reverse("catalog:model_detail", args=["ai4i_classifier_randomforest_baseline"]),
        reverse("catalog:model_version_detail", args=["ai4i_classifier_randomforest_baseline", 1]),
        reverse("catalog:category_list"),
        reverse("catalog:metrics"),
        reverse("catalog:metrics") + "?metric=accuracy&threshold=90%25",
        reverse("catalog:audit"),
        reverse("catalog:audit") + "?section=empty-runs",
        reverse("catalog:audit") + "?section=missing-artifacts",
        reverse("catalog:audit") + "?section=deleted-runs",
        reverse("catalog:audit") + "?section=gone",
        reverse("catalog:search") + "?q=ai4i",
        reverse("catalog:changes"),
        reverse("catalog:changes") + "?kind=updated&since=2026-01-01&per_page=500",
        reverse("catalog:search") + "?q=dataset=AI4I",
        reverse("catalog:chart_experiment_runs", args=["4"]) + "?metric=accuracy",
        reverse("catalog:chart_run_history", args=[rf.run_id]) + "?metric=accuracy",
        reverse("catalog:chart_model_versions", args=["ai4i_classifier_svc_baseline"])
        + "?metric=accuracy",
        reverse("catalog:chart_leaderboard") + "?metric=accuracy&threshold=0.9",
    ]


def test_every_page_is_200_for_a_reader_with_bounded_queries(
    seed_world, reader_client, django_assert_max_num_queries
):
    for url in page_urls(seed_world):
        with django_assert_max_num_queries(MAX_QUERIES):
            response = reader_client.get(url)
        assert response.status_code == 200, url


def test_the_home_page_holds_the_query_bound_at_every_kind_of_visit(
    seed_world, reader_client, django_assert_max_num_queries, settings
):
    """A reader's first view ever inserts their visit row, a view within a visit reads
    it, a view after a gap moves it: each within the bound, the first adding only that
    row."""
    settings.CATALOG_PAGE_CACHE_SECONDS = 0  # every view rendered
    home = reverse("catalog:home")
    with django_assert_max_num_queries(MAX_QUERIES) as first:
        reader_client.get(home)
    with django_assert_max_num_queries(MAX_QUERIES):
        reader_client.get(home)
    visit = ReaderVisit.objects.get()
    visit.last_visit_at -= timedelta(hours=2)
    visit.save()
    with django_assert_max_num_queries(MAX_QUERIES) as after_a_gap:
        response = reader_client.get(home)
    assert "Changed since your last visit" in response.content.decode()
    inserts = [q["sql"] for q in first.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1 and "catalog_readervisit" in inserts[0]
    updates = [q["sql"] for q in after_a_gap.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1 and "catalog_readervisit" in updates[0]


def test_the_home_table_pages_by_the_overviews_count(seed_world, reader_client):
    """The paginator takes the overview's count of active experiments: it must be the
    table's own count, gone and deleted experiments left out of both."""
    from catalog.models import Experiment

    Experiment.objects.filter(experiment_id="1").update(lifecycle_stage="deleted")
    Experiment.objects.filter(experiment_id="2").update(missing_since=NOW)
    response = reader_client.get(reverse("catalog:home") + "?per_page=2")
    table = response.context["table"]
    assert table.paginator.count == len(SEED_WORLD) - 2
    assert table.paginator.num_pages == 3
    assert [row.record.experiment_id for row in table.page.object_list] == ["3", "4"]


def test_mapping_export_runs_a_fixed_number_of_queries(
    seed_world, reader_client, django_assert_max_num_queries
):
    # An export, not a browsing page: more sections, but still a constant count.
    with django_assert_max_num_queries(MAX_QUERIES):
        response = reader_client.get(reverse("catalog:mapping_export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")


def test_anonymous_is_sent_to_login(seed_world, client):
    for url in [*page_urls(seed_world), reverse("catalog:mapping_export")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_healthz_needs_no_login_and_reports_the_last_sync(seed_world, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["database"] == "ok"
    assert body["last_sync"]["status"] == "ok"
    assert body["last_sync"]["finished_at"].startswith("2026-11-01T12:00:05")
    assert body["last_sync"]["age_s"] > 0


def test_healthz_without_any_sync(db, client):
    body = json.loads(client.get("/healthz").content)
    assert body == {"database": "ok", "last_sync": None}


def test_healthz_is_503_when_the_database_is_down(db, client, monkeypatch):
    from django.db import OperationalError

    from catalog.views import health

    class DownConnection:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr(health, "connection", DownConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content)["database"] == "error"


def _query_count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _add_rows(world, *, start: int, count: int) -> None:
    """More runs, models, versions and artifacts in folder 4, with every kind of drift."""
    experiment = world["experiments"]["4"]
    rf = world["runs"]["randomforest_baseline"]
    for index in range(start, start + count):
        run = make_run(
            experiment=experiment,
            start_time=rf.start_time - timedelta(days=1, minutes=index),
            metrics={"accuracy": 0.5 + index / 100},
            artifact_count=0 if index % 3 == 1 else 1,
            lifecycle_stage="deleted" if index % 2 == 0 else "active",
        )
        make_artifact(run=run, path=f"plots/p{index}.png")
        make_artifact(run=rf, path=f"extra/file{index}.txt")
        model = make_registered_model(
            name=f"ai4i_extra_{index}",
            experiment=experiment,
            latest_version=2,
            aliases={"a": 1},
            tags={"k": str(index)},
        )
        make_model_version(registered_model=model, run=run, version=1)
        make_model_version(registered_model=model, run=run, version=2, artifacts_present=False)
        make_model_version(
            registered_model=world["models"]["ai4i_classifier_svc_baseline"],
            run=run,
            version=index + 2,
        )
        make_artifact(key=f"4/orphan{index}/x.bin", orphan_folder=f"4/orphan{index}/")


def test_query_counts_do_not_grow_with_the_data(seed_world, reader_client, settings):
    # The render's own queries: with the page cache on, the second round would be hits.
    settings.CATALOG_PAGE_CACHE_SECONDS = 0
    urls = [*page_urls(seed_world), reverse("catalog:mapping_export")]
    _add_rows(seed_world, start=0, count=2)  # every table and drift kind non-empty
    reader_client.get(reverse("catalog:home"))  # the reader's visit row, written once
    before = {url: _query_count(reader_client, url) for url in urls}
    _add_rows(seed_world, start=2, count=30)
    after = {url: _query_count(reader_client, url) for url in urls}
    assert after == before


def test_home_is_the_quick_reference(seed_world, reader_client):
    response = reader_client.get(reverse("catalog:home"))
    table = response.context["table"]
    rows = [(row.get_cell_value("folder"), row.get_cell_value("name")) for row in table.rows]
    assert rows == [(f"{folder}/", name) for folder, (name, _, _) in SEED_WORLD.items()]
    counts = {row.get_cell_value("folder"): row.get_cell_value("model_count") for row in table.rows}
    assert counts == {"1/": 2, "2/": 1, "3/": 2, "4/": 6, "5/": 2, "6/": 2, "7/": 2}
    html = response.content.decode()
    assert "+3 more" in html  # folder 4 shows three key models of six
    assert "s3://yan-smart-maintenance-artifacts/" in html
    overview = response.context["overview"]
    assert (overview.experiment_count, overview.model_count, overview.run_count) == (7, 17, 15)
    assert overview.artifact_bytes == 15 * 5 * 1234


def test_experiment_page_lists_the_six_ai4i_runs_and_models(seed_world, reader_client):
    response = reader_client.get(reverse("catalog:experiment_detail", args=["4"]))
    html = response.content.decode()
    runs = {row.record.name for row in response.context["table"].rows}
    assert runs == {
        "randomforest_baseline",
        "svc_baseline",
        "lightgbm_baseline",
        "randomforest_engineered",
        "svc_engineered",
        "lightgbm_engineered",
    }
    assert response.context["model_count"] == 6
    assert "Machine failure prediction using AI4I dataset" in html
    assert "s3://yan-smart-maintenance-artifacts/4/" in html
    assert response.context["chart_metric"] == "accuracy"
    assert "charts/experiments/4/runs.png?metric=accuracy" in html


def test_experiment_chart_compares_runs_on_the_chosen_metric(seed_world, reader_client):
    from catalog import selectors

    values = selectors.run_metric_values(
        experiment=seed_world["experiments"]["4"], metric="accuracy"
    )
    assert dict(values)["lightgbm_engineered"] == 0.985
    assert len(values) == 6
    response = reader_client.get(
        reverse("catalog:chart_experiment_runs", args=["4"]) + "?metric=f1_score"
    )
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_unknown_ids_are_404(seed_world, reader_client):
    for url in (
        reverse("catalog:experiment_detail", args=["999"]),
        reverse("catalog:run_detail", args=["0" * 32]),
        reverse("catalog:model_detail", args=["no_such_model"]),
        reverse("catalog:model_version_detail", args=["ai4i_classifier_svc_baseline", 99]),
        reverse("catalog:logged_model_detail", args=["m-nothing"]),
        reverse("catalog:chart_experiment_runs", args=["4"]),  # no metric named
    ):
        assert reader_client.get(url).status_code == 404, url


def test_run_page(seed_world, reader_client):
    run = seed_world["runs"]["svc_engineered"]
    response = reader_client.get(reverse("catalog:run_detail", args=[run.run_id]))
    html = response.content.decode()
    assert run.run_id in html
    assert "n_estimators" in html and "engineered" in html  # params
    assert "0.973" in html  # latest accuracy
    assert "dataset" in html  # tags
    assert "ai4i_classifier_svc_engineered" in html  # model produced
    assert response.context["history_keys"] == ["accuracy"]
    assert f"charts/runs/{run.run_id}/history.png?metric=accuracy" in html
    assert "7m 00s" in html


def test_models_list_has_the_17_models_and_filters(seed_world, reader_client):
    url = reverse("catalog:model_list")
    response = reader_client.get(url)
    assert response.context["table"].paginator.count == 17

    def names(query):
        table = reader_client.get(url + query).context["table"]
        return {row.record.name for row in table.rows}

    assert names("?category=forecasting") == {
        "prophet_forecaster_enhanced_sensor-001",
        "lightgbm_forecaster_challenger",
    }
    assert len(names("?experiment=4")) == 6
    assert len(names("?alias=champion")) == 17
    assert names("?alias=nope") == set()
    assert len(names("?tag=domain=Vibration Gauntlet (NASA)")) == 2
    assert names("?q=scaler") == {"MIMII_Audio_Scaler", "xjtu_feature_scaler"}
    assert len(names("?state=present")) == 17
    assert names("?state=missing") == set()
    assert len(names("?artifacts=present")) == 17


def test_models_list_sorts(seed_world, reader_client):
    url = reverse("catalog:model_list")
    table = reader_client.get(url + "?sort=-name").context["table"]
    names = [row.record.name for row in table.rows]
    assert names == sorted(names, reverse=True)
    table = reader_client.get(url + "?sort=category").context["table"]
    categories = [row.record.effective_category for row in table.rows]
    assert categories == sorted(categories)


def test_category_override_wins_everywhere(seed_world, reader_client):
    model = seed_world["models"]["MIMII_Audio_Scaler"]
    model.category_override = "classification"
    model.save()
    url = reverse("catalog:model_list")
    table = reader_client.get(url + "?category=classification").context["table"]
    assert "MIMII_Audio_Scaler" in {row.record.name for row in table.rows}
    table = reader_client.get(url + "?category=preprocessing").context["table"]
    assert {row.record.name for row in table.rows} == {"xjtu_feature_scaler"}


def test_model_page_snippets_are_valid_uris(seed_world, reader_client):
    name = "ai4i_classifier_lightgbm_engineered"
    run = seed_world["runs"]["lightgbm_engineered"]
    response = reader_client.get(reverse("catalog:model_detail", args=[name]))
    uris = [snippet.uri for snippet in response.context["snippets"]]
    assert uris == [
        f"models:/{name}@champion",
        f"models:/{name}/latest",
        f"models:/{name}/1",
        f"runs:/{run.run_id}/model",
        f"s3://yan-smart-maintenance-artifacts/4/{run.run_id}/artifacts/model",
    ]
    html = response.content.decode()
    assert "models://" not in html
    assert f"mlflow.pyfunc.load_model(&quot;models:/{name}@champion&quot;)" in html
    assert 'class="copy"' in html


def test_version_page_snippets(seed_world, reader_client):
    name = "xjtu_feature_scaler"
    response = reader_client.get(reverse("catalog:model_version_detail", args=[name, 1]))
    uris = [snippet.uri for snippet in response.context["snippets"]]
    assert f"models:/{name}@champion" in uris
    assert f"models:/{name}/1" in uris
    assert "models://" not in response.content.decode()


def test_categories_page_groups_as_the_seed(seed_world, reader_client):
    groups = reader_client.get(reverse("catalog:category_list")).context["groups"]
    by_value = {group.value: {model.name for model in group.models} for group in groups}
    assert by_value["anomaly_detection"] == {
        "realistic_sensor_validation_isolation_forest",
        "synthetic_validation_isolation_forest",
        "anomaly_detector_refined_v2",
        "vibration_anomaly_isolationforest",
        "vibration_anomaly_oneclasssvm",
        "xjtu_anomaly_isolation_forest",
    }
    assert len(by_value["classification"]) == 7
    assert by_value["preprocessing"] == {"MIMII_Audio_Scaler", "xjtu_feature_scaler"}
    assert [group.value for group in groups] == [
        "anomaly_detection",
        "classification",
        "forecasting",
        "preprocessing",
    ]


def test_leaderboard_threshold(seed_world, reader_client):
    # Models below the threshold stay ranked (greyed below the line); the two
    # preprocessing models of the 17 are left out unless asked for.
    url = reverse("catalog:metrics")
    table = reader_client.get(url + "?metric=accuracy&threshold=90%").context["table"]
    rows = [(row.record.registered_model.name, row.record.metric_value) for row in table.rows]
    below = [table.is_below_threshold(row.record) for row in table.rows]
    assert len(rows) == 15 and below == [False] * 6 + [True] * 9
    assert rows[0] == ("ai4i_classifier_lightgbm_engineered", 0.985)
    assert [value for _, value in rows] == sorted((value for _, value in rows), reverse=True)
    table = reader_client.get(url + "?metric=accuracy&category=all").context["table"]
    assert table.paginator.count == 17
    response = reader_client.get(url + "?metric=accuracy&threshold=0.97")
    assert response.context["counts"].within == 3


def test_audit_reports_drift(seed_world, reader_client):
    run = seed_world["runs"]["svc_baseline"]
    run.lifecycle_stage = "deleted"
    run.save()
    empty = make_run(experiment=seed_world["experiments"]["2"], name="empty_run", artifact_count=0)
    version = seed_world["models"]["vibration_anomaly_oneclasssvm"].versions.get()
    version.artifacts_present = False
    version.save()
    gone = seed_world["models"]["anomaly_detector_refined_v2"]
    gone.missing_since = seed_world["sync"].started_at
    gone.save()
    url = reverse("catalog:audit")
    response = reader_client.get(url)
    summary = response.context["summary"]
    assert (summary.orphan_objects, summary.orphan_bytes) == (1, 4096)
    assert summary.runs_without_artifacts == 1
    assert summary.versions_missing_artifacts == 1
    assert summary.deleted_runs_with_artifacts == 1
    assert summary.gone == 1
    assert "1/deadbeefdeadbeefdeadbeefdeadbeef/" in response.content.decode()

    def records(section):
        table = reader_client.get(url + f"?section={section}").context["table"]
        return [row.record for row in table.rows]

    assert records("empty-runs") == [empty]
    assert records("deleted-runs") == [run]
    assert records("missing-artifacts") == [version]
    gone_items = reader_client.get(url + "?section=gone").context["gone"]
    assert [(item.kind, item.label, item.new_since_last_sync) for item in gone_items] == [
        ("registered model", "anomaly_detector_refined_v2", True)
    ]


def test_search(seed_world, reader_client):
    url = reverse("catalog:search")
    results = reader_client.get(url + "?q=svc").context["results"]
    assert {model.name for model in results.models} == {
        "ai4i_classifier_svc_baseline",
        "ai4i_classifier_svc_engineered",
    }
    assert {run.name for run in results.runs} == {"svc_baseline", "svc_engineered"}
    run = seed_world["runs"]["xjtu"]
    # A full run id is the run: straight to its page (tests/pages/test_search.py).
    assert reader_client.get(url + f"?q={run.run_id}")["Location"] == run.get_absolute_url()
    results = reader_client.get(url + f"?q={run.run_id[:12]}").context["results"]
    assert results.runs == [run]
    assert len(results.artifacts) == 5  # the run id is part of every key of the run
    results = reader_client.get(url + "?q=Vibration").context["results"]
    assert {e.experiment_id for e in results.experiments} == {"5", "7"}
    results = reader_client.get(url + "?q=dataset=MIMII").context["results"]
    assert [r.name for r in results.runs] == ["mimii_benchmark"]
    assert reader_client.get(url + "?q=").context["results"] is None


def test_mlflow_ui_links_only_when_configured(seed_world, reader_client, settings):
    run = seed_world["runs"]["xjtu"]
    url = reverse("catalog:run_detail", args=[run.run_id])
    assert "Open in MLflow" not in reader_client.get(url).content.decode()
    settings.CATALOG_MLFLOW_UI_URL = "https://mlflow.example.org"
    html = reader_client.get(url).content.decode()
    assert f'href="https://mlflow.example.org/#/experiments/7/runs/{run.run_id}"' in html
    html = reader_client.get(reverse("catalog:model_detail", args=["xjtu_feature_scaler"])).content
    assert b'href="https://mlflow.example.org/#/models/xjtu_feature_scaler"' in html


def test_navigation_hides_admin_from_readers(seed_world, reader_client):
    html = reader_client.get("/").content.decode()
    assert 'href="/admin/"' not in html
    for name in ("experiment_list", "model_list", "category_list", "metrics", "audit", "search"):
        assert f'href="{reverse("catalog:" + name)}"' in html or name == "search"
    assert f'action="{reverse("catalog:search")}"' in html


def test_navigation_shows_admin_to_staff(seed_world, staff_client):
    assert b'href="/admin/"' in staff_client.get("/").content


def test_awkward_model_names_have_working_pages(db, reader_client):
    name = "team/forecaster v2+ü%#?"
    run = make_run(metrics={"rmse": 1.0})
    model = make_registered_model(name=name, latest_version=2, aliases={"prod": 2})
    make_model_version(registered_model=model, run=run, version=1)
    make_model_version(registered_model=model, run=run, version=2, aliases=["prod"])
    url = model.get_absolute_url()
    response = reader_client.get(url)
    assert response.status_code == 200
    assert f"models:/{name}@prod" in [s.uri for s in response.context["snippets"]]
    version_url = model.versions.get(version=2).get_absolute_url()
    assert reader_client.get(version_url).context["version"].version == 2
    chart = reverse("catalog:chart_model_versions", args=[name]) + "?metric=rmse"
    assert reader_client.get(chart)["Content-Type"] == "image/png"
    assert reader_client.get(reverse("catalog:search") + "?q=forecaster v2").context[
        "results"
    ].models == [model]


@pytest.mark.parametrize(
    "query",
    [
        "/models/?page=abc",
        "/models/?page=99999",
        "/models/?sort=nonexistent",
        "/models/?category=bogus&state=x&artifacts=y",
        "/models/?tag==&alias=@",
        "/experiments/4/?page=last&sort=-artifact_bytes",
        "/experiments/4/?metric=nope&status=bogus",
        "/metrics/?metric=nope&threshold=abc",
        "/audit/?section=bogus&page=2",
        "/search/?q=" + "x" * 5000,
        "/search/?q=%00",
        "/search/?q=a%00b=c",
        "/models/?q=%00&tag=a%00",
        "/charts/experiments/4/runs.png?metric=acc%00",
    ],
)
def test_odd_query_strings_never_fail(seed_world, reader_client, query):
    response = reader_client.get(query)
    assert response.status_code in (200, 404), query


def test_folders_sort_as_numbers(db, reader_client):
    from tests.factories import make_experiment

    for experiment_id in ("10", "2", "1"):
        make_experiment(experiment_id=experiment_id)
    for url in (reverse("catalog:home"), reverse("catalog:experiment_list")):
        table = reader_client.get(url).context["table"]
        assert [row.record.experiment_id for row in table.rows] == ["1", "2", "10"]
    table = reader_client.get(reverse("catalog:experiment_list") + "?sort=-experiment_id").context[
        "table"
    ]
    assert [row.record.experiment_id for row in table.rows] == ["10", "2", "1"]
