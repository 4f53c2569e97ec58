"""Pasting what people copy (an S3 folder, a models:/ URI) into the header's search box.

Debian's chromium driven by Playwright against the live server holding the demo world.
"""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest

from tests.browser.conftest import PLOT_RUN_ID

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BUCKET = "yan-smart-maintenance-artifacts"


def _search_from_header(page, text: str) -> None:
    box = page.locator("form.site-search input[name=q]")
    box.fill(text)
    box.press("Enter")


def test_pasted_uris_land_on_their_pages(logged_in_page):
    page = logged_in_page

    _search_from_header(page, f"s3://{BUCKET}/4/{PLOT_RUN_ID}/")
    page.wait_for_url(f"**/runs/{PLOT_RUN_ID}/")
    assert "RandomForest baseline" in page.locator("h1").inner_text()

    _search_from_header(page, "models:/xjtu_feature_scaler@production")
    page.wait_for_url("**/models/xjtu_feature_scaler/versions/1/")
    assert "xjtu_feature_scaler" in page.locator("h1").inner_text()

    _search_from_header(page, f"s3://{BUCKET}/4/{PLOT_RUN_ID}/artifacts/plots/")
    page.wait_for_url(f"**/runs/{PLOT_RUN_ID}/artifacts/plots/")


def test_a_uri_naming_nothing_says_so_and_examples_are_links(logged_in_page):
    page = logged_in_page
    unknown = "0123456789abcdef0123456789abcdef"
    _search_from_header(page, f"s3://{BUCKET}/4/{unknown}/artifacts/model/")
    page.wait_for_url("**/search/?q=*")
    assert f"No run {unknown} in the catalogue." in page.locator("[data-resolution]").inner_text()
    page.locator("[data-resolution] a").click()
    page.wait_for_url("**/experiments/4/")

    page.goto("/search/")
    example = page.locator(".search-help dt a", has_text="isolation forest")
    example.click()
    page.wait_for_url("**/search/?q=isolation%20forest")
    models = page.locator("section:has(h2:text-is('Models')) li")
    assert models.count() >= 1
    assert "isolation" in models.first.inner_text().lower()


def test_search_pages_hold_their_layout(logged_in_page):
    from tests.browser.layout_checks import HEIGHT, LAYOUT_PROBLEMS, set_width

    page = logged_in_page
    unknown = f"s3://{BUCKET}/4/{'0123456789abcdef' * 2}/artifacts/model/"
    problems = []
    for url in ("/search/", "/search/?q=" + quote(unknown, safe=""), "/search/?q=forest"):
        page.set_viewport_size({"width": 390, "height": HEIGHT})
        assert page.goto(url).status == 200
        for width in (390, 1280):
            set_width(page, width)
            problems += [f"{url} at {width}: {p}" for p in page.evaluate(LAYOUT_PROBLEMS)]
    assert problems == [], "\n".join(problems)
