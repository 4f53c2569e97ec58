"""The pages on fixtures/demo_world.json: the seed's world as the real sync leaves it."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from catalog.models import Category, LoggedModel, ModelVersion, RegisteredModel, Run
from tests.factories import load_demo_world, make_sync_run
from tests.pages.conftest import SEED_CATEGORIES, SEED_WORLD

MAX_QUERIES = 15
AI4I_RUNS = {
    "RandomForest baseline",
    "SVC baseline",
    "LightGBM baseline",
    "RandomForest engineered",
    "SVC engineered",
    "LightGBM engineered",
}


@pytest.fixture
def demo_world(db):
    load_demo_world()
    make_sync_run()


def all_page_urls() -> list[str]:
    """Every page of every entity in the world (deep links included)."""
    urls = [
        reverse("catalog:home"),
        reverse("catalog:experiment_list"),
        reverse("catalog:model_list"),
        reverse("catalog:category_list"),
        reverse("catalog:metrics"),
        reverse("catalog:audit"),
        *(
            reverse("catalog:audit") + f"?section={s}"
            for s in ("empty-runs", "missing-artifacts", "deleted-runs", "gone")
        ),
        reverse("catalog:search") + "?q=ai4i",
    ]
    for run in Run.objects.select_related("experiment"):
        urls.append(run.get_absolute_url())
        urls.append(reverse("catalog:experiment_detail", args=[run.experiment.experiment_id]))
    for model in RegisteredModel.objects.all():
        urls.append(model.get_absolute_url())
    for version in ModelVersion.objects.select_related("registered_model"):
        urls.append(version.get_absolute_url())
    for logged_model in LoggedModel.objects.all():
        urls.append(logged_model.get_absolute_url())
    return sorted(set(urls))


def test_every_page_of_the_world(demo_world, reader_client, django_assert_max_num_queries):
    urls = all_page_urls()
    assert len(urls) > 50
    # A reader's first home page view also writes their visit row: a one-off
    # (tests/pages/test_views.py bounds it), not what a view costs.
    reader_client.get(reverse("catalog:home"))
    for url in urls:
        with django_assert_max_num_queries(MAX_QUERIES):
            response = reader_client.get(url)
        assert response.status_code == 200, url


def test_every_page_needs_a_login(demo_world, client):
    for url in all_page_urls():
        response = client.get(url)
        assert response.status_code == 302, url


def test_home_shows_the_seven_folders(demo_world, reader_client):
    response = reader_client.get(reverse("catalog:home"))
    rows = [
        (
            row.get_cell_value("folder"),
            row.get_cell_value("name"),
            row.get_cell_value("model_count"),
        )
        for row in response.context["table"].rows
    ]
    expected_counts = {"1": 2, "2": 1, "3": 2, "4": 6, "5": 2, "6": 2, "7": 2}
    assert rows == [
        (f"{folder}/", name, expected_counts[folder]) for folder, (name, _, _) in SEED_WORLD.items()
    ]
    assert "Default" not in {row[1] for row in rows}  # deleted
    overview = response.context["overview"]
    assert overview.buckets == ["yan-smart-maintenance-artifacts"]
    assert (overview.experiment_count, overview.model_count) == (7, 17)


def test_folder_four_has_the_six_ai4i_runs(demo_world, reader_client):
    response = reader_client.get(reverse("catalog:experiment_detail", args=["4"]))
    assert {row.record.name for row in response.context["table"].rows} == AI4I_RUNS
    assert response.context["model_count"] == 6
    assert response.context["chart_metric"] == "accuracy"
    chart = reader_client.get(
        reverse("catalog:chart_experiment_runs", args=["4"]) + "?metric=accuracy"
    )
    assert chart.content.startswith(b"\x89PNG")


def test_the_seventeen_models_and_their_categories(demo_world, reader_client):
    table = reader_client.get(reverse("catalog:model_list")).context["table"]
    assert table.paginator.count == 17
    groups = reader_client.get(reverse("catalog:category_list")).context["groups"]
    by_value = {group.value: {model.name for model in group.models} for group in groups}
    for category, names in SEED_CATEGORIES.items():
        assert by_value[category] == set(names), Category(category).label
    assert len(by_value["classification"]) == 7


def test_every_model_has_valid_snippets(demo_world, reader_client):
    for model in RegisteredModel.objects.all():
        response = reader_client.get(model.get_absolute_url())
        uris = [snippet.uri for snippet in response.context["snippets"]]
        assert "models://" not in response.content.decode()
        for alias in model.aliases:
            assert f"models:/{model.name}@{alias}" in uris
        assert f"models:/{model.name}/{model.latest_version}" in uris
        assert any(uri.startswith("s3://yan-smart-maintenance-artifacts/") for uri in uris)
        version = model.versions.get(version=model.latest_version)
        if version.logged_model_id:
            assert f"models:/{version.logged_model.model_id}" in uris
        else:
            assert f"runs:/{version.source_run_id}/" + version.source.rsplit("/", 1)[1] in uris


def test_csv_of_the_models_table_parses(demo_world, reader_client):
    response = reader_client.get(reverse("catalog:model_list") + "?_export=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 17
    assert {row["Name"] for row in rows} >= {"xjtu_feature_scaler", "MIMII_Audio_Scaler"}


def test_the_audit_finds_the_worlds_drift(demo_world, reader_client):
    summary = reader_client.get(reverse("catalog:audit")).context["summary"]
    assert summary.orphan_objects == 4
    assert summary.runs_without_artifacts == 1  # prophet_changepoint_tuning
    assert summary.versions_missing_artifacts == 1
    assert summary.deleted_runs_with_artifacts == 1  # lightgbm_tuning_leaves_63


def test_export_mapping_on_the_world(demo_world):
    out = io.StringIO()
    call_command("export_mapping", stdout=out)
    markdown = out.getvalue()
    assert "| 4/ | Classification Gauntlet (AI4I) |" in markdown
    for folder, (name, _, _) in SEED_WORLD.items():
        assert f"### Folder {folder}/ - {name}" in markdown
    assert "**Total Registered Models:** 17" in markdown
    assert "models://" not in markdown
