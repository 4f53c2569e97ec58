"""Every page type of the demo world holds its layout at phone, laptop and wide widths.

One logged-in browser context loads every page at the phone width, then widens its
window to the laptop and wide widths, and measures the page at each width
(tests/browser/layout_checks.py): no sideways scroll, no text squeezed narrower than its
longest word, nothing over the header, no Copy button over its text (a page widened
after loading is laid out as one loaded at that width: ``set_width`` says why). With
CATALOG_WRITE_SCREENSHOTS=1 (``make screenshots``) the same run also writes the README's
desktop and phone screenshots to docs/screenshots/, every time.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from tests.browser.conftest import (
    CSV_PATH,
    CSV_RUN_ID,
    HISTORY_MODEL,
    JSON_PATH,
    PASSWORD,
    PLOT_RUN_ID,
)
from tests.browser.layout_checks import HEADER_ROWS, HEIGHT, LAYOUT_PROBLEMS, set_width

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE, LAPTOP, WIDE = 390, 1280, 1920
SHOT_NAMES = {PHONE: "phone", LAPTOP: "desktop"}
MODEL = HISTORY_MODEL
PLOT_RUN = f"/runs/{PLOT_RUN_ID}"
CSV_RUN = f"/runs/{CSV_RUN_ID}"

# (name, URL): one of each page type; the named main pages are also the screenshots.
PAGES = [
    ("home", "/"),
    ("experiments", "/experiments/"),
    ("experiment", "/experiments/4/"),
    ("run", f"{PLOT_RUN}/"),
    ("artifact-folder", f"{PLOT_RUN}/artifacts/plots/"),
    ("image-preview", f"{PLOT_RUN}/artifacts/plots/confusion_matrix.png"),
    ("pdf-preview", f"{PLOT_RUN}/artifacts/plots/roc_curve.pdf"),
    ("text-preview", f"{PLOT_RUN}/artifacts/additional_artifacts/classification_report.txt"),
    ("csv-preview", f"{CSV_RUN}/artifacts/{CSV_PATH}"),
    ("json-preview", f"{CSV_RUN}/artifacts/{JSON_PATH}"),
    ("mlmodel-preview", f"{PLOT_RUN}/artifacts/model/MLmodel"),
    ("conda-preview", f"{CSV_RUN}/artifacts/model/conda.yaml"),
    ("requirements-preview", f"{PLOT_RUN}/artifacts/model/requirements.txt"),
    ("logged-model", "/logged-models/m-0d069b553a530b54fadb2c7b79002966/"),
    ("models", "/models/"),
    ("model", f"/models/{MODEL}/"),
    ("version", f"/models/{MODEL}/versions/1/"),
    ("categories", "/categories/"),
    ("metrics", "/metrics/?metric=accuracy&threshold=0.9"),
    *[
        ("audit" if section == "orphans" else f"audit-{section}", f"/audit/?section={section}")
        for section in ("orphans", "empty-runs", "missing-artifacts", "deleted-runs", "gone")
    ],
    (
        "orphan-listing",
        "/audit/orphans/?bucket=yan-smart-maintenance-artifacts"
        "&group=2/3b5c2e391f1efc50dd365df1c3fdea08/",
    ),
    ("search", "/search/?q=svc"),
    ("feed-account", "/account/feed/?kind=alias_moved"),
    ("changes", "/changes/"),
    ("changes-filtered", f"/changes/?kind=alias_moved&model={MODEL}"),
    # The model page scrolled to its history panel (the alias moves).
    ("model-history", f"/models/{MODEL}/#history-heading"),
    ("admin-change", "/admin/catalog/registeredmodel/4/change/"),
]
MAIN_PAGES = {
    "home",
    "experiment",
    "run",
    "model",
    "metrics",
    "audit",
    "models",
    "changes",
    "model-history",
}


@pytest.fixture
def staff_page(browser, live_server, s3_world, change_history):
    """An administrator's page (admin pages are measured too), logged in through the
    login form, at the phone width."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("layout", password=PASSWORD)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": PHONE, "height": HEIGHT}
    )
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "layout")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    yield page
    context.close()


def _write_screenshot(page, *, name: str, width: int) -> None:
    """The viewport (not the whole page) as docs/screenshots/<name>-<desktop|phone>.png.

    Reduced to 256 colours: flat UI colours survive it, and the PNGs are 2.5 times smaller.
    """
    shot = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("RGB")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{SHOT_NAMES[width]}.png"
    shot.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def test_every_page_holds_its_layout(staff_page):
    page = staff_page
    write_shots = os.environ.get("CATALOG_WRITE_SCREENSHOTS") == "1"
    problems = []
    for name, url in PAGES:
        page.set_viewport_size({"width": PHONE, "height": HEIGHT})
        response = page.goto(url)
        assert response.status == 200, f"{url}: {response.status}"
        for width in (PHONE, LAPTOP, WIDE):
            set_width(page, width)
            problems += [
                f"{name} ({url}) at {width}px: {problem}"
                for problem in page.evaluate(LAYOUT_PROBLEMS)
            ]
            if write_shots and width in SHOT_NAMES and name in MAIN_PAGES:
                _write_screenshot(page, name=name, width=width)
    assert problems == [], "\n".join(problems)


def test_the_header_is_one_line_on_a_laptop(staff_page):
    rows = {}
    for width in (LAPTOP, WIDE):
        set_width(staff_page, width)
        rows[width] = staff_page.evaluate(HEADER_ROWS)
    assert all(abs(row["logout"] - row["brand"]) < 12 for row in rows.values()), rows


def test_the_models_table_stays_short(staff_page):
    """17 models with their tag chips: chips keep whole words, so rows stay a few lines
    (with chips wrapping per letter the page was 9,858 px tall at 1280 px)."""
    staff_page.goto("/models/")
    heights = {}
    for width in (PHONE, LAPTOP):
        set_width(staff_page, width)
        heights[width] = staff_page.evaluate("() => document.documentElement.scrollHeight")
    assert all(height < 4000 for height in heights.values()), heights
