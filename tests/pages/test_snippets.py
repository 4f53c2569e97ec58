"""Load snippets: the module follows the MLmodel's flavors, failing ones are struck through,
names are quoted as Python, and the pages read flavors in a bounded number of queries."""

from __future__ import annotations

import ast
import contextlib
import io

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import selectors
from catalog.model_urls import model_url, model_version_url
from catalog.models import RegisteredModel
from catalog.pagecache import CACHE_ALIAS
from tests.factories import (
    BUCKET,
    NOW,
    make_artifact,
    make_logged_model,
    make_model_version,
    make_registered_model,
    make_run,
)
from tests.snippet_html import parse_snippets, run_pasted, snippets_on

SKLEARN_ONLY = {"kind": "mlmodel", "flavors": ["sklearn"]}
PYFUNC_AND_SKLEARN = {"kind": "mlmodel", "flavors": ["python_function", "sklearn"]}
HOSTILE_NAMES = [
    'we"ird\\name',
    "it's",
    "tab\tand\nnewline",
    "uni✓ \u2028 \x85 end",
    '"); import os; os.system("id"); ("',
    "\\",
]


def _model_with_version(*, name="m", meta=SKLEARN_ONLY, **version_fields):
    """A model whose latest version 1 has an MLmodel with ``meta`` (None: no MLmodel)."""
    run = make_run()
    model = make_registered_model(name=name, latest_version=1)
    version = make_model_version(registered_model=model, run=run, version=1, **version_fields)
    if meta is not None:
        make_artifact(run=run, path="model/MLmodel", meta=meta)
    return model, version, run


def _codes(snippets) -> list[str]:
    return [snippet.code for snippet in snippets]


# --- quoting -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE_NAMES)
def test_python_string_evaluates_back_to_the_text(text):
    literal = selectors.python_string(text)
    assert ast.literal_eval(literal) == text
    assert "\n" not in literal and "\u2028" not in literal and "\x85" not in literal
    assert literal.startswith('"') and literal.endswith('"')


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_name_gives_one_call_that_loads_that_name(db, name):
    model, version, _ = _model_with_version(name=name)
    for snippet in selectors.load_snippets(version=version, registered_model=model):
        tree = ast.parse(snippet.code)
        (statement,) = tree.body  # one assignment: nothing else runs
        assert isinstance(statement, ast.Assign)
        call = statement.value
        assert ast.unparse(call.func) == "mlflow.sklearn.load_model"
        (argument,) = call.args
        assert argument.value == snippet.uri


def test_the_page_and_its_copy_button_carry_the_same_quoted_code(db, reader_client):
    name = 'we"ird\\name'
    _model_with_version(name=name)
    (first, *_) = snippets_on(reader_client, model_url(name))
    assert first.code == 'model = mlflow.sklearn.load_model("models:/we\\"ird\\\\name/latest")'
    assert first.copy == first.code


# --- flavors -------------------------------------------------------------------------------


def test_the_module_follows_the_flavors():
    loader = selectors.loader_from_meta
    assert loader(PYFUNC_AND_SKLEARN).module == "mlflow.pyfunc"
    assert loader(PYFUNC_AND_SKLEARN).native_module == "mlflow.sklearn"
    assert loader(SKLEARN_ONLY).module == "mlflow.sklearn"
    assert loader({"kind": "mlmodel", "flavors": ["lightgbm"]}).module == "mlflow.lightgbm"
    assert loader({"kind": "mlmodel", "flavors": ["prophet"]}).module == "mlflow.prophet"
    # Two native flavors: the preferred one, whatever the order in the file.
    assert loader({"kind": "mlmodel", "flavors": ["tensorflow", "keras"]}).module == "mlflow.keras"
    unknown = loader(None)
    assert (unknown.module, unknown.known) == ("mlflow.pyfunc", False)
    broken = loader({"kind": "mlmodel", "error": "MLmodel is not a YAML mapping"})
    assert not broken.known and "could not be read: MLmodel is not a YAML mapping" in broken.note


