"""The quality leaderboard (``/metrics/``), its chart and the export's quality summary:
which models are ranked, what a row says about its metric, and what a bad parameter does.

The seed world's scalers (``MIMII_Audio_Scaler``, ``xjtu_feature_scaler``) are
preprocessing models registered from another model's run: their "metrics" are that
model's.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from catalog import selectors
from catalog.models import Category, RegisteredModel, Run
from tests.factories import make_experiment, make_model_version, make_registered_model, make_run

MAX_QUERIES = 15
SCALERS = {"MIMII_Audio_Scaler", "xjtu_feature_scaler"}
URL = "/metrics/"


def _names(response) -> list[str]:
    return [row.record.registered_model.name for row in response.context["table"].paginated_rows]


def _text(response) -> str:
    """The page's text without tags or repeated spaces."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _forecasters(seed_world) -> None:
    """Give the seed world's forecasters error metrics, as forecasters record."""
    errors = {"prophet": {"rmse": 0.65, "mae": 0.52}, "lightgbm_challenger": {"rmse": 0.8}}
    for run_name, metrics in errors.items():
        Run.objects.filter(pk=seed_world["runs"][run_name].pk).update(metrics=metrics)


def _export() -> str:
    out = io.StringIO()
    call_command("export_mapping", stdout=out)
    return out.getvalue()


def _quality_section(markdown: str) -> str:
    return markdown.split("## Quality Metrics Summary")[1].split("## Maintenance Notes")[0]


# --- which models are ranked -----------------------------------------------------------------


def test_preprocessing_models_are_left_out_until_asked_for(seed_world, reader_client):
    response = reader_client.get(URL + "?metric=accuracy")
    names = _names(response)
    assert len(names) == 15 and not SCALERS & set(names)
    assert response.context["counts"].utility == 2
    body = response.content.decode()
    link = re.search(r'<a class="show-utility" href="([^"]+)">([^<]+)</a>', body)
    assert link.group(2) == "show preprocessing/utility models (2)"

    assert link.group(1) == "?metric=accuracy&amp;category=all"
    shown = reader_client.get(URL + link.group(1).replace("&amp;", "&"))
    assert set(_names(shown)) >= SCALERS and len(_names(shown)) == 17
    assert 'class="show-utility"' not in shown.content.decode()
    only = reader_client.get(URL + "?metric=accuracy&category=preprocessing")
    assert set(_names(only)) == SCALERS


def test_the_category_filter_uses_the_effective_category(seed_world, reader_client):
    scaler = seed_world["models"]["xjtu_feature_scaler"]
    RegisteredModel.objects.filter(pk=scaler.pk).update(category_override="anomaly_detection")
    names = _names(reader_client.get(URL + "?metric=accuracy&category=anomaly_detection"))
    assert "xjtu_feature_scaler" in names and len(names) == 7
    assert "xjtu_feature_scaler" in _names(reader_client.get(URL + "?metric=accuracy"))


def test_metric_keys_come_from_the_chosen_categories(seed_world, reader_client):
    _forecasters(seed_world)
    response = reader_client.get(URL + "?category=forecasting")
    assert response.context["metric"] == "rmse"
    assert response.context["metric_keys"] == ["rmse", "mae"]
    assert _names(response) == [
        "prophet_forecaster_enhanced_sensor-001",
        "lightgbm_forecaster_challenger",
    ]


# --- what a row says -------------------------------------------------------------------------


def test_metrics_shared_with_another_model_say_so(seed_world, reader_client):
    response = reader_client.get(URL + "?metric=accuracy&category=all")
    notes = {
        row.record.registered_model.name: row.get_cell_value("note")
        for row in response.context["table"].paginated_rows
    }
    assert notes["MIMII_Audio_Scaler"] == "shared with RandomForest_MIMII_Audio_Benchmark"
    assert notes["RandomForest_MIMII_Audio_Benchmark"] == "shared with MIMII_Audio_Scaler"
    assert notes["xjtu_feature_scaler"] == "shared with xjtu_anomaly_isolation_forest"
    assert notes["ai4i_classifier_svc_baseline"] == ""
    assert "shared with MIMII_Audio_Scaler" in _text(response)


