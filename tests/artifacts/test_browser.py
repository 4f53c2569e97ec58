"""The artifact pages in a real browser (Debian's chromium): images load, no CSP errors."""

from __future__ import annotations

import contextlib

import pytest

from tests.artifacts.conftest import matplotlib_pdf, matplotlib_png
from tests.browser.layout_checks import settle
from tests.factories import make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@contextlib.contextmanager
def chromium_page(browser):
    """A page of the session's chromium, closed after the block."""
    page = browser.new_page()
    try:
        yield page
    finally:
        page.close()


def test_folder_and_file_pages_render_thumbnails_without_csp_errors(
    live_server, put_artifact, user, client, browser
):
    run = make_run()
    put_artifact(run=run, path="plots/loss.png", body=matplotlib_png())
    put_artifact(run=run, path="plots/report.pdf", body=matplotlib_pdf())
    put_artifact(run=run, path="model/conda.yaml", body=b"dependencies:\n- python=3.11\n")
    client.force_login(user)
    session_cookie = client.cookies["sessionid"]
    with chromium_page(browser) as page:
        page.context.add_cookies(
            [{"name": "sessionid", "value": session_cookie.value, "url": live_server.url}]
        )
        problems: list[str] = []

        def on_console(message) -> None:
            # The favicon is the base layout's business, not the artifact pages'.
            if message.type == "error" and "favicon" not in message.location.get("url", ""):
                problems.append(f"{message.text} at {message.location.get('url')}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(str(error)))

        page.goto(f"{live_server.url}/runs/{run.run_id}/artifacts/plots/")
        settle(page)
        widths = page.eval_on_selector_all(
            ".artifact-gallery img", "images => images.map(i => i.complete && i.naturalWidth)"
        )
        assert widths == [320, 320]  # both decoded: the PNG and the PDF's first page
        # By role and name: the link's text holds <wbr> break points (the `breakable` filter).
        page.locator(".artifact-tree").get_by_role("link", name="report.pdf", exact=True).click()
        page.wait_for_url(f"**/runs/{run.run_id}/artifacts/plots/report.pdf")
        settle(page)
        assert page.eval_on_selector(".artifact-preview img", "i => i.naturalWidth") > 320
        assert "s3://yan-smart-maintenance-artifacts/" in page.inner_text(".s3-uri")
        page.goto(f"{live_server.url}/runs/{run.run_id}/artifacts/model/conda.yaml")
        settle(page)
        assert "python" in page.inner_text(".dependency-table")
        assert problems == []
