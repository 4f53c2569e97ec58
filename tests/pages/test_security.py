"""Hostile metadata: Markdown and text from MLflow never become live HTML or script."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from catalog.markdown import render_markdown
from tests.factories import (
    make_experiment,
    make_model_version,
    make_registered_model,
    make_run,
)

HOSTILE_MARKDOWN = (
    "# Purpose\n\n<script>alert('md')</script>\n\n"
    '<img src=x onerror="alert(1)">\n\n'
    "[click](javascript:alert(2)) and [data](data:text/html;base64,PHNjcmlwdD4=)\n\n"
    '<a href="https://ok.example/" onclick="alert(3)">ok</a>\n\n'
    "<iframe src='https://evil.example'></iframe><style>body{}</style>"
)
HOSTILE_TEXT = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def _assert_inert(html: str) -> None:
    lowered = html.lower()
    assert "<script>alert" not in lowered
    # Escaped text of a tag ("&lt;img ... onerror=...&gt;") is inert; a live attribute
    # lives inside a real tag, so look for attributes in what is left.
    text = re.sub(r"&lt;[^<>]*?(&gt;|$)", "", lowered)
    assert "onerror=" not in text
    assert 'href="javascript:' not in lowered
    assert "<iframe" not in lowered
    assert "onclick" not in text


def test_render_markdown_cleans_everything_hostile():
    html = render_markdown(HOSTILE_MARKDOWN)
    _assert_inert(html)
    assert "<h1>Purpose</h1>" in html
    assert 'href="data:' not in html  # shown as text, never a link
    # Raw HTML is not rendered at all, even where nh3 would allow the tag: it is text.
    assert "&lt;a href=" in html and "<a " not in html
    assert "<img" not in html
    assert render_markdown("") == ""


def test_render_markdown_keeps_ordinary_formatting():
    html = render_markdown("**bold** `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- item")
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert "<table>" in html and "<li>item</li>" in html


@pytest.fixture
def hostile_world(db):
    experiment = make_experiment(
        experiment_id="66",
        name=HOSTILE_TEXT,
        mlflow_description=HOSTILE_MARKDOWN,
        tags={HOSTILE_TEXT: HOSTILE_TEXT},
    )
    run = make_run(
        experiment=experiment,
        name=HOSTILE_TEXT,
        params={HOSTILE_TEXT: "javascript:alert(1)"},
        metrics={"accuracy": 0.99},
        tags={"note": HOSTILE_TEXT},
        description=HOSTILE_MARKDOWN,
    )
    model = make_registered_model(
        name="hostile_model",
        experiment=experiment,
        latest_version=1,
        mlflow_description=HOSTILE_MARKDOWN,
        tags={"owner": HOSTILE_TEXT, HOSTILE_TEXT: "x"},
        aliases={"prod<script>": 1},
    )
    make_model_version(registered_model=model, run=run, version=1, aliases=["prod<script>"])
    return {"experiment": experiment, "run": run, "model": model}


def test_pages_escape_hostile_metadata(hostile_world, reader_client):
    run = hostile_world["run"]
    urls = [
        reverse("catalog:home"),
        reverse("catalog:experiment_list"),
        reverse("catalog:experiment_detail", args=["66"]),
        reverse("catalog:run_detail", args=[run.run_id]),
        reverse("catalog:model_list"),
        reverse("catalog:model_detail", args=["hostile_model"]),
        reverse("catalog:model_version_detail", args=["hostile_model", 1]),
        reverse("catalog:category_list"),
        reverse("catalog:metrics"),
        reverse("catalog:audit") + "?section=gone",
        reverse("catalog:search") + "?q=script",
        reverse("catalog:search") + "?q=" + HOSTILE_TEXT,
    ]
    for url in urls:
        response = reader_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        _assert_inert(html)
        assert "&lt;script&gt;" in html or "script" not in html.lower().split("</head>")[1], url


def test_security_headers(hostile_world, reader_client):
    response = reader_client.get(reverse("catalog:home"))
    assert response["X-Frame-Options"] == "DENY"
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    html = response.content.decode()
    assert "<script>" not in html and " style=" not in html  # nothing inline


def test_no_inline_script_or_style_on_any_page(hostile_world, reader_client):
    run = hostile_world["run"]
    for url in (
        reverse("catalog:experiment_detail", args=["66"]),
        reverse("catalog:run_detail", args=[run.run_id]),
        reverse("catalog:model_detail", args=["hostile_model"]),
        reverse("catalog:metrics"),
        reverse("catalog:audit"),
    ):
        html = reader_client.get(url).content.decode()
        tags = re.sub(r"&lt;[^<>]*?(&gt;|$)", "", html)  # escaped source text is no markup
        assert " style=" not in tags and " onclick=" not in tags, url
        assert html.count("<script") == 1, url  # only the static catalog.js


def test_csv_export_defuses_formulas(db, reader_client):
    make_registered_model(name='=HYPERLINK("http://evil")', tags={"k": "+1+1"})
    response = reader_client.get(reverse("catalog:model_list") + "?_export=csv")
    text = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK" in text
    assert "k='+1+1" not in text  # the cell starts with "k=", so it is left as it is
    assert response["Content-Disposition"] == 'attachment; filename="registered-models.csv"'


def test_chart_metric_names_are_bounded(hostile_world, reader_client):
    url = reverse("catalog:chart_experiment_runs", args=["66"])
    assert reader_client.get(url + "?metric=" + "x" * 300).status_code == 404
    response = reader_client.get(url + "?metric=" + HOSTILE_TEXT)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