def test_a_later_version_of_the_same_model_is_not_another_model(seed_world, reader_client):
    model = seed_world["models"]["ai4i_classifier_svc_baseline"]
    make_model_version(registered_model=model, version=2, run=seed_world["runs"]["svc_baseline"])
    RegisteredModel.objects.filter(pk=model.pk).update(latest_version=2)
    rows = reader_client.get(URL + "?metric=accuracy").context["table"].paginated_rows
    (row,) = [row for row in rows if row.record.registered_model.name == model.name]
    assert row.get_cell_value("note") == ""


def test_a_shared_note_names_three_models_then_counts(db, reader_client):
    run = make_run(metrics={"accuracy": 0.9})
    for name in ["a_model", "b_model", "c_model", "d_model", "e_model"]:
        make_model_version(
            registered_model=make_registered_model(name=name, latest_version=1), run=run
        )
    rows = reader_client.get(URL).context["table"].paginated_rows
    assert rows[0].get_cell_value("note") == "shared with b_model, c_model, d_model and 1 more"


def test_hostile_names_in_a_shared_note_are_escaped(db, reader_client):
    run = make_run(metrics={"accuracy": 0.9})
    for name in ["<script>alert(1)</script>", "plain"]:
        make_model_version(
            registered_model=make_registered_model(name=name, latest_version=1), run=run
        )
    body = reader_client.get(URL).content.decode()
    assert "shared with &lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert" not in body


def test_models_below_the_threshold_are_greyed_below_the_line(seed_world, reader_client):
    response = reader_client.get(URL + "?metric=accuracy&threshold=0.97")
    counts = response.context["counts"]
    assert (counts.ranked, counts.within, counts.below) == (15, 3, 12)
    body = response.content.decode()
    assert body.count('class="threshold-line"') == 1
    assert body.count('<tr class="below-threshold">') == 12
    line = body.index('class="threshold-line"')
    assert body.index("ai4i_classifier_svc_engineered") < line  # 0.973
    assert line < body.index("ai4i_classifier_lightgbm_baseline")  # 0.968
    text = _text(response)
    assert "Models with accuracy ≥ 0.97 (3)" in text
    assert "12 models below the threshold , greyed below the line." in text


def test_error_metric_thresholds_grey_the_larger_errors(db, reader_client):
    for name, rmse in [("good", 1.0), ("bad", 9.0)]:
        model = make_registered_model(name=name, latest_version=1)
        make_model_version(registered_model=model, run=make_run(metrics={"rmse": rmse}))
    response = reader_client.get(URL + "?metric=rmse&threshold=5")
    rows = response.context["table"].paginated_rows
    assert [(row.record.registered_model.name, row.record.below_threshold) for row in rows] == [
        ("good", False),
        ("bad", True),
    ]
    assert "1 model below the threshold" in _text(response)


def test_the_line_opens_a_page_that_starts_below_the_threshold(seed_world, reader_client):
    response = reader_client.get(URL + "?metric=accuracy&threshold=0.97&per_page=10&page=2")
    body = response.content.decode()
    assert body.count('class="threshold-line"') == 1
    assert body.count('<tr class="below-threshold">') == 5


def test_the_csv_export_notes_rows_below_the_threshold(seed_world, reader_client):
    response = reader_client.get(URL + "?metric=accuracy&threshold=0.97&_export=csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].endswith(",Note") and len(lines) == 16
    assert sum(line.endswith(",below the threshold") for line in lines) == 10
    assert sum(",below the threshold; shared with" in line for line in lines) == 2


# --- what a bad parameter does ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "said"),
    [
        (
            "?metric=accuracy&threshold=abc",
            "Threshold “abc” is not a number (e.g. 0.9 or 90%): no threshold applied.",
        ),
        (
            "?metric=nope",
            "Metric “nope” is not recorded on these models' source runs: "
            "ranked on accuracy instead.",
        ),
        (
            "?category=robots",
            "Category “robots” is not a category: "
            "showing every category but preprocessing/utility.",
        ),
        ("?threshold=nan", "Threshold “nan” is not a number"),
    ],
)
def test_an_ignored_parameter_is_said(seed_world, reader_client, query, said):
    response = reader_client.get(URL + query)
    assert response.status_code == 200
    assert any(note.startswith(said) for note in response.context["ignored"])
    assert said.replace("'", "&#x27;") in response.content.decode()
    assert response.context["threshold"] is None
    assert len(_names(response)) == 15


