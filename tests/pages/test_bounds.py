"""Bounds of the pages: no stored value or query parameter makes a page slow, huge or a 500.

Times are not asserted here (docs/pages.md "Bounds" has the measured ones): what is
asserted is which path a hostile input takes and how big its output is.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import caches
from django.urls import reverse

from catalog import markdown, pagecache
from catalog.bounded_cache import BytesBoundedLocMemCache
from catalog.views.paging import MAX_PER_PAGE, clamp_per_page, page_number, parse_int
from tests.factories import make_experiment, make_model_version, make_registered_model, make_run

# Hostile sources at MLflow's largest lengths: an experiment note is an experiment tag
# (MAX_EXPERIMENT_TAG_VAL_LENGTH, 20,000), model registry text up to 100,000.
HOSTILE_SOURCES = {
    "brackets": "[" * 100_000,
    "images": "![" * 50_000,
    "links": "[a](" * 25_000,
    "stars": "*a" * 50_000,
    "underscores": "_" * 100_000,
    "backticks": "`" * 100_000,
    "angles": "<" * 100_000,
    "autolinks": "<http://a.b/>" * 7_000,
    "quotes": ">" * 100_000,
    "nested quotes and lists": "> - " * 25_000,
    "list indentation": "".join("  " * (i % 60) + "- x\n" for i in range(8_000)),
    "link references": "".join(f"[r{i}]: /x{i}\n" for i in range(8_000)) + "[r1] " * 1_000,
    "table rows": "|a|b|\n|-|-|\n" + "|1|2|\n" * 16_000,
}
ROW = re.compile(r"<tr[ >]")


@pytest.mark.parametrize("name", sorted(HOSTILE_SOURCES))
def test_hostile_markdown_is_shown_as_plain_text_of_bounded_size(name):
    source = HOSTILE_SOURCES[name][: markdown.MAX_SOURCE_CHARS]
    assert not markdown.is_formattable(source)
    html = markdown.render_markdown(source)
    assert html.startswith(markdown.PLAIN_TEXT_NOTE)
    # Escaping at most quintuples a character ("<" is "&lt;", a line break "<br>").
    assert len(html) <= 5 * len(source) + len(markdown.PLAIN_TEXT_NOTE) + 10
    assert "<a " not in html and "<script" not in html


def test_plain_text_keeps_paragraphs_and_escapes():
    html = markdown.plain_text_html("a <b>\nc\n\n\nd & e")
    assert html.endswith("<p>a &lt;b&gt;<br>c</p><p>d &amp; e</p>")


def test_ordinary_markdown_under_the_budget_is_formatted():
    source = ("Some **bold** text with [a link](https://example.com/) and `code`.\n\n" * 200) + (
        "| a | b |\n|---|---|\n" + "| 1 | 2 |\n" * 50 + "\n```\nx = 1\n```\n"
    )
    assert markdown.is_formattable(source)
    html = markdown.render_markdown(source)
    assert html.count("<strong>bold</strong>") == 200
    assert len(ROW.findall(html)) == 51
    assert "<pre><code>x = 1" in html


def test_a_source_past_the_budget_by_one_cost_unit_is_plain_text():
    brackets = markdown.MAX_MARKUP_COST_US // markdown.MARKUP_COST_US["["]
    assert markdown.is_formattable("[" * brackets)
    assert not markdown.is_formattable("[" * (brackets + 1))


def test_render_is_cached_by_source_digest(monkeypatch):
    calls = []
    real = markdown._render_uncached
    monkeypatch.setattr(markdown, "_render_uncached", lambda s: calls.append(s) or real(s))
    for _ in range(3):
        assert markdown.render_markdown("**x**") == "<p><strong>x</strong></p>\n"
    assert calls == ["**x**"]


def test_pages_with_hostile_descriptions_answer(reader_client, db):
    note = "[" * 20_000
    experiment = make_experiment(experiment_id="900", mlflow_description=note)
    run = make_run(experiment=experiment, description="![" * 50_000)
    model = make_registered_model(name="m900", mlflow_description="[a](" * 25_000)
    make_model_version(registered_model=model, run=run, version=1, mlflow_description="<" * 10**5)
    urls = [
        experiment.get_absolute_url(),
        run.get_absolute_url(),
        model.get_absolute_url(),
        reverse("catalog:model_version_detail", args=["m900", 1]),
    ]
    for url in urls:
        response = reader_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "Shown as plain text" in html, url
        assert len(html) < 700_000, url


# --- paging and query parameters ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, 50),
        ("", 50),
        ("abc", 50),
        ("1.5", 50),
        ("٣", 50),  # a non-ASCII digit
        ("-1", 1),
        ("0", 1),
        ("7", 7),
        ("500", 500),
        ("1000000", MAX_PER_PAGE),
        ("9" * 5000, MAX_PER_PAGE),
    ],
)
def test_clamp_per_page(raw, expected):
    assert clamp_per_page(raw, default=50) == expected


def test_page_number_and_parse_int():
    assert [page_number(raw) for raw in (None, "x", "-3", "0", "2", " 4 ")] == [1, 1, 1, 1, 2, 4]
    assert parse_int("9" * 5000) == 10**9 and parse_int("-" + "9" * 50) == -(10**9)
    assert parse_int("+") is None and parse_int("0x10") is None


@pytest.fixture
def many_runs(db):
    experiment = make_experiment(experiment_id="77")
    for index in range(12):
        make_run(experiment=experiment, name=f"run-{index:02d}")
    return experiment


def _row_count(response) -> int:
    body = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return len(ROW.findall(body))


@pytest.mark.parametrize(
    ("query", "rows"),
    [
        ("per_page=-1", 1),
        ("per_page=0", 1),
        ("per_page=abc", 12),
        ("per_page=1000000", 12),
        ("per_page=500", 12),
        ("per_page=5", 5),
        ("per_page=5&page=-2", 5),
        ("per_page=5&page=abc", 5),
        ("per_page=5&page=99999999999999999999999", 2),  # the last page
        ("sort=nonsense&sort=-name", 12),
        ("q=%00run-0", 10),  # NUL dropped (PostgreSQL cannot compare it)
        ("status=NOPE", 0),  # an invalid filter form: no rows, no error
        ("q=" + "x" * 5000, 0),
    ],
)
def test_table_page_parameters_are_clamped(many_runs, reader_client, query, rows):
    response = reader_client.get(many_runs.get_absolute_url() + "?" + query)
    assert response.status_code == 200
    if rows:
        assert _row_count(response) == rows


@pytest.mark.parametrize("name", ["home", "experiment_list", "model_list", "metrics", "audit"])
def test_every_table_page_survives_bad_paging(many_runs, reader_client, name):
    for query in ("per_page=-1", "per_page=abc", "per_page=1000000", "page=-5", "page=x"):
        response = reader_client.get(reverse(f"catalog:{name}") + "?" + query)
        assert response.status_code == 200, query


@pytest.mark.parametrize("threshold", ["nan", "inf", "-inf", "1e999", "x" * 500, "90%%"])
def test_metrics_threshold_junk(seed_world, reader_client, threshold):
    url = reverse("catalog:metrics") + "?metric=accuracy&threshold=" + threshold
    assert reader_client.get(url).status_code == 200
    chart = reverse("catalog:chart_leaderboard") + "?metric=accuracy&threshold=" + threshold
    assert reader_client.get(chart).status_code == 200


# --- the page cache's key and bytes --------------------------------------------------------


@pytest.fixture
def page_cache_on(settings):
    settings.CATALOG_PAGE_CACHE_SECONDS = 300


def _without_csrf(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def _entries() -> int:
    return len(caches[pagecache.CACHE_ALIAS]._cache)


def test_junk_parameters_share_one_cache_entry(many_runs, reader_client, page_cache_on):
    url = many_runs.get_absolute_url()
    first = reader_client.get(url + "?per_page=5")
    assert first["X-Page-Cache"] == "miss"
    for junk in ("&x=1", "&utm_source=mail&utm_campaign=a", "&page=1", "&per_page=05"):
        response = reader_client.get(url + "?per_page=5" + junk)
        assert response["X-Page-Cache"] == "hit", junk
        assert _without_csrf(response) == _without_csrf(first)
    assert _entries() == 1
    # Links on the page do not carry the junk either.
    assert "utm_source" not in reader_client.get(url + "?utm_source=x&per_page=5").content.decode()


def test_parameters_a_view_reads_make_their_own_entries(many_runs, reader_client, page_cache_on):
    url = many_runs.get_absolute_url()
    reader_client.get(url + "?per_page=5")
    reader_client.get(url + "?per_page=5&page=2")
    reader_client.get(url + "?per_page=5&q=run-0")
    reader_client.get(url + "?per_page=5000")  # clamped: one entry with per_page=500
    reader_client.get(url + "?per_page=500")
    assert _entries() == 4


def test_view_query_params_are_derived():
    from catalog.urls import urlpatterns

    views = {pattern.name: pattern.callback for pattern in urlpatterns}
    params = pagecache.view_query_params
    assert params(views["experiment_detail"]) == {
        "q",
        "status",
        "tag",
        "page",
        "per_page",
        "sort",
        "metric",
    }
    assert params(views["metrics"]) == {
        "page",
        "per_page",
        "sort",
        "metric",
        "threshold",
        "category",
    }
    assert params(views["search"]) == {"q"}
    assert params(views["run_detail"]) == set()
    assert params(views["mapping_export"]) == set()
    assert params(views["run_artifacts"]) == {"page"}


def test_a_page_over_the_page_limit_is_not_cached(many_runs, reader_client, settings):
    settings.CATALOG_PAGE_CACHE_SECONDS = 300
    settings.CATALOG_PAGE_CACHE_MAX_PAGE_BYTES = 1_000
    response = reader_client.get(many_runs.get_absolute_url())
    assert response.status_code == 200 and "X-Page-Cache" not in response
    assert _entries() == 0


def _bounded_cache(**options) -> BytesBoundedLocMemCache:
    return BytesBoundedLocMemCache(
        f"test-{len(options)}-{id(options)}", {"OPTIONS": {"MAX_ENTRIES": 10_000, **options}}
    )


def test_byte_bound_evicts_least_recently_used():
    cache = _bounded_cache(MAX_BYTES=101_000, MAX_ENTRY_BYTES=30_000)
    page = b"x" * 20_000  # ~20,030 bytes pickled: five fit
    for index in range(5):
        cache.set(f"page-{index}", page)
    assert cache.get("page-0") is not None  # page-0 is now the most recently used
    cache.set("page-5", page)
    assert cache.get("page-1") is None and cache.get("page-0") is not None
    for index in range(6, 40):
        cache.set(f"page-{index}", page)
        assert cache.total_bytes <= 101_000
    assert cache.total_bytes > 80_000
    kept = [index for index in range(40) if cache.get(f"page-{index}") is not None]
    assert kept == [35, 36, 37, 38, 39]


def test_byte_bound_refuses_an_entry_over_its_limit():
    cache = _bounded_cache(MAX_BYTES=100_000, MAX_ENTRY_BYTES=30_000)
    cache.set("small", b"x" * 1_000)
    cache.set("big", b"x" * 40_000)
    assert cache.get("big") is None and cache.get("small") is not None
    cache.set("small", b"y" * 40_000)  # a too-big new value drops the old one
    assert cache.get("small") is None
    assert cache.total_bytes == 0


def test_byte_count_follows_deletes_and_clear():
    cache = _bounded_cache(MAX_BYTES=100_000)
    cache.set("a", b"x" * 10_000)
    cache.set("a", b"x" * 20_000)
    cache.set("b", b"x" * 10_000)
    before = cache.total_bytes
    assert 30_000 < before < 30_200
    cache.delete("a")
    assert cache.total_bytes < 10_200
    cache.clear()
    assert cache.total_bytes == 0


def test_pages_alias_is_byte_bounded(settings):
    cache = caches[pagecache.CACHE_ALIAS]
    assert isinstance(cache, BytesBoundedLocMemCache)
    assert cache.max_bytes == settings.CATALOG_PAGE_CACHE_MAX_BYTES
