"""Every load snippet the demo world shows runs: pasted as is, it loads the model.

The snippets are parsed out of the rendered pages (model, version, run and logged-model
pages) and out of ``/export/mapping.md``, never rebuilt by hand, and run with the real
MLflow client against the demo world (its sqlite store and moto's S3). A snippet a page
strikes through must fail when run, and must offer nothing to copy.
"""

from __future__ import annotations

import contextlib
import re

import pytest
from django.urls import reverse

from catalog.models import LoggedModel, ModelVersion, RegisteredModel, Run
from demo.seed import DRIFT
from tests.snippet_html import run_pasted, snippets_on

FENCE = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def export_code_lines(client) -> list[str]:
    markdown = client.get(reverse("catalog:mapping_export")).content.decode()
    usage = markdown.split("## Usage Instructions", 1)[1]
    (block,) = FENCE.findall(usage.split("## Quality", 1)[0])
    return [line for line in block.splitlines() if line.startswith("model = ")]


@contextlib.contextmanager
def mlflow_of(world):
    import mlflow

    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(world.tracking_uri)
    mlflow.set_registry_uri(world.tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)


@pytest.mark.slow
def test_every_snippet_of_the_demo_world_loads(demo_world, sync_demo_world, reader_client):
    sync_demo_world()
    urls = [model.get_absolute_url() for model in RegisteredModel.objects.all()]
    urls += [
        version.get_absolute_url()
        for version in ModelVersion.objects.select_related("registered_model")
    ]
    urls += [run.get_absolute_url() for run in Run.objects.all()]
    urls += [logged_model.get_absolute_url() for logged_model in LoggedModel.objects.all()]
    shown = [snippet for url in urls for snippet in snippets_on(reader_client, url)]
    exported = export_code_lines(reader_client)

    offered = [snippet for snippet in shown if not snippet.struck]
    struck = [snippet for snippet in shown if snippet.struck]
    # Every page type shows snippets; what is offered is what is copied.
    for page_kind in ("/models/", "/versions/", "/runs/", "/logged-models/"):
        assert any(page_kind in snippet.page for snippet in offered), page_kind
    for snippet in offered:
        assert snippet.copy == snippet.code, snippet
    for snippet in struck:
        assert snippet.copy is None, snippet
        assert snippet.reason.startswith("Will not load: "), snippet
    # The scalers have no python_function flavor: their own module loads them.
    scaler_codes = [s.code for s in offered if "_Scaler" in s.code or "feature_scaler" in s.code]
    assert scaler_codes and all(".sklearn.load_model(" in code for code in scaler_codes)
    # The version whose files were removed from S3 offers nothing that would fail.
    name, number = DRIFT["version_missing_artifacts"]
    missing_page = f"/models/{name}/versions/{number}/"
    assert [s for s in shown if s.page == missing_page and not s.struck] == []
    assert [s for s in shown if s.page == missing_page and s.struck]
    assert any(f"models:/{name}/latest" in code for code in exported)

    codes = sorted({s.code for s in offered} | set(exported))
    failing = sorted({s.code for s in struck})
    with mlflow_of(demo_world):
        for code in codes:
            try:
                model = run_pasted(code)
            except Exception as error:  # noqa: BLE001 - the message names the snippet
                pytest.fail(f"{code} failed: {type(error).__name__}: {error}")
            assert model is not None, code
        for code in failing:
            with pytest.raises(Exception):  # noqa: B017, PT011 - any failure is the point
                run_pasted(code)
    assert len(codes) >= 40
