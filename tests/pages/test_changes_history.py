"""The entity pages' "History" panels: their own newest events, one query, and a link to
the timeline filtered to them that shows the same events."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.model_urls import model_url, model_version_url
from catalog.models import ChangeEvent
from catalog.selectors import HISTORY_EVENTS
from tests.factories import NOW, make_change_event, make_logged_model, make_sync_run

Kind = ChangeEvent.Kind
MODEL = "ai4i_classifier_randomforest_baseline"
OTHER_MODEL = "ai4i_classifier_svc_baseline"


@pytest.fixture
def history_world(seed_world):
    """Events of every entity page's kind, and events of their neighbours that must not
    show: another run, another model, another folder."""
    sync = make_sync_run(started_at=NOW + timedelta(hours=1))
    experiment = seed_world["experiments"]["4"]
    rf = seed_world["runs"]["randomforest_baseline"]
    model = seed_world["models"][MODEL]
    version = model.versions.get(version=1)
    logged = make_logged_model(experiment=experiment, name="lm-history")
    own = {
        "experiment": [make_change_event(entity=experiment, sync_run=sync)],
        "run": [
            make_change_event(entity=rf, sync_run=sync, changes={"metrics.rmse": [0.5, 0.4]}),
            make_change_event(entity=rf, sync_run=sync, kind=Kind.ARTIFACTS, summary="3 added"),
        ],
        "model": [
            make_change_event(
                entity=model,
                sync_run=sync,
                kind=Kind.ALIAS_MOVED,
                changes={"@production": [3, 4]},
            )
        ],
        "version": [
            make_change_event(entity=version, sync_run=sync, changes={"stage": ["None", "Staging"]})
        ],
        "logged": [make_change_event(entity=logged, sync_run=sync, kind=Kind.CREATED)],
    }
    others = [
        make_change_event(entity=seed_world["runs"]["svc_baseline"], sync_run=sync),
        make_change_event(entity=seed_world["models"][OTHER_MODEL], sync_run=sync),
        make_change_event(entity=seed_world["experiments"]["5"], sync_run=sync),
    ]
    return {**seed_world, "own": own, "others": others, "logged": logged, "version": version}


def _history_ids(html: str) -> list[int]:
    panel = html.split('<section class="history"', 1)[1].split("</section>", 1)[0]
    return [int(value) for value in re.findall(r'data-event="(\d+)"', panel)]


def _history_link(html: str) -> str:
    panel = html.split('<section class="history"', 1)[1]
    return re.search(r'class="history-link" href="([^"]+)"', panel).group(1).replace("&amp;", "&")


def _timeline_ids(client, url: str) -> list[int]:
    html = client.get(url).content.decode()
    return [int(value) for value in re.findall(r'data-event="(\d+)"', html)]


def _pages(world) -> dict[str, tuple[str, list]]:
    """page -> (URL, the events its panel must list, newest first)."""
    own = world["own"]
    run_events = [*own["run"]]
    experiment_events = [
        *own["experiment"],
        *own["run"],
        *own["model"],
        *own["version"],
        *own["logged"],
        world["others"][0],  # the svc run is in folder 4 too
        world["others"][1],  # and so is the svc model
    ]
    return {
        "experiment": (
            reverse("catalog:experiment_detail", args=["4"]),
            experiment_events,
        ),
        "run": (
            reverse("catalog:run_detail", args=[world["runs"]["randomforest_baseline"].run_id]),
            run_events,
        ),
        # The model's page holds its versions' events too: the alias history shows.
        "model": (model_url(MODEL), [*own["model"], *own["version"]]),
        "version": (model_version_url(MODEL, 1), own["version"]),
        "logged": (
            reverse("catalog:logged_model_detail", args=[world["logged"].model_id]),
            own["logged"],
        ),
    }


@pytest.mark.parametrize("page", ["experiment", "run", "model", "version", "logged"])
def test_each_entity_page_shows_its_own_history_and_links_the_timeline(
    history_world, reader_client, page
):
    url, events = _pages(history_world)[page]
    html = reader_client.get(url).content.decode()
    assert '<h2 id="history-heading">History</h2>' in html
    expected = sorted((event.pk for event in events), reverse=True)
    assert _history_ids(html) == expected, page
    # The link opens the timeline filtered to this entity: the same events.
    link = _history_link(html)
    assert link.startswith(reverse("catalog:changes") + "?")
    assert _timeline_ids(reader_client, link) == expected, link


def test_the_model_panel_shows_the_alias_move_in_words(history_world, reader_client):
    html = reader_client.get(model_url(MODEL)).content.decode()
    panel = html.split('<section class="history"', 1)[1].split("</section>", 1)[0]
    assert '@production</span> <span class="change-old">v3</span>' in panel
    assert "Alias moved" in panel
    assert _history_link(html) == reverse("catalog:changes") + f"?model={MODEL}"


def test_a_panel_lists_the_newest_events_only(history_world, reader_client):
    rf = history_world["runs"]["randomforest_baseline"]
    for index in range(HISTORY_EVENTS + 5):
        make_change_event(
            entity=rf,
            sync_run=make_sync_run(started_at=NOW + timedelta(days=index + 1)),
            changes={"metrics.rmse": [index, index + 1]},
        )
    html = reader_client.get(reverse("catalog:run_detail", args=[rf.run_id])).content.decode()
    ids = _history_ids(html)
    newest = ChangeEvent.objects.filter(entity_type="run", object_pk=rf.pk).order_by("-pk")
    assert ids == list(newest.values_list("pk", flat=True)[:HISTORY_EVENTS])


def test_an_entity_without_events_says_so(seed_world, reader_client):
    html = reader_client.get(model_url(OTHER_MODEL)).content.decode()
    assert "No changes recorded for it yet." in html


@pytest.mark.parametrize("page", ["experiment", "run", "model", "version", "logged"])
def test_each_panel_reads_the_events_in_one_query(history_world, reader_client, page):
    url, _ = _pages(history_world)[page]
    with CaptureQueriesContext(connection) as queries:
        assert reader_client.get(url).status_code == 200
    reads = [query["sql"] for query in queries if "catalog_changeevent" in query["sql"]]
    assert len(reads) == 1, reads
