"""The `breakable` filter: escaped text with <wbr> after separators, nothing else."""

from __future__ import annotations

from django.template import Context, Template
from django.utils.safestring import mark_safe

from catalog.templatetags.catalog_tags import breakable


def test_breaks_after_each_separator():
    assert breakable("s3://b/4/run_a.b-c=d") == (
        "s3:/<wbr>/<wbr>b/<wbr>4/<wbr>run_<wbr>a.<wbr>b-<wbr>c=<wbr>d"
    )


def test_hostile_text_stays_escaped_even_when_marked_safe():
    hostile = "<img src=x onerror=alert(1)>/a&b\"c'"
    expected = "&lt;img src=<wbr>x onerror=<wbr>alert(1)&gt;/<wbr>a&amp;b&quot;c&#x27;"
    assert breakable(hostile) == expected
    assert breakable(mark_safe(hostile)) == expected


def test_in_a_template_and_with_none():
    html = Template("{% load catalog_tags %}<h1>{{ name|breakable }}</h1>").render(
        Context({"name": "mlflow.note.content"})
    )
    assert html == "<h1>mlflow.<wbr>note.<wbr>content</h1>"
    assert breakable(None) == ""
