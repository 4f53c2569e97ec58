"""The catalogue in a real browser: drill down, copy, filter, sort, download.
(Logging in through the form, layout at each width and the README screenshots:
test_layout.py.)

Debian's chromium driven by Playwright's sync API against pytest-django's live server.
Playwright's sync API runs an event loop in this thread, so Django's async-safety
check must be told that the ORM calls made from the test are fine.
"""

from __future__ import annotations

import csv
import os

import pytest

from tests.browser.conftest import PLOT_RUN_ID
from tests.browser.layout_checks import settle

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _image_loaded(page, selector: str) -> bool:
    return page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")


def test_home_table_and_drill_down_to_a_plot(logged_in_page):
    page = logged_in_page
    rows = page.locator("table.table tbody tr")
    assert rows.count() == 7
    assert rows.nth(3).locator("td").nth(0).inner_text().strip() == "4/"
    assert "Classification Gauntlet (AI4I)" in rows.nth(3).inner_text()
    assert "+3 more" in rows.nth(3).inner_text()

    # Folder 4 -> its six runs and the comparison chart.
    rows.nth(3).get_by_role("link", name="Classification Gauntlet (AI4I)").click()
    page.wait_for_url("**/experiments/4/")
    assert page.locator("h1").inner_text().startswith("Classification Gauntlet (AI4I)")
    run_rows = page.locator("section:has(h2:text-is('Runs')) table.table tbody tr")
    assert run_rows.count() == 6
    settle(page)
    assert _image_loaded(page, "img.chart-img")

    # -> the RandomForest baseline run: params, metrics, history charts, plot gallery.
    page.locator(f"a[href='/runs/{PLOT_RUN_ID}/']").first.click()
    page.wait_for_url(f"**/runs/{PLOT_RUN_ID}/")
    assert "RandomForest baseline" in page.locator("h1").inner_text()
    settle(page)
    gallery = page.locator(".artifact-gallery img")
    assert gallery.count() >= 2
    gallery.first.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.artifact-gallery img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )

    # -> a plot's file page with its preview.
    page.locator(".artifact-gallery a").first.click()
    page.wait_for_url(f"**/runs/{PLOT_RUN_ID}/artifacts/plots/**")
    settle(page)
    assert _image_loaded(page, ".artifact-preview img")


def test_artifact_deep_link(logged_in_page, live_server):
    page = logged_in_page
    response = page.goto(f"/runs/{PLOT_RUN_ID}/artifacts/plots/")
    assert response.status == 200
    links = page.locator(".artifact-tree a")
    assert links.count() >= 2
    response = page.goto(f"/runs/{PLOT_RUN_ID}/artifacts/model/MLmodel")
    assert response.status == 200
    assert "MLmodel" in page.locator("h1").inner_text()


def test_copy_a_model_snippet(logged_in_page):
    page = logged_in_page
    page.goto("/models/ai4i_classifier_lightgbm_engineered/")
    snippet = page.locator(".snippet").first
    expected = snippet.locator("pre").inner_text()
    assert expected == (
        'model = mlflow.pyfunc.load_model("models:/ai4i_classifier_lightgbm_engineered@production")'
    )
    snippet.locator("button.copy").click()
    page.wait_for_function("() => document.querySelector('.snippet button.copy[data-copied]')")
    assert page.evaluate("() => navigator.clipboard.readText()") == expected
    assert "Copied" in snippet.locator("button.copy").inner_text()


def test_filter_and_sort_the_models_table(logged_in_page):
    page = logged_in_page
    page.goto("/models/")
    assert page.locator("table.table tbody tr").count() == 17
    page.select_option("select[name=category]", "forecasting")
    page.click(".filter-form button[type=submit]")
    page.wait_for_url("**category=forecasting**")
    names = page.locator("table.table tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == [
        "lightgbm_forecaster_challenger",
        "prophet_forecaster_enhanced_sensor-001",
    ]

    page.fill("input[name=q]", "")
    page.select_option("select[name=category]", "")
    page.click(".filter-form button[type=submit]")
    page.locator("table.table thead th a", has_text="Name").click()  # ascending already: flip
    page.wait_for_url("**sort=-name**")
    names = page.locator("table.table tbody tr td:first-child").all_inner_texts()
    assert len(names) == 17
    assert names == sorted(names, reverse=True)


def test_download_a_csv(logged_in_page, tmp_path):
    page = logged_in_page
    page.goto("/models/?category=preprocessing")
    with page.expect_download() as download_info:
        page.click("a.export-csv")
    download = download_info.value
    target = tmp_path / "models.csv"
    download.save_as(target)
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert sorted(row["Name"] for row in rows) == ["MIMII_Audio_Scaler", "xjtu_feature_scaler"]


def test_metrics_and_audit_pages(logged_in_page):
    page = logged_in_page
    page.goto("/metrics/")
    page.fill("input[name=threshold]", "90%")
    page.click(".filter-form button[type=submit]")
    page.wait_for_url("**threshold=90**")
    settle(page)
    assert _image_loaded(page, "img.chart-img")
    assert page.locator("table.table tbody tr").count() >= 6
    page.goto("/audit/")
    assert "Orphan folders" in page.locator("nav.tabs").inner_text()
    assert page.locator("table.table tbody tr").count() >= 1


def test_no_console_errors_or_csp_violations(logged_in_page):
    page = logged_in_page
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    for url in (
        "/",
        "/experiments/4/",
        f"/runs/{PLOT_RUN_ID}/",
        "/models/ai4i_classifier_svc_baseline/",
        "/categories/",
        "/metrics/?metric=accuracy&threshold=0.9",
        "/audit/?section=gone",
        "/search/?q=svc",
    ):
        page.goto(url)
        settle(page)
    assert errors == []