def test_a_flavor_name_never_reaches_the_code(db):
    hostile = "os.system('id') or mlflow"
    model, version, _ = _model_with_version(meta={"kind": "mlmodel", "flavors": [hostile]})
    snippets = selectors.load_snippets(version=version, registered_model=model)
    assert all(hostile not in snippet.code for snippet in snippets)
    assert all(not snippet.loads for snippet in snippets)
    assert snippets[0].unavailable == "its MLmodel lists no flavor MLflow loads by name"


def test_the_model_page_says_which_flavors_and_loads_a_scaler_natively(db, reader_client):
    _model_with_version(name="scaler")
    response = reader_client.get(model_url("scaler"))
    html = response.content.decode()
    assert "MLmodel flavors: sklearn; no python_function, so mlflow.sklearn loads it" in html
    shown = snippets_on(reader_client, model_url("scaler"))
    assert shown and all("mlflow.sklearn.load_model(" in s.code for s in shown)
    assert "mlflow.pyfunc" not in "".join(s.code for s in shown)


def test_pyfunc_when_the_mlmodel_has_it(db, reader_client):
    _model_with_version(name="clf", meta=PYFUNC_AND_SKLEARN)
    html = reader_client.get(model_url("clf")).content.decode()
    assert "loaded with mlflow.pyfunc (mlflow.sklearn.load_model gives the native object)" in html
    assert all("mlflow.pyfunc.load_model(" in s.code for s in parse_snippets(html))


def test_no_mlmodel_catalogued_says_the_flavor_is_unknown(db, reader_client):
    _model_with_version(name="bare", meta=None)
    html = reader_client.get(model_url("bare")).content.decode()
    assert "Flavor unknown (no MLmodel catalogued in its folder): mlflow.pyfunc assumed" in html
    assert all("mlflow.pyfunc.load_model(" in s.code for s in parse_snippets(html))


def test_hostile_flavor_names_are_escaped_in_the_note(db, reader_client):
    flavors = ["<script>alert(1)</script>", "sklearn"]
    _model_with_version(name="x", meta={"kind": "mlmodel", "flavors": flavors})
    html = reader_client.get(model_url("x")).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;, sklearn" in html


def test_a_removed_mlmodel_is_not_read_as_present(db):
    model, version, run = _model_with_version(meta=None)
    make_artifact(run=run, path="model/MLmodel", meta=SKLEARN_ONLY, missing_since=NOW)
    (snippet, *_) = selectors.load_snippets(version=version, registered_model=model)
    assert not snippet.loader.known


# --- forms offered ----------------------------------------------------------------------------


def test_latest_only_on_the_latest_version(db):
    run = make_run()
    model = make_registered_model(name="m", latest_version=2)
    old = make_model_version(registered_model=model, run=run, version=1)
    new = make_model_version(registered_model=model, run=run, version=2)
    old_uris = [s.uri for s in selectors.load_snippets(version=old, registered_model=model)]
    new_uris = [s.uri for s in selectors.load_snippets(version=new, registered_model=model)]
    assert "models:/m/latest" not in old_uris
    assert new_uris[:2] == ["models:/m/latest", "models:/m/2"]


def test_missing_files_strike_every_snippet_and_offer_no_copy(db, reader_client):
    _model_with_version(name="gone_files", meta=None, artifacts_present=False)
    shown = snippets_on(reader_client, model_version_url("gone_files", 1))
    assert shown and all(s.struck and s.copy is None for s in shown)
    assert all(
        s.reason.startswith("Will not load: the files of v1 are missing from S3") for s in shown
    )
    html = reader_client.get(model_version_url("gone_files", 1)).content.decode()
    assert "<del><code>" in html
    assert 'data-copy="model =' not in html


