"""Artifact and logged-model pages: full breadcrumbs, and Copy on the file's S3 URI."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.urls import reverse

from tests.factories import make_artifact, make_experiment, make_logged_model, make_run

pytestmark = pytest.mark.django_db


def _crumbs(html: str) -> list[tuple[str | None, str]]:
    """(href or None, text) of each breadcrumb link or span, in order (separators left out)."""
    nav = re.search(r'<div class="breadcrumbs">(.*?)</div>', html, re.S).group(1)
    items = re.findall(r'<a href="([^"]*)">(.*?)</a>|<span(?: class="current")?>(.*?)</span>', nav)
    return [
        (href or None, html_lib.unescape(text or span))
        for href, text, span in items
        if (text or span) not in ("›", "/")
    ]


@pytest.fixture
def world():
    experiment = make_experiment(experiment_id="12", name="Bearings <XJTU>")
    run = make_run(experiment=experiment, run_id="c" * 32, name="forest")
    make_artifact(run=run, path="plots/roc/curve.png", size=10)
    logged = make_logged_model(experiment=experiment, run=run, model_id="m-abc", name="fm")
    make_artifact(logged_model=logged, path="MLmodel", size=10)
    return experiment, run, logged


def test_a_run_file_page_has_home_experiments_experiment_run_folders_and_file(reader_client, world):
    experiment, run, _ = world
    html = reader_client.get(
        reverse("catalog:run_artifact", args=[run.run_id, "plots/roc/curve.png"])
    ).content.decode()
    assert _crumbs(html) == [
        ("/", "Home"),
        ("/experiments/", "Experiments"),
        ("/experiments/12/", "Bearings <XJTU>"),
        (f"/runs/{run.run_id}/", "forest"),
        (f"/runs/{run.run_id}/artifacts/", "artifacts"),
        (f"/runs/{run.run_id}/artifacts/plots/", "plots"),
        (f"/runs/{run.run_id}/artifacts/plots/roc/", "roc"),
        (None, "curve.png"),
    ]
    assert "Bearings &lt;XJTU&gt;" in html  # source text stays escaped


def test_a_logged_model_folder_page_names_its_run_too(reader_client, world):
    _, run, logged = world
    html = reader_client.get(
        reverse("catalog:logged_model_artifacts", args=[logged.model_id])
    ).content.decode()
    assert _crumbs(html) == [
        ("/", "Home"),
        ("/experiments/", "Experiments"),
        ("/experiments/12/", "Bearings <XJTU>"),
        (f"/runs/{run.run_id}/", "forest"),
        (f"/logged-models/{logged.model_id}/", "fm"),
        (None, "artifacts"),
    ]


def test_the_logged_model_page_has_full_breadcrumbs(reader_client, world):
    _, run, logged = world
    html = reader_client.get(
        reverse("catalog:logged_model_detail", args=[logged.model_id])
    ).content.decode()
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', html, re.S).group(1)
    for link in ('href="/"', 'href="/experiments/"', 'href="/experiments/12/"'):
        assert link in crumbs
    assert f'href="/runs/{run.run_id}/">forest</a>' in crumbs
    assert crumbs.rstrip().endswith("m-abc")


def test_a_logged_model_without_a_run_skips_the_run_crumb(reader_client):
    experiment = make_experiment(experiment_id="13")
    logged = make_logged_model(experiment=experiment, model_id="m-norun", name="lonely")
    make_artifact(logged_model=logged, path="MLmodel", size=10)
    html = reader_client.get(
        reverse("catalog:logged_model_artifact", args=[logged.model_id, "MLmodel"])
    ).content.decode()
    assert [text for _, text in _crumbs(html)] == [
        "Home",
        "Experiments",
        experiment.name,
        "lonely",
        "artifacts",
        "MLmodel",
    ]


def test_the_file_page_has_a_copy_button_for_its_s3_uri(reader_client, world):
    _, run, _ = world
    html = reader_client.get(
        reverse("catalog:run_artifact", args=[run.run_id, "plots/roc/curve.png"])
    ).content.decode()
    # Long URIs carry <wbr> after their separators, so they wrap there.
    html = html.replace("<wbr>", "")
    uri = re.search(r'<code class="s3-uri">([^<]+)</code>', html).group(1)
    assert uri.startswith("s3://") and uri.endswith("/plots/roc/curve.png")
    assert f'<button type="button" class="copy" data-copy="{uri}">Copy</button>' in html
