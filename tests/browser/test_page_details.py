"""The small things a user notices, in a real browser: a chart opens larger on click, a
file's S3 URI copies, the favicon loads (no 404), and logging out says so."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import PLOT_RUN_ID
from tests.browser.layout_checks import settle

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _natural_width(page, selector: str) -> int:
    return page.eval_on_selector(selector, "img => img.complete ? img.naturalWidth : 0")


def test_a_chart_opens_larger_on_click(logged_in_page):
    page = logged_in_page
    page.goto(f"/runs/{PLOT_RUN_ID}/")
    chart = page.locator("a.chart-link img.chart-img").first
    chart.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const img = document.querySelector('a.chart-link img.chart-img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    small = _natural_width(page, "a.chart-link img.chart-img")
    chart.click()
    page.wait_for_url("**/history.png?*size=large")
    large = page.evaluate(
        "() => { const img = document.querySelector('img'); return img ? img.naturalWidth : 0; }"
    )
    assert large >= 2 * small > 0


def test_the_file_pages_s3_uri_copies(logged_in_page):
    page = logged_in_page
    page.goto(f"/runs/{PLOT_RUN_ID}/artifacts/plots/confusion_matrix.png")
    uri = page.locator("code.s3-uri").inner_text()
    assert uri.startswith("s3://") and uri.endswith("/plots/confusion_matrix.png")
    button = page.locator("dd:has(code.s3-uri) button.copy")
    button.click()
    page.wait_for_function("() => document.querySelector('dd button.copy[data-copied]')")
    assert page.evaluate("() => navigator.clipboard.readText()") == uri


def test_the_favicon_loads_and_nothing_is_a_404(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    missing = []
    page.on("response", lambda response: response.status >= 400 and missing.append(response.url))
    page.goto("/accounts/login/")
    settle(page)
    response = page.goto("/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert response.url.endswith("/static/catalog/favicon.ico")
    assert missing == []
    context.close()


def test_logging_out_says_so(logged_in_page):
    page = logged_in_page
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
    assert page.locator(".messages").inner_text().strip() == "You are logged out."
    page.reload()
    assert page.locator(".messages").count() == 0