def test_good_parameters_are_not_reported(seed_world, reader_client):
    response = reader_client.get(URL + "?metric=f1_score&threshold=90%25&category=classification")
    assert response.context["ignored"] == []
    assert "ignored-parameter" not in response.content.decode()


def test_an_ignored_value_is_escaped_and_cut(seed_world, reader_client):
    hostile = "<img src=x onerror=alert(1)>" + "x" * 300
    response = reader_client.get(URL, {"metric": hostile, "category": hostile})
    body = response.content.decode()
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert all(len(note) < 250 for note in response.context["ignored"])


# --- forecasters -------------------------------------------------------------------------------


def test_forecasters_get_a_ranking_on_their_error(seed_world, reader_client):
    _forecasters(seed_world)
    response = reader_client.get(URL + "?metric=accuracy")
    assert response.context["forecast_metric"] == "rmse"
    rows = [
        (row.record.registered_model.name, row.record.metric_value)
        for row in response.context["forecast_table"].paginated_rows
    ]
    assert rows == [
        ("prophet_forecaster_enhanced_sensor-001", 0.65),
        ("lightgbm_forecaster_challenger", 0.8),
    ]
    text = _text(response)
    assert "Forecasting models by rmse (lowest first)" in text
    assert 'href="/metrics/?category=forecasting&amp;metric=rmse"' in response.content.decode()
    # The forecasting-only ranking is the page itself: no second one.
    assert reader_client.get(URL + "?category=forecasting").context["forecast_table"] is None


def test_the_forecast_metric_prefers_rmse_then_any_error(db):
    assert selectors.forecast_error_metric(keys=["mae", "rmse", "r2"]) == "rmse"
    assert selectors.forecast_error_metric(keys=["mae", "r2"]) == "mae"
    assert selectors.forecast_error_metric(keys=["val_loss", "r2", "holdout_day_mae"]) == (
        "holdout_day_mae"
    )
    assert selectors.forecast_error_metric(keys=["r2", "accuracy"]) is None


def test_no_forecast_ranking_without_error_metrics(seed_world, reader_client):
    # The seed world's forecasters record accuracy only: nothing honest to rank them on.
    response = reader_client.get(URL)
    assert response.context["forecast_table"] is None
    assert "Forecasting models by" not in response.content.decode()


# --- the chart -------------------------------------------------------------------------------


def test_the_chart_follows_the_category_filter(seed_world, reader_client):
    default = selectors.leaderboard_values(
        metric="accuracy", categories=selectors.RANKED_CATEGORIES
    )
    every = selectors.leaderboard_values(metric="accuracy")
    assert {name for name, _ in every} - {name for name, _ in default} == SCALERS
    body = reader_client.get(URL + "?metric=accuracy&category=all").content.decode()
    assert "/charts/leaderboard.png?metric=accuracy&amp;category=all" in body
    chart = reverse("catalog:chart_leaderboard") + "?metric=accuracy"
    pngs = {reader_client.get(chart + query).content for query in ["", "&category=all"]}
    assert len(pngs) == 2
    assert reader_client.get(chart + "&category=nonsense").content in pngs


# --- speed and the page cache ------------------------------------------------------------


def _more_models(count: int) -> None:
    experiment = make_experiment()
    for index in range(count):
        run = make_run(experiment=experiment, metrics={"accuracy": 0.5 + index / 100, "rmse": 1})
        category = [Category.CLASSIFICATION, Category.FORECASTING, Category.PREPROCESSING][
            index % 3
        ]
        model = make_registered_model(category=category, latest_version=1)
        make_model_version(registered_model=model, run=run)
        if index % 2:  # a second model from the same run
            make_model_version(registered_model=make_registered_model(latest_version=1), run=run)


def test_the_page_runs_a_bounded_and_flat_number_of_queries(
    seed_world, reader_client, django_assert_max_num_queries, settings
):
    settings.CATALOG_PAGE_CACHE_SECONDS = 0
    _forecasters(seed_world)
    query = URL + "?metric=accuracy&threshold=0.95"
    with django_assert_max_num_queries(MAX_QUERIES) as before:
        assert reader_client.get(query).status_code == 200
    _more_models(30)
    with django_assert_max_num_queries(MAX_QUERIES) as after:
        response = reader_client.get(query)
    assert len(after.captured_queries) == len(before.captured_queries)
    assert response.context["forecast_table"] is not None


