"""The 400, 403, 404 and 500 pages: the site's layout, and a 404 that says what is missing.

Django renders the 400 and 500 pages with an empty context (no request, no user, no
context processors), so they must not need the database; this module doubles as a test
URLconf whose views raise each error.
"""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.template import loader
from django.test import Client
from django.urls import path, reverse

from catalog.model_urls import model_url, model_version_url
from smartmaint_site.urls import handler404
from smartmaint_site.urls import urlpatterns as site_urlpatterns
from tests.factories import make_artifact, make_registered_model, make_run


def _raise_permission_denied(request):
    raise PermissionDenied("internal detail: perm catalog.change_run")


def _raise_bad_request(request):
    raise SuspiciousOperation("internal detail: bad header")


def _raise_server_error(request):
    raise RuntimeError("internal detail: boom")


urlpatterns = [
    path("test-errors/403/", _raise_permission_denied),
    path("test-errors/400/", _raise_bad_request),
    path("test-errors/500/", _raise_server_error),
    *site_urlpatterns,
]
__all__ = ["handler404", "urlpatterns"]  # this module is the URLconf of the marked tests

THIS_URLCONF = __name__


@pytest.fixture(autouse=True)
def production_debug(settings):
    settings.DEBUG = False


def _nav_links(html: str) -> list[str]:
    match = re.search(r'<nav class="site-nav" aria-label="Main">(.*?)</nav>', html, re.S)
    assert match, "no site navigation"
    return re.findall(r'href="([^"]+)"', match.group(1))


def _assert_site_layout(html: str) -> None:
    assert '<header class="site-header">' in html
    assert 'href="/static/catalog/catalog.css"' in html
    assert '<a class="brand" href="/">' in html
    # The CSP forbids inline script and style: only files under static/.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html and " style=" not in html


# --- 404 -------------------------------------------------------------------------------


def test_unknown_run_says_what_was_not_found_and_offers_search(reader_client):
    response = reader_client.get(reverse("catalog:run_detail", args=["0123abcd"]))

    assert response.status_code == 404
    html = response.content.decode()
    _assert_site_layout(html)
    assert reverse("catalog:experiment_list") in _nav_links(html)
    assert "<title>Not found · SmartMaint catalogue</title>" in html
    assert "The catalogue has no run <code>0123abcd</code>." in html
    assert 'name="q" value="0123abcd"' in html  # the page's search form
    assert 'aria-label="Search" value="0123abcd"' in html  # and the header's box
    assert "Log out" in html  # the per-user header part is there


def test_unknown_model_version_links_the_model(reader_client, db):
    model = make_registered_model(name="team/ai4i")

    response = reader_client.get(model_version_url("team/ai4i", 7))

    assert response.status_code == 404
    html = response.content.decode()
    assert "The catalogue has no version <code>7</code> in registered model" in html
    assert f'<a href="{model_url(model.name)}">' in html


def test_unknown_artifact_names_the_path_and_links_the_run(reader_client, db):
    run = make_run()

    response = reader_client.get(
        reverse("catalog:run_artifact", args=[run.run_id, "plots/roc.png"])
    )

    assert response.status_code == 404
    html = response.content.decode()
    assert "no artifact or folder <code>plots/<wbr>roc.<wbr>png</code> in run" in html
    assert f'<a href="{run.get_absolute_url()}">' in html
    assert 'name="q" value="plots/roc.png"' in html


def test_unknown_model_page(reader_client, db):
    response = reader_client.get(model_url("no_such_model"))

    assert response.status_code == 404
    assert "no registered model <code>no_<wbr>such_<wbr>model</code>" in response.content.decode()


