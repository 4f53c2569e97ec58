"""The change timeline in a real browser: a model's alias history leads to the filtered
timeline, and the timeline filters by kind."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import HISTORY_MODEL

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_model_pages_alias_history_opens_the_filtered_timeline(logged_in_page, change_history):
    page = logged_in_page
    page.goto(f"/models/{HISTORY_MODEL}/")
    panel = page.locator("section.history")
    panel.scroll_into_view_if_needed()
    assert panel.is_visible()
    moves = panel.locator("span.change")
    assert moves.count() == 4
    assert moves.first.inner_text() == "@production v3 → v2"
    assert panel.locator(".badge", has_text="Alias moved").count() == 4
    panel.locator("a.history-link").click()
    page.wait_for_url("**/changes/?model=*")
    assert parse_qs(urlsplit(page.url).query) == {"model": [HISTORY_MODEL]}
    rows = page.locator("table.changes-table tbody tr")
    assert rows.count() == 4
    assert page.locator("table.changes-table .entity-name", has_text=HISTORY_MODEL).count() == 4


def test_the_timeline_filters_by_kind(logged_in_page, change_history):
    page = logged_in_page
    page.goto("/changes/")
    assert page.locator("h2.sync-heading").count() == 3
    every = page.locator("table.changes-table tbody tr").count()
    assert every == 8
    page.select_option("form.changes-filter select[name=kind]", "missing")
    page.click("form.changes-filter button[type=submit]")
    page.wait_for_url("**/changes/?*kind=missing*")
    badges = page.locator("table.changes-table tbody tr .badge")
    assert badges.count() == 1
    assert badges.first.inner_text() == "Missing"
    assert page.locator("select[name=kind]").input_value() == "missing"