def test_each_category_is_its_own_cached_page(seed_world, reader_client):
    first = reader_client.get(URL + "?metric=accuracy")
    assert first["X-Page-Cache"] == "miss"
    assert reader_client.get(URL + "?metric=accuracy")["X-Page-Cache"] == "hit"
    every = reader_client.get(URL + "?metric=accuracy&category=all")
    assert every["X-Page-Cache"] == "miss"
    assert "MIMII_Audio_Scaler" in _names(every)
    assert "MIMII_Audio_Scaler" not in _names(first)


# --- the export ------------------------------------------------------------------------------


def test_the_export_lists_no_preprocessing_model_as_high_performing(seed_world):
    for name in SCALERS:
        run = seed_world["models"][name].versions.get().run
        Run.objects.filter(pk=run.pk).update(metrics={"accuracy": 1.0})
    section = _quality_section(_export())
    high = section.split("### High-Performing Models (accuracy >= 0.9)")[1].split("###")[0]
    assert not any(name in high for name in SCALERS)
    # The models the scalers were logged beside keep their own metrics.
    assert "`RandomForest_MIMII_Audio_Benchmark` v1: accuracy = 1 (Folder 6/)" in high
    assert "Preprocessing/utility models are left out" in high


def test_the_export_names_models_sharing_a_run_apart(seed_world):
    run = seed_world["runs"]["lightgbm_engineered"]
    twin = make_registered_model(name="ai4i_twin", category="classification", latest_version=1)
    make_model_version(registered_model=twin, run=run)
    section = _quality_section(_export())
    listed = re.findall(r"^- `(.+?)` v1: accuracy", section, re.M)
    assert "ai4i_twin" not in listed and "ai4i_classifier_lightgbm_engineered" not in listed
    assert len(listed) == 5
    assert (
        "Also left out, their source run being another ranked model's too: "
        "`ai4i_classifier_lightgbm_engineered`, `ai4i_twin`." in section
    )


def test_the_export_ranks_forecasters_on_their_error(seed_world):
    _forecasters(seed_world)
    section = _quality_section(_export())
    forecasting = section.split("### Forecasting Models (rmse, lowest first)")[1]
    assert re.findall(r"^- `(.+?)` v1: rmse = ([\d.]+) \(Folder (\d)/\)", forecasting, re.M) == [
        ("prophet_forecaster_enhanced_sensor-001", "0.65", "3"),
        ("lightgbm_forecaster_challenger", "0.8", "3"),
    ]


def test_the_export_without_forecasters_has_no_forecasting_line(seed_world):
    # (The models-by-category section has a "### Forecasting Models" list of its own.)
    assert "### Forecasting Models (" not in _export()


def test_forecasters_without_rmse_rank_on_their_next_error(seed_world, reader_client):
    for run_name, mae in [("prophet", 0.7), ("lightgbm_challenger", 0.5)]:
        Run.objects.filter(pk=seed_world["runs"][run_name].pk).update(metrics={"mae": mae})
    response = reader_client.get(URL)
    assert response.context["forecast_metric"] == "mae"
    assert [
        row.record.registered_model.name
        for row in response.context["forecast_table"].paginated_rows
    ] == ["lightgbm_forecaster_challenger", "prophet_forecaster_enhanced_sensor-001"]
    assert "### Forecasting Models (mae, lowest first)" in _export()


def test_the_export_keeps_accuracy_when_no_model_reaches_the_threshold(seed_world):
    Run.objects.filter(metrics__accuracy__gte=0.9).update(metrics={"accuracy": 0.5})
    section = _quality_section(_export())
    assert "### High-Performing Models (accuracy >= 0.9)\n- (none)" in section


def test_the_page_count_is_the_counted_ranking(seed_world, reader_client):
    response = reader_client.get(URL + "?metric=accuracy&per_page=5&page=99")
    table = response.context["table"]
    assert (table.paginator.count, table.paginator.num_pages, table.page.number) == (15, 3, 3)
    assert len(table.page.object_list) == 5
