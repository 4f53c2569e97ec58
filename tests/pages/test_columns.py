"""The shared column classes (catalog.tables.columns): each cell's HTML and CSV value."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import django_tables2 as tables
import pytest

from catalog import tables as catalog_tables
from catalog.tables import columns
from tests.factories import make_model_version

HOSTILE = '<script>alert("x")</script>'
GONE = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def cell(column: tables.Column, record) -> tuple[str, object]:
    """(the page's HTML, the export's value) of ``column`` on one row ``record``."""
    table_class = type("OneColumnTable", (tables.Table,), {"cell": column})
    row = table_class([record]).rows[0]
    return str(row.get_cell("cell")), row.get_cell_value("cell")


def test_bytes_are_readable_on_the_page_and_exact_in_the_export():
    assert cell(columns.BytesColumn(accessor="size"), {"size": 1536}) == ("1.5\xa0KB", 1536)


def test_a_version_is_v_and_its_number():
    assert cell(columns.VersionColumn(accessor="version"), {"version": 3}) == ("v3", 3)


def test_code_is_escaped_and_transformed_alike_in_both():
    column = columns.CodeColumn(accessor="text", text=str.upper)
    html, value = cell(column, {"text": HOSTILE})
    assert html == "<code>&lt;SCRIPT&gt;ALERT(&quot;X&quot;)&lt;/SCRIPT&gt;</code>"
    assert value == HOSTILE.upper()
    assert cell(columns.CodeColumn(accessor="text"), {"text": "a b"}) == ("<code>a b</code>", "a b")


@pytest.mark.parametrize(
    ("present", "word", "kind"),
    [(True, "present", "ok"), (False, "missing", "missing"), (None, "unknown", "unknown")],
)
def test_presence_is_a_badge_and_a_word(present, word, kind):
    html, value = cell(columns.PresenceColumn(accessor="present"), {"present": present})
    assert html == f'<span class="badge badge-{kind}">{word}</span>'
    assert value == word


def test_missing_since_is_a_dated_badge_or_present():
    column = columns.MissingSinceColumn(accessor="missing_since")
    assert cell(column, {"missing_since": GONE}) == (
        '<span class="badge badge-missing">gone since 2026-11-20</span>',
        "2026-11-20T08:30:00+00:00",
    )
    assert cell(column, {"missing_since": None}) == (
        '<span class="badge badge-ok">present</span>',
        "present",
    )


def test_status_badges_stay_html_when_joined_and_the_export_is_the_status_alone():
    record = SimpleNamespace(status="FAILED", lifecycle_stage="deleted", missing_since=GONE)
    html, value = cell(columns.StatusColumn(accessor="status", lifecycle=True), record)
    assert html == (
        '<span class="badge badge-failed">FAILED</span> '
        '<span class="badge badge-deleted">deleted</span> '
        '<span class="badge badge-missing">gone</span>'
    )
    assert value == "FAILED"
    # Without lifecycle (a model version has none): the status and "gone", as HTML.
    html, _ = cell(columns.StatusColumn(accessor="status"), record)
    assert html == (
        '<span class="badge badge-failed">FAILED</span> '
        '<span class="badge badge-missing">gone</span>'
    )
    hostile = SimpleNamespace(status=HOSTILE, missing_since=None)
    html, value = cell(columns.StatusColumn(accessor="status"), hostile)
    assert "<script>" not in html and value == HOSTILE


@pytest.mark.django_db
def test_a_gone_model_versions_status_shows_its_badges_not_their_markup():
    version = make_model_version(missing_since=GONE)
    table = catalog_tables.ModelVersionTable(type(version).objects.filter(pk=version.pk))
    html = str(next(iter(table.rows)).get_cell("status"))
    assert html.count('<span class="badge') == 2
    assert "&lt;span" not in html


def test_a_category_is_its_label_on_the_page_and_its_code_in_the_export():
    model = SimpleNamespace(
        category="forecasting",
        effective_category="forecasting",
        get_effective_category_display=lambda: "Forecasting",
    )
    assert cell(columns.CategoryColumn(accessor="category"), model) == (
        "Forecasting",
        "forecasting",
    )
    version = SimpleNamespace(registered_model=model)
    column = columns.CategoryColumn(accessor="registered_model__category", model="registered_model")
    assert cell(column, version) == ("Forecasting", "forecasting")


def test_metrics_show_the_key_ones_and_export_every_one():
    metrics = {"zeta": 1, "accuracy": 0.981234, "rmse": None, "f1": 0.5, "auc": 0.7}
    html, value = cell(columns.MetricsColumn(accessor="metrics"), {"metrics": metrics})
    assert html.count('class="metric"') == 4
    assert '<span class="metric">accuracy <b>0.9812</b></span>' in html
    assert value == "accuracy=0.981234; auc=0.7; f1=0.5; rmse=; zeta=1"
    # A row without metrics (a version with no run): empty cells, not a placeholder.
    assert cell(columns.MetricsColumn(accessor="run__metrics"), {"run": None}) == ("", "")


def test_pairs_are_cut_on_the_page_and_whole_in_the_export():
    tags = {f"k{i}": f"v{i}" for i in range(6)} | {"hostile": HOSTILE}
    html, value = cell(columns.PairsColumn(accessor="tags", limit=2), {"tags": tags})
    assert html == (
        '<span class="tag">hostile=&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</span> '
        '<span class="tag">k0=v0</span> <span class="muted">+5</span>'
    )
    assert value == f"hostile={HOSTILE}; k0=v0; k1=v1; k2=v2; k3=v3; k4=v4; k5=v5"


def test_aliases_of_a_model_and_of_a_version():
    column = columns.AliasVersionsColumn(accessor="aliases")
    html, value = cell(column, {"aliases": {"prod": 2, "<b>": 1}})
    assert html == (
        '<span class="alias">@&lt;b&gt;&nbsp;→&nbsp;v1</span> '
        '<span class="alias">@prod&nbsp;→&nbsp;v2</span>'
    )
    assert value == "<b>=1; prod=2"
    assert cell(column, {"aliases": {}}) == ("", "")
    column = columns.AliasesColumn(accessor="aliases")
    assert cell(column, {"aliases": ["champion", "<i>"]}) == (
        '<span class="alias">@champion</span> <span class="alias">@&lt;i&gt;</span>',
        "champion; <i>",
    )
    assert cell(column, {"aliases": None}) == ("", "")


def _column_classes_rendering_html() -> list[type]:
    classes = {
        type(column.column)
        for name in catalog_tables.__all__
        if name.endswith("Table")
        for column in getattr(catalog_tables, name)([]).columns.iterall()
    }
    return sorted(
        (cls for cls in classes if cls.render is not tables.Column.render),
        key=lambda cls: cls.__name__,
    )


@pytest.mark.parametrize("column_class", _column_classes_rendering_html(), ids=lambda c: c.__name__)
def test_every_column_class_that_renders_html_has_a_plain_value(column_class):
    assert column_class.value is not tables.Column.value, column_class.__name__
