"""The read side: load snippets for every source form, parsing helpers, search."""

from __future__ import annotations

from catalog import selectors
from catalog.views.quality import parse_threshold
from tests.factories import (
    BUCKET,
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