def test_an_alias_on_a_version_without_files_is_struck_on_the_model_page(db, reader_client):
    old_run, new_run = make_run(), make_run()
    model = make_registered_model(name="m", latest_version=2, aliases={"old": 1, "new": 2})
    make_model_version(registered_model=model, run=old_run, version=1, artifacts_present=False)
    make_model_version(registered_model=model, run=new_run, version=2, aliases=["new"])
    make_artifact(run=new_run, path="model/MLmodel", meta=SKLEARN_ONLY)
    by_uri = {s.code: s for s in snippets_on(reader_client, model_url("m"))}
    assert by_uri['model = mlflow.pyfunc.load_model("models:/m@old")'].struck
    assert not by_uri['model = mlflow.sklearn.load_model("models:/m@new")'].struck


def test_an_alias_to_an_uncatalogued_version_is_struck(db):
    from catalog.views.models import model_snippets

    model, version, _ = _model_with_version(name="m")
    model.aliases = {"ghost": 9}
    (ghost, *_) = model_snippets(registered_model=model, version=version)
    assert (ghost.uri, ghost.unavailable) == ("models:/m@ghost", "v9 is not in the catalogue")


@pytest.mark.parametrize(
    ("name", "struck"),
    [
        ("a/b", {"alias", "latest", "number"}),
        ("a?b", {"alias", "latest", "number"}),
        ("at@x", {"latest", "number"}),
        ("plain #%", set()),
    ],
)
def test_names_mlflow_cannot_read_from_a_models_uri(db, name, struck):
    run = make_run()
    model = make_registered_model(name=name, latest_version=1)
    version = make_model_version(registered_model=model, run=run, version=1, aliases=["prod"])
    snippets = selectors.load_snippets(version=version, registered_model=model)
    kinds = {"alias": snippets[0], "latest": snippets[1], "number": snippets[2]}
    assert {kind for kind, snippet in kinds.items() if not snippet.loads} == struck
    # The run and S3 forms do not carry the name.
    assert all(snippet.loads for snippet in snippets[3:])


def test_paths_mlflow_cannot_read(db):
    run = make_run()
    model = make_registered_model(name="m", latest_version=1)
    version = make_model_version(
        registered_model=model,
        run=run,
        source=f"runs:/{run.run_id}/a#b",
        artifact_prefix=f"{run.experiment.experiment_id}/{run.run_id}/artifacts/a#b/",
    )
    by_label = {
        s.label: s for s in selectors.load_snippets(version=version, registered_model=model)
    }
    assert "#" in by_label["Source run"].unavailable
    assert "#" in by_label["S3 path"].unavailable
    assert by_label["Version 1"].loads


def test_gone_from_mlflow(db):
    run = make_run(missing_since=NOW)
    model = make_registered_model(name="m", latest_version=1)
    version = make_model_version(registered_model=model, run=run, missing_since=NOW)
    by_label = {
        s.label: s for s in selectors.load_snippets(version=version, registered_model=model)
    }
    assert by_label["Version 1"].unavailable == "v1 is no longer in MLflow's registry"
    assert by_label["Source run"].unavailable == f"run {run.run_id} is no longer in MLflow"
    assert by_label["S3 path"].loads


# --- run and logged-model pages ------------------------------------------------------------------


def test_run_page_offers_each_model_folder(db, reader_client):
    run = make_run()
    model = make_registered_model(name="clf", latest_version=1)
    make_model_version(registered_model=model, run=run, version=1)
    make_artifact(run=run, path="model/MLmodel", meta=PYFUNC_AND_SKLEARN)
    make_artifact(run=run, path="scaler/MLmodel", meta=SKLEARN_ONLY)
    make_artifact(run=run, path="plots/MLmodel.png")
    response = reader_client.get(reverse("catalog:run_detail", args=[run.run_id]))
    labels = [s.label for s in response.context["snippets"]]
    assert labels == ["Model folder model, registered as clf v1", "Model folder scaler"]
    shown = snippets_on(reader_client, reverse("catalog:run_detail", args=[run.run_id]))
    assert [s.code for s in shown] == [
        f'model = mlflow.pyfunc.load_model("runs:/{run.run_id}/model")',
        f'model = mlflow.sklearn.load_model("runs:/{run.run_id}/scaler")',
    ]


