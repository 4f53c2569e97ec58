"""Model links: every registered-model name links to its own page, whatever it holds.

Browsers resolve "." and ".." path segments (also percent-encoded ones) before they
request a URL, so the tests resolve each link the way a browser does
(``urllib.parse.urljoin`` implements RFC 3986's dot-segment removal) and follow it.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import pytest
from django.urls import reverse

from catalog.model_urls import model_chart_url, model_path, model_url, model_version_url
from tests.factories import make_experiment, make_model_version, make_registered_model, make_run

NAMES = [
    "a/../../admin",
    "a/./b",
    "../x",
    "x/..",
    "..",
    ".",
    "...",
    "name#frag",
    "what?q=1",
    "100%",
    "%2F",
    "a+b",
    "with space",
    "ünïcødé 模型",
    "ends/with/slash/",
    "/leading",
    "plain_model.v2",
]


def _browser_path(link: str) -> str:
    """The path a browser requests for ``link`` found on ``/models/`` (dots resolved)."""
    return urljoin("http://testserver/models/", link).removeprefix("http://testserver")


@pytest.mark.parametrize("name", NAMES)
def test_model_path_encodes_one_segment(name):
    encoded = model_path(name)
    assert "/" not in encoded and "?" not in encoded and "#" not in encoded
    if name not in (".", ".."):
        assert _browser_path(model_url(name)) == model_url(name)


@pytest.fixture
def named_models(db):
    experiment = make_experiment(experiment_id="31")
    run = make_run(experiment=experiment, metrics={"accuracy": 0.9})
    models = {}
    for name in NAMES:
        model = make_registered_model(name=name, experiment=experiment, latest_version=1)
        make_model_version(registered_model=model, run=run, version=1)
        models[name] = model
    # A second version: the model page draws its versions chart from two on.
    make_model_version(registered_model=models["a/../../admin"], run=run, version=2)
    return models


@pytest.mark.parametrize("name", NAMES)
def test_each_model_links_to_its_own_page(named_models, reader_client, name):
    model = named_models[name]
    url = model.get_absolute_url()
    assert _browser_path(url) == url  # nothing for a browser to rewrite
    response = reader_client.get(url)
    assert response.status_code == 200
    assert response.context["registered_model"].pk == model.pk
    version_url = model_version_url(name, 1)
    assert _browser_path(version_url) == version_url
    page = reader_client.get(version_url)
    assert page.status_code == 200 and page.context["version"].registered_model.pk == model.pk
    chart = reader_client.get(model_chart_url(name) + "?metric=accuracy")
    assert chart.status_code == 200 and chart["Content-Type"] == "image/png"


def test_links_on_pages_use_the_encoded_name(named_models, reader_client):
    html = reader_client.get(reverse("catalog:model_list") + "?per_page=100").content.decode()
    hrefs = {unescape(href) for href in re.findall(r'href="([^"]+)"', html)}
    for name, model in named_models.items():
        assert model.get_absolute_url() in hrefs, name
    assert "/models/a/../../admin/" not in html
    detail = reader_client.get(named_models["a/../../admin"].get_absolute_url()).content.decode()
    assert 'src="/charts/models/a%2F..%2F..%2Fadmin/versions.png?metric=accuracy"' in detail


def test_the_home_page_links_key_models_encoded(named_models, reader_client):
    html = reader_client.get(reverse("catalog:home")).content.decode()
    links = [unescape(href) for href in re.findall(r'href="(/models/[^"?]+)"', html)]
    assert links  # the folder's key models
    for link in links:
        assert _browser_path(link) == link
        assert reader_client.get(link).status_code == 200, link
