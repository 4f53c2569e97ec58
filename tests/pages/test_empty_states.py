"""Empty tables say what is empty, in words that fit the table."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from catalog import tables
from tests.factories import make_experiment, make_run

pytestmark = pytest.mark.django_db


def _empty_row(html: str) -> str | None:
    """The text of a table's single full-width row, if the table is empty."""
    match = re.search(r"<tbody>\s*<tr><td colspan=\"\d+\">([^<]*)</td></tr>\s*</tbody>", html)
    return match.group(1) if match else None


def test_every_table_has_its_own_empty_text():
    table_classes = [
        value
        for value in vars(tables).values()
        if isinstance(value, type)
        and issubclass(value, tables.CatalogTable)
        and value is not tables.CatalogTable
    ]
    assert len(table_classes) >= 10
    texts = {cls.__name__: cls._meta.empty_text for cls in table_classes}
    assert all(texts.values()), texts
    assert len(set(texts.values())) == len(texts), "each table says its own words"


def test_an_experiment_with_no_runs_says_so(reader_client):
    make_experiment(experiment_id="40")
    html = reader_client.get(reverse("catalog:experiment_detail", args=["40"])).content.decode()
    assert _empty_row(html) == "No runs in this experiment."


def test_filters_that_hide_every_run_say_that_instead(reader_client):
    experiment = make_experiment(experiment_id="41")
    make_run(experiment=experiment, name="kept")
    url = reverse("catalog:experiment_detail", args=["41"])
    html = reader_client.get(url + "?q=nothing-matches-this").content.decode()
    assert _empty_row(html) == "No runs in this experiment match these filters."
    # Unfiltered, the runs table shows its run (the history panel below may be empty).
    assert "No runs in this experiment" not in reader_client.get(url).content.decode()


def test_empty_lists_say_what_is_missing(reader_client):
    pages = {
        reverse("catalog:home"): "No experiments in the catalogue yet.",
        reverse("catalog:experiment_list"): "No experiments found.",
        reverse("catalog:model_list"): "No registered models found.",
        reverse("catalog:audit") + "?section=orphans": (
            "No orphan folders: every folder belongs to an experiment."
        ),
        reverse("catalog:audit") + "?section=empty-runs": "No runs in this list: nothing to fix.",
    }
    for url, text in pages.items():
        assert _empty_row(reader_client.get(url).content.decode()) == text, url