def test_hostile_and_long_ids_are_escaped_and_cut(reader_client, db):
    hostile = "<img src=x onerror=alert(1)>"
    html = reader_client.get(reverse("catalog:run_detail", args=[hostile])).content.decode()
    assert "<img" not in html
    assert "<code>&lt;img src=<wbr>x onerror=<wbr>alert(1)&gt;</code>" in html

    long_id = "a" * 5000
    html = reader_client.get(reverse("catalog:run_detail", args=[long_id])).content.decode()
    assert "a" * 5000 not in html
    assert "<code>" + "a" * 199 + "…</code>" in html
    assert 'value="' + "a" * 200 + '"' in html  # the search as the search page would cut it


def test_unknown_url_for_a_visitor_shows_the_layout_without_data(
    client, db, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/no/such/page/")

    assert response.status_code == 404
    html = response.content.decode()
    _assert_site_layout(html)
    assert 'class="site-nav"' not in html  # no navigation for anonymous visitors
    assert "Nothing to show at <code>/<wbr>no/<wbr>such/<wbr>page/<wbr></code>" in html
    assert f'<a href="{reverse("login")}">Log in</a>' in html


def test_unknown_url_for_a_reader_offers_search(reader_client):
    response = reader_client.get("/no/such/page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert _nav_links(html)
    assert 'class="error-search"' in html


def test_a_404_is_not_page_cached(reader_client):
    url = reverse("catalog:run_detail", args=["later"])
    assert reader_client.get(url).status_code == 404
    response = reader_client.get(url)
    assert response.status_code == 404
    assert "X-Page-Cache" not in response


# --- 403, 400, 500 ---------------------------------------------------------------------


@pytest.mark.urls(THIS_URLCONF)
def test_403_uses_the_layout_and_hides_the_exception(reader_client):
    response = reader_client.get("/test-errors/403/")

    assert response.status_code == 403
    html = response.content.decode()
    _assert_site_layout(html)
    assert _nav_links(html)
    assert "<h1>Not allowed</h1>" in html
    assert "internal detail" not in html


@pytest.mark.urls(THIS_URLCONF)
def test_400_uses_the_layout_and_static_navigation(reader_client):
    response = reader_client.get("/test-errors/400/")

    assert response.status_code == 400
    html = response.content.decode()
    _assert_site_layout(html)
    assert _nav_links(html)
    assert "<h1>Bad request</h1>" in html
    assert "internal detail" not in html


@pytest.mark.urls(THIS_URLCONF)
def test_500_uses_the_layout_and_static_navigation(reader_client):
    reader_client.raise_request_exception = False

    response = reader_client.get("/test-errors/500/")

    assert response.status_code == 500
    html = response.content.decode()
    _assert_site_layout(html)
    assert "<h1>Something went wrong</h1>" in html
    assert "internal detail" not in html
    # Rendered without a request: no user part, but the same links as every page.
    assert "Log out" not in html
    home = reader_client.get(reverse("catalog:home")).content.decode()
    assert _nav_links(html) == _nav_links(home)


@pytest.mark.parametrize("template_name", ["500.html", "400.html", "403_csrf.html"])
def test_pages_rendered_without_a_request_need_no_database(template_name):
    # No ``db`` fixture: any query would fail the test.
    html = loader.get_template(template_name).render()

    _assert_site_layout(html)
    assert _nav_links(html)


def test_a_stale_csrf_token_gets_the_site_layout(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(reverse("logout"))

    assert response.status_code == 403
    html = response.content.decode()
    _assert_site_layout(html)
    assert "<h1>Form expired</h1>" in html


def test_a_thumbnail_404_does_not_claim_the_file_is_missing(reader_client, db):
    # A catalogued text file has no thumbnail: a 404 for a file the catalogue does hold.
    run = make_run()
    make_artifact(run=run, path="notes.txt")

    response = reader_client.get(
        reverse("catalog:run_artifact_thumbnail", args=[run.run_id, "notes.txt"])
    )

    assert response.status_code == 404
    html = response.content.decode()
    assert "The catalogue has no" not in html
    assert "Nothing to show at <code>" in html
