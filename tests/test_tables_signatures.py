"""django-tables2's signature look-ups, remembered (catalog.tables_signatures)."""

from __future__ import annotations

import functools
import gc
import weakref

import django_tables2 as tables
from django.test import RequestFactory
from django_tables2 import utils

from catalog.tables_signatures import remember_signatures


class ValueOnly(tables.Table):
    name = tables.Column()

    def render_name(self, value):
        return f"v:{value}"


class RecordAndValue(tables.Table):
    name = tables.Column()

    def render_name(self, record, value):
        return f"r:{record['id']}:{value}"


def cells(table_class) -> list[str]:
    table = table_class([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    return [row.get_cell("name") for row in table.rows]


def test_the_app_wraps_django_tables2s_signature_once():
    assert getattr(utils.signature, "remembers", False)
    wrapped = utils.signature
    assert remember_signatures()
    assert utils.signature is wrapped


def test_each_render_method_gets_the_arguments_it_asks_for_every_time():
    # Same method name, different parameters: remembered per function, not per name.
    for _ in range(3):
        assert cells(ValueOnly) == ["v:a", "v:b"]
        assert cells(RecordAndValue) == ["r:1:a", "r:2:b"]


def test_callables_that_are_not_functions_are_looked_up_as_before():
    def render(value, suffix):
        return f"{value}{suffix}"

    assert utils.signature(functools.partial(render, suffix="!")) == (("value", "suffix"), None)
    assert utils.signature(lambda value, **kwargs: value) == (("value",), "kwargs")

    class Slotted:
        """A callable that can be neither weakly referenced nor cached by the wrapper."""

        __slots__ = ()

        def __call__(self, record):
            return record

    assert utils.signature(Slotted()) == (("record",), None)


def test_a_closure_is_not_kept_alive_by_the_cache():
    def make():
        def render(value):
            return value

        return render

    render = make()
    utils.signature(render)
    reference = weakref.ref(render)
    del render
    gc.collect()
    assert reference() is None


def test_a_table_renders_with_the_remembered_signatures():
    request = RequestFactory().get("/")
    html = RecordAndValue([{"id": 7, "name": "x"}]).as_html(request)
    assert "r:7:x" in html
