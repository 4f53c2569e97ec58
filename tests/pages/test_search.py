"""The search page: pasted URIs and ids go to their page; words search everything."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.urls import reverse

from catalog import selectors
from catalog.model_urls import model_url, model_version_url
from catalog.uri_resolution import find_pasted_reference, resolve_pasted
from catalog.views.search import MAX_QUERY_CHARS
from tests.factories import (
    BUCKET,
    make_artifact,
    make_logged_model,
    make_model_version,
    make_registered_model,
    make_run,
)

SEARCH = reverse("catalog:search")
XJTU_RUN = "56453d8fa3af43b987c67553b0985872"
RF_RUN = "c795e657a4d147f1ac84ea0dc2bb68f1"


def _search(client, text: str):
    return client.get(SEARCH, {"q": text})


def _lands_on(client, text: str) -> str:
    response = _search(client, text)
    assert response.status_code == 302, (text, response.status_code)
    return response["Location"]


# --- pasted URIs and ids ----------------------------------------------------------------


def test_s3_uris_land_on_the_most_specific_entity(seed_world, reader_client):
    run_url = reverse("catalog:run_detail", args=[RF_RUN])
    s3 = f"s3://{BUCKET}"
    assert _lands_on(reader_client, f"{s3}/4/{RF_RUN}/") == run_url
    assert _lands_on(reader_client, f"{s3}/4/{RF_RUN}") == run_url
    assert _lands_on(reader_client, f"{s3}/4/{RF_RUN}/artifacts") == reverse(
        "catalog:run_artifacts", args=[RF_RUN]
    )
    assert _lands_on(reader_client, f"{s3}/4/{RF_RUN}/artifacts/plots/") == reverse(
        "catalog:run_artifact", args=[RF_RUN, "plots/"]
    )
    assert _lands_on(reader_client, f"{s3}/4/{RF_RUN}/artifacts/plots/report.pdf") == reverse(
        "catalog:run_artifact", args=[RF_RUN, "plots/report.pdf"]
    )
    assert _lands_on(reader_client, f"{s3}/4/") == reverse("catalog:experiment_detail", args=["4"])
    assert _lands_on(reader_client, f"  {s3}/7  ") == reverse(
        "catalog:experiment_detail", args=["7"]
    )


def test_an_s3_uri_of_a_version_prefix_lands_on_the_version(seed_world, reader_client):
    model = seed_world["models"]["ai4i_classifier_svc_baseline"]
    version = model.versions.get()
    uri = f"s3://{version.artifact_bucket}/{version.artifact_prefix}"
    assert _lands_on(reader_client, uri) == model_version_url(model.name, 1)
    assert _lands_on(reader_client, uri.rstrip("/")) == model_version_url(model.name, 1)


def test_models_uris_land_on_versions_and_models(seed_world, reader_client):
    scaler = "xjtu_feature_scaler"
    assert _lands_on(reader_client, f"models:/{scaler}@champion") == model_version_url(scaler, 1)
    assert _lands_on(reader_client, f"models:/{scaler}/1") == model_version_url(scaler, 1)
    assert _lands_on(reader_client, f"models:/{scaler}/latest") == model_version_url(scaler, 1)
    assert _lands_on(reader_client, f"models:/{scaler}") == model_url(scaler)
    # The old hand-kept page's invalid models://name/latest still finds the version.
    assert _lands_on(reader_client, f"models://{scaler}/latest") == model_version_url(scaler, 1)
    # A line of code with the URI in it, as copied from a notebook.
    line = f'model = mlflow.pyfunc.load_model("models:/{scaler}@champion")'
    assert _lands_on(reader_client, line) == model_version_url(scaler, 1)


def test_models_uri_of_a_name_with_slashes_and_a_stage(db, reader_client):
    name = "team/forecaster v2+ü%#?"
    model = make_registered_model(name=name, latest_version=3, aliases={"prod": 2})
    for number, stage in ((1, "Production"), (2, "Production"), (3, "Staging")):
        make_model_version(registered_model=model, version=number, stage=stage)
    assert _lands_on(reader_client, f"models:/{name}/3") == model_version_url(name, 3)
    assert _lands_on(reader_client, f"models:/{name}@prod") == model_version_url(name, 2)
    assert _lands_on(reader_client, f"models:/{name}/production") == model_version_url(name, 2)
    location = _lands_on(reader_client, f"models:/{name}")
    assert location == model_url(name) and "%2F" in location
    assert reader_client.get(location).context["registered_model"] == model


def test_logged_model_and_runs_uris(db, reader_client):
    run = make_run()
    make_artifact(run=run, path="model/MLmodel")
    logged = make_logged_model(experiment=run.experiment, run=run)
    make_artifact(logged_model=logged, path="MLmodel")
    logged_url = reverse("catalog:logged_model_detail", args=[logged.model_id])
    assert _lands_on(reader_client, f"models:/{logged.model_id}") == logged_url
    assert _lands_on(reader_client, logged.model_id) == logged_url
    assert _lands_on(reader_client, logged.artifact_location + "/MLmodel") == reverse(
        "catalog:logged_model_artifact", args=[logged.model_id, "MLmodel"]
    )
    assert _lands_on(reader_client, f"runs:/{run.run_id}/model") == reverse(
        "catalog:run_artifact", args=[run.run_id, "model/"]
    )
    assert _lands_on(reader_client, f"runs:/{run.run_id}/model/MLmodel") == reverse(
        "catalog:run_artifact", args=[run.run_id, "model/MLmodel"]
    )
    assert _lands_on(reader_client, f"runs:/{run.run_id}") == run.get_absolute_url()
    assert _lands_on(reader_client, run.run_id.upper()) == run.get_absolute_url()


def test_mlflow_artifacts_uris(db, reader_client, settings):
    run = make_run()
    make_artifact(run=run, path="plots/roc.png")
    relative = f"{run.experiment.experiment_id}/{run.run_id}/artifacts/plots/roc.png"
    page = reverse("catalog:run_artifact", args=[run.run_id, "plots/roc.png"])
    # Without the destination setting, the run id in the path is enough.
    assert _lands_on(reader_client, f"mlflow-artifacts:/{relative}") == page
    settings.CATALOG_ARTIFACTS_DESTINATION = f"s3://{BUCKET}"
    assert _lands_on(reader_client, f"mlflow-artifacts:/{relative}") == page


def test_uris_that_name_nothing_say_so_and_show_related_results(seed_world, reader_client):
    unknown = "1234567890abcdef1234567890abcdef"
    response = _search(reader_client, f"s3://{BUCKET}/4/{unknown}/artifacts/model/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"No run {unknown} in the catalogue." in html
    # The folder it points into exists: the page links it.
    assert f'href="{reverse("catalog:experiment_detail", args=["4"])}"' in html

    response = _search(reader_client, f"runs:/{unknown}/model")
    assert response.status_code == 200
    assert f"No run {unknown} in the catalogue." in response.content.decode()

    response = _search(reader_client, "models:/xjtu_feature_scaler@production")
    html = response.content.decode()
    assert "has no alias “@production”" in html
    assert f'href="{model_url("xjtu_feature_scaler")}"' in html
    related = response.context["results"]
    assert [m.name for m in related.models] == ["xjtu_feature_scaler"]

    assert "names no model" in _search(reader_client, "models:/").content.decode()

    response = _search(reader_client, "models:/no_such_model/1")
    assert "No registered model “no_such_model” in the catalogue." in response.content.decode()

    response = _search(reader_client, f"s3://{BUCKET}/4/{RF_RUN}/artifacts/plots/gone.png")
    assert "No file or folder “plots/gone.png”" in response.content.decode()


def test_an_orphan_key_points_at_the_audit(seed_world, reader_client):
    key = "1/deadbeefdeadbeefdeadbeefdeadbeef/artifacts/old.pkl"
    response = _search(reader_client, f"s3://{BUCKET}/{key}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "is an orphan" in html and "section=orphans" in html
    assert [a.key for a in response.context["results"].artifacts] == [key]


def test_a_full_run_id_goes_to_the_run_and_an_unknown_one_says_so(seed_world, reader_client):
    assert _lands_on(reader_client, XJTU_RUN) == reverse("catalog:run_detail", args=[XJTU_RUN])
    html = _search(reader_client, "f" * 32).content.decode()
    assert f"No run {'f' * 32} in the catalogue." in html


def test_pasted_text_is_escaped(seed_world, reader_client):
    html = _search(reader_client, "models:/<script>alert(1)</script>").content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html


def test_find_pasted_reference():
    assert find_pasted_reference("  'models:/a@b'  ") == "models:/a@b"
    assert find_pasted_reference("s3://b/a key with spaces.txt") == "s3://b/a key with spaces.txt"
    assert find_pasted_reference("isolation forest") is None
    assert find_pasted_reference("abc") is None
    assert find_pasted_reference("A" * 32) == "a" * 32


def test_resolution_queries_are_few(seed_world, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        resolution = resolve_pasted(f"s3://{BUCKET}/4/{'0' * 32}/artifacts/x/y.txt")
    assert resolution is not None and not resolution.exact


# --- words ------------------------------------------------------------------------------


def test_several_words_match_all_of_them_in_any_order(seed_world):
    for query in ("isolation forest", "forest isolation", "FOREST xjtu"):
        names = {m.name for m in selectors.search(query=query).models}
        assert "xjtu_anomaly_isolation_forest" in names, query
    assert {m.name for m in selectors.search(query="forest xjtu").models} == {
        "xjtu_anomaly_isolation_forest"
    }
    assert selectors.search(query="isolation svc").models == []


def test_params_tags_aliases_and_version_tags_are_searched(db):
    run = make_run(
        name="plain",
        params={"num_leaves": "63", "algorithm": "RandomForest"},
        tags={"owner": "Ana"},
    )
    other = make_run(name="other", params={"num_leaves": "31"})
    assert selectors.search(query="num_leaves=63").runs == [run]
    assert selectors.search(query="algorithm=randomforest").runs == [run]
    assert selectors.search(query="ALGORITHM=RandomForest").runs == []  # keys are exact
    assert selectors.search(query="randomforest").runs == [run]
    assert selectors.search(query="owner=ana").runs == [run]
    assert set(selectors.search(query="num_leaves=").runs) == {run, other}
    assert selectors.search(query="num_leaves=63 owner=ANA").runs == [run]
    assert selectors.search(query="num_leaves=63 owner=bob").runs == []

    model = make_registered_model(name="scaler", aliases={"champion": 1})
    make_model_version(
        registered_model=model, run=run, aliases=["champion"], tags={"validated": "Yes"}
    )
    make_registered_model(name="unaliased")
    assert selectors.search(query="champion").models == [model]
    assert selectors.search(query="@champion").models == [model]
    assert selectors.search(query="@cham scaler").models == [model]
    assert selectors.search(query="@champion").runs == []  # only models have aliases
    assert selectors.search(query="validated=yes").models == [model]
    assert selectors.search(query="validated").models == [model]


def test_json_syntax_alone_matches_nothing(db):
    make_run(name="r", tags={"a": "b"})
    assert selectors.search(query=":").runs == []
    assert selectors.search(query='","').runs == []


def test_non_ascii_and_quotes_in_tags_are_found(db):
    run = make_run(name="r", tags={"site": 'Düsseldorf "Nord"'})
    assert selectors.search(query="düsseldorf").runs == [run]
    assert selectors.search(query='"Nord"').runs == [run]
    assert selectors.search(query='"dorf \\"nord"').runs == []


def test_too_many_words_are_said(db):
    query = " ".join(f"w{n}" for n in range(selectors.MAX_SEARCH_TERMS + 2))
    results = selectors.search(query=query)
    assert len(results.terms) == selectors.MAX_SEARCH_TERMS
    assert results.ignored_terms == [
        f"w{selectors.MAX_SEARCH_TERMS}",
        f"w{selectors.MAX_SEARCH_TERMS + 1}",
    ]


def test_runs_without_a_start_time_are_listed_last(db):
    started = make_run(name="forest a")
    unstarted = {make_run(name=f"forest {n}", start_time=None, end_time=None) for n in ("b", "c")}
    runs = selectors.search(query="forest").runs
    assert runs[0] == started and set(runs[1:]) == unstarted


def test_quoted_phrases_are_one_word(db):
    experiment_run = make_run(name="isolation forest baseline")
    make_run(name="forest isolation")
    assert selectors.search(query='"isolation forest"').runs == [experiment_run]


# --- the page ---------------------------------------------------------------------------


def test_the_empty_page_explains_the_syntax_with_examples_that_work(seed_world, reader_client):
    response = reader_client.get(SEARCH)
    assert response.status_code == 200
    examples = [example.query for example in response.context["examples"]]
    html = response.content.decode()
    for query in examples:
        assert f'href="{SEARCH}?q={quote(query, safe="")}"' in html
    by_query = {example: _search(reader_client, example) for example in examples}
    assert "isolation forest" in by_query and "@champion" in by_query
    assert any(q.startswith("models:/") for q in examples)
    assert any(q.startswith("s3://") for q in examples)
    for query, response in by_query.items():
        if response.status_code == 302:
            assert reader_client.get(response["Location"]).status_code == 200, query
        else:
            assert response.context["results"].total > 0, query


def test_long_queries_are_cut_and_said(seed_world, reader_client):
    response = _search(reader_client, "s3://" + "x" * (MAX_QUERY_CHARS + 50))
    assert response.status_code == 200
    assert len(response.context["query"]) == MAX_QUERY_CHARS
    assert f"Only the first {MAX_QUERY_CHARS} characters" in response.content.decode()


def test_the_longest_s3_uri_fits(db, reader_client):
    run = make_run()
    path = "p" * (1000 - len(f"{run.experiment.experiment_id}/{run.run_id}/artifacts/"))
    make_artifact(run=run, path=path)
    uri = f"s3://{BUCKET}/{run.experiment.experiment_id}/{run.run_id}/artifacts/{path}"
    assert _lands_on(reader_client, uri) == reverse("catalog:run_artifact", args=[run.run_id, path])


def test_the_page_cache_keys_on_the_query(seed_world, reader_client):
    first = _search(reader_client, "svc")
    second = _search(reader_client, "isolation forest")
    assert first.content != second.content
    assert _search(reader_client, "svc")["X-Page-Cache"] == "hit"


@pytest.mark.parametrize(
    "query",
    [
        "isolation forest",
        "num_leaves=63 dataset=AI4I",
        f"s3://{BUCKET}/4/{'0' * 32}/",
        "models:/xjtu_feature_scaler@production",
        "plots/ model",
    ],
)
def test_query_count_is_bounded_and_flat(
    seed_world, reader_client, query, django_assert_max_num_queries
):
    with django_assert_max_num_queries(15):
        assert _search(reader_client, query).status_code == 200
    for index in range(30):
        run = make_run(name=f"isolation forest {index}", params={"num_leaves": "63"})
        make_artifact(run=run, path="plots/model.png")
        make_registered_model(name=f"isolation_forest_{index}", aliases={"champion": 1})
    with django_assert_max_num_queries(15):
        assert _search(reader_client, query).status_code == 200


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("forest", "run_name_trgm"),
        ("forest", "run_tags_trgm"),
        ("forest", "run_params_trgm"),
        ("num_leaves=63", "run_params_trgm"),
    ],
)
def test_postgresql_answers_words_from_the_trigram_indexes(db, query, index):
    """The search's expressions are the ones migration 0008 indexed (else: a full scan)."""
    from django.db import connection

    from catalog.selectors.search import _runs, parse_search_terms

    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes exist on PostgreSQL only")
    make_run(name="isolation forest", params={"num_leaves": "63"})
    terms, _ = parse_search_terms(query)
    with connection.cursor() as cursor:
        # A table of one row is scanned whatever the indexes: ask for the index plan.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = _runs(terms).order_by()[:20].explain()
    assert index in plan
