"""The {% artifacts_panel owner %} tag of the run and logged-model pages."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from tests.factories import NOW, make_artifact, make_logged_model, make_run

pytestmark = pytest.mark.django_db

PANEL = Template("{% load artifact_tags %}{% artifacts_panel owner %}")


def _render(owner) -> str:
    # Long names carry <wbr> break points (the `breakable` filter); assertions read the text.
    return PANEL.render(Context({"owner": owner})).replace("<wbr>", "")


def test_panel_shows_plots_and_the_top_level_tree():
    run = make_run(run_id="c" * 32)
    make_artifact(run=run, path="plots/loss.png", size=10)
    make_artifact(run=run, path="plots/roc.PDF", size=20)
    make_artifact(run=run, path="plots/gone.png", size=30, missing_since=NOW)
    make_artifact(run=run, path="model/MLmodel", size=40)
    make_artifact(run=run, path="feature_names.txt", size=50)
    html = _render(run)
    run_id = run.run_id
    # Gallery: thumbnails of images and PDFs, each linking to its file page; no missing ones.
    assert (
        f'<a href="/runs/{run_id}/artifacts/plots/loss.png">'
        f'<img src="/runs/{run_id}/thumbnail/plots/loss.png"' in html
    )
    assert f'src="/runs/{run_id}/thumbnail/plots/roc.PDF"' in html
    assert "thumbnail/plots/gone.png" not in html
    # Tree: folders with counts and bytes, top-level files with sizes.
    assert f'<a href="/runs/{run_id}/artifacts/plots/">plots/</a>' in html
    assert 'title="30 bytes"' in html  # plots/: 10 + 20 present bytes
    assert f'<a href="/runs/{run_id}/artifacts/feature_names.txt">feature_names.txt</a>' in html
    assert "5 files, 120\xa0bytes" in html  # the missing file is counted, not its bytes
    assert f'href="/runs/{run_id}/artifacts/">Browse the artifacts</a>' in html


def test_panel_of_a_logged_model():
    model = make_logged_model(model_id="m-feedface")
    make_artifact(logged_model=model, path="MLmodel", size=40)
    make_artifact(logged_model=model, path="plots/shap.png", size=40)
    html = _render(model)
    assert 'href="/logged-models/m-feedface/artifacts/MLmodel"' in html
    assert 'src="/logged-models/m-feedface/thumbnail/plots/shap.png"' in html


def test_panel_of_a_run_without_artifacts():
    html = _render(make_run())
    assert "No artifacts." in html and "Plots" not in html


def test_panel_refuses_other_owners():
    with pytest.raises(TypeError):
        PANEL.render(Context({"owner": "not a run"}))