def test_run_page_without_models_has_no_load_section(db, reader_client):
    run = make_run()
    make_artifact(run=run, path="plots/a.png")
    html = reader_client.get(reverse("catalog:run_detail", args=[run.run_id])).content.decode()
    assert "Load its models" not in html


def test_logged_model_page_uses_its_mlmodel(db, reader_client):
    logged = make_logged_model(artifact_count=3)
    make_artifact(logged_model=logged, path="MLmodel", meta=SKLEARN_ONLY)
    shown = snippets_on(reader_client, logged.get_absolute_url())
    assert [s.code for s in shown] == [
        f'model = mlflow.sklearn.load_model("models:/{logged.model_id}")',
        f'model = mlflow.sklearn.load_model("{logged.artifact_location}")',
    ]
    assert all(s.copy == s.code for s in shown)


def test_logged_model_without_files_is_struck(db, reader_client):
    logged = make_logged_model(artifact_count=0)
    shown = snippets_on(reader_client, logged.get_absolute_url())
    assert shown and all(s.struck and s.copy is None for s in shown)


# --- queries ---------------------------------------------------------------------------------


def _count(client, url) -> int:
    """Queries of a render (the page cache would serve a repeated URL without one)."""
    caches[CACHE_ALIAS].clear()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_model_page_reads_aliased_versions_and_flavors_in_flat_queries(db, reader_client):
    run = make_run()
    model = make_registered_model(name="m", latest_version=1, aliases={"a0": 1})
    make_model_version(registered_model=model, run=run, version=1)
    make_artifact(run=run, path="model/MLmodel", meta=SKLEARN_ONLY)
    one_alias = _count(reader_client, model_url("m"))
    aliases = {"a0": 1}
    for number in range(2, 80):
        other = make_run(experiment=run.experiment)
        make_model_version(registered_model=model, run=other, version=number)
        make_artifact(run=other, path="model/MLmodel", meta=PYFUNC_AND_SKLEARN)
        aliases[f"a{number}"] = number
    RegisteredModel.objects.filter(pk=model.pk).update(aliases=aliases, latest_version=79)
    # Aliases on versions past the versions table's first page (50 rows) are read too.
    assert _count(reader_client, model_url("m")) <= one_alias + 1
    caches[CACHE_ALIAS].clear()
    shown = snippets_on(reader_client, model_url("m"))
    assert sum("@a" in s.code for s in shown) == selectors.ALIAS_SNIPPETS
    assert all(not s.struck for s in shown)
    assert f"{79 - selectors.ALIAS_SNIPPETS} more aliases not shown" in html_of(reader_client, "m")


def html_of(client, name: str) -> str:
    caches[CACHE_ALIAS].clear()
    return client.get(model_url(name)).content.decode()


def test_run_and_logged_model_pages_read_flavors_in_one_query(db, reader_client):
    run = make_run()
    logged = make_logged_model(experiment=run.experiment, artifact_count=1)
    make_artifact(logged_model=logged, path="MLmodel", meta=SKLEARN_ONLY)
    run_url = reverse("catalog:run_detail", args=[run.run_id])
    before = _count(reader_client, run_url), _count(reader_client, logged.get_absolute_url())
    for folder in range(30):
        make_artifact(run=run, path=f"m{folder}/MLmodel", meta=SKLEARN_ONLY)
    assert (_count(reader_client, run_url), _count(reader_client, logged.get_absolute_url())) == (
        before
    )
    caches[CACHE_ALIAS].clear()
    assert len(snippets_on(reader_client, run_url)) == selectors.snippets.RUN_MODEL_FOLDERS


def test_folder_loaders_is_one_query(db, django_assert_num_queries):
    runs = [make_run() for _ in range(5)]
    for run in runs:
        make_artifact(run=run, path="model/MLmodel", meta=SKLEARN_ONLY)
    folders = [
        (BUCKET, f"{run.experiment.experiment_id}/{run.run_id}/artifacts/model/") for run in runs
    ]
    with django_assert_num_queries(1):
        loaders = selectors.folder_loaders(folders=[*folders, ("other", "x/")])
    assert [loaders[folder].module for folder in folders] == ["mlflow.sklearn"] * 5
    assert loaders[("other", "x/")] is selectors.UNKNOWN_LOADER


# --- the export ------------------------------------------------------------------------------


def _export() -> str:
    out = io.StringIO()
    call_command("export_mapping", stdout=out)
    return out.getvalue()


def test_export_usage_follows_flavors_and_offers_latest(db):
    _model_with_version(name="a_scaler")
    _model_with_version(name="b_gone", meta=None, artifacts_present=False)
    _model_with_version(name="c_clf", meta=PYFUNC_AND_SKLEARN)
    markdown = _export()
    usage = markdown.split("## Usage Instructions", 1)[1].split("## Quality", 1)[0]
    assert 'model = mlflow.sklearn.load_model("models:/a_scaler/latest")' in usage
    assert 'model = mlflow.pyfunc.load_model("models:/c_clf/latest")' in usage
    assert "# b_gone (latest: v1) will not load: the files of v1 are missing from S3" in usage
    assert 'load_model("models:/b_gone' not in usage
    assert "There is no `latest` shorthand" not in markdown
    assert "`models:/<name>/latest` (the highest version number" in usage
    assert "double slash after `models:`" in usage


def test_export_quotes_a_hostile_name_as_python(db):
    name = 'we"ird\\name'
    _model_with_version(name=name)
    usage = _export().split("## Usage Instructions", 1)[1].split("## Quality", 1)[0]
    lines = [line for line in usage.splitlines() if line.startswith("model = ")]
    assert lines
    for line in lines:
        code = line.split("  #", 1)[0]
        argument = ast.parse(code).body[0].value.args[0].value
        assert argument.startswith(('models:/we"ird\\name', "runs:/", "s3://"))


# --- the real MLflow, with a hostile name -------------------------------------------------


@contextlib.contextmanager
def _real_mlflow_store(tmp_path):
    import mlflow

    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield mlflow
    finally:
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)


@pytest.mark.slow
def test_snippets_of_a_hostile_name_load_with_mlflow(db, reader_client, tmp_path):
    pytest.importorskip("sklearn")
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    name = 'we"ird\\name #1'
    with _real_mlflow_store(tmp_path) as mlflow:
        experiment = mlflow.create_experiment("e", artifact_location=(tmp_path / "art").as_uri())
        scaler = StandardScaler().fit(np.arange(10.0).reshape(5, 2))
        mlflow.sklearn.save_model(scaler, str(tmp_path / "scaler"))
        with mlflow.start_run(experiment_id=experiment) as mlflow_run:
            # The MLflow 2 layout, as the demo world's: the model folder under the run's.
            mlflow.log_artifacts(str(tmp_path / "scaler"), "model")
        run_id = mlflow_run.info.run_id
        client = mlflow.MlflowClient()
        client.create_registered_model(name)
        client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
        client.set_registered_model_alias(name, "prod", 1)

        run = make_run(run_id=run_id)
        model = make_registered_model(name=name, latest_version=1, aliases={"prod": 1})
        make_model_version(registered_model=model, run=run, version=1, aliases=["prod"])
        make_artifact(run=run, path="model/MLmodel", meta=SKLEARN_ONLY)
        shown = snippets_on(reader_client, model_url(name))
        # The catalogue's S3 path is the test's own bucket name: not this store's files.
        local = [s for s in shown if '"s3://' not in s.code]
        assert len(local) == 4  # alias, latest, version, run
        for snippet in local:
            assert not snippet.struck
            loaded = run_pasted(snippet.copy)
            assert type(loaded).__name__ == "StandardScaler", snippet.code
