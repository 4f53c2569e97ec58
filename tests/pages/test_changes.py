"""The change timeline (/changes/): grouping by sync, filters, key paging, links, words, CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from catalog.model_urls import model_url, model_version_url
from catalog.models import ChangeEvent, FeedToken
from tests.factories import (
    BUCKET,
    NOW,
    make_change_event,
    make_logged_model,
    make_sync_run,
)

Kind, Entity = ChangeEvent.Kind, ChangeEvent.Entity
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
LONG_DESCRIPTION = "A description " + "y" * 500
ORPHAN_KEY = f"s3://{BUCKET}/1/deadbeefdeadbeefdeadbeefdeadbeef/"
MODEL = "ai4i_classifier_randomforest_baseline"


@pytest.fixture
def change_world(seed_world):
    """Three syncs' events about the seed's rows, oldest first.

    Sync 1: the initial import. Sync 2: a metric, an alias move, a version's artifacts
    gone, a new orphan folder, an experiment's description. Sync 3 (the seed's own sync,
    the newest): a run gone from MLflow, a logged model created, a run whose row is gone
    since, a hostile name and a formula-like summary.
    """
    first = make_sync_run(started_at=NOW - timedelta(days=2))
    second = make_sync_run(started_at=NOW - timedelta(days=1))
    third = seed_world["sync"]
    rf = seed_world["runs"]["randomforest_baseline"]
    model = seed_world["models"][MODEL]
    version = model.versions.get(version=1)
    svc = seed_world["runs"]["svc_baseline"]
    logged = make_logged_model(experiment=seed_world["experiments"]["4"], name="lm-one")
    events = {
        "import": make_change_event(
            sync_run=first,
            kind=Kind.INITIAL_IMPORT,
            entity_type=Entity.CATALOGUE,
            entity_key="catalogue",
            entity_name="catalogue",
            summary="initial import: 7 experiments, 17 runs",
            changes={"experiments": 7, "runs": 17},
        ),
        "metric": make_change_event(
            entity=rf,
            sync_run=second,
            changes={"metrics.rmse": [0.412345678, 0.38], "status": ["RUNNING", "FINISHED"]},
        ),
        "alias": make_change_event(
            entity=model,
            sync_run=second,
            kind=Kind.ALIAS_MOVED,
            changes={"@production": [3, 4]},
            summary="@production moved from v3 to v4",
        ),
        "version": make_change_event(
            entity=version, sync_run=second, changes={"artifacts_present": [True, False]}
        ),
        "orphans": make_change_event(
            sync_run=second,
            kind=Kind.ORPHANS,
            entity_type=Entity.ORPHAN_FOLDER,
            entity_key=ORPHAN_KEY,
            entity_name="1/deadbeefdeadbeefdeadbeefdeadbeef/",
            changes={"objects": 1, "bytes": 4096},
        ),
        "description": make_change_event(
            entity=seed_world["experiments"]["4"],
            sync_run=second,
            changes={"mlflow_description": ["old", LONG_DESCRIPTION]},
        ),
        "missing": make_change_event(entity=svc, sync_run=third, kind=Kind.MISSING),
        "logged": make_change_event(entity=logged, sync_run=third, kind=Kind.CREATED),
        "gone_row": make_change_event(
            sync_run=third,
            kind=Kind.UPDATED,
            entity_type=Entity.RUN,
            entity_key="0" * 32,
            entity_name="vanished_run",
            object_pk=987654,
            experiment=seed_world["experiments"]["4"],
            changes={"name": ["a", "b"]},
        ),
        "hostile": make_change_event(
            entity=rf,
            sync_run=third,
            entity_name=HOSTILE,
            summary='=HYPERLINK("http://evil.example")',
            changes={"tags": [{"k": HOSTILE}, {}]},
        ),
    }
    return {**seed_world, "syncs": (first, second, third), "events": events, "logged": logged}


def _html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def _event_ids(html: str) -> list[int]:
    """The events a timeline page shows, in page order (their rows carry the entity link
    or name; the test events are told apart by their ids in the CSV instead)."""
    return [int(value) for value in re.findall(r'data-event="(\d+)"', html)]


def _timeline(client, query: str = "") -> str:
    return _html(client.get(reverse("catalog:changes") + query))


def _csv(client, query: str = "") -> list[dict[str, str]]:
    separator = "&" if query else "?"
    response = client.get(reverse("catalog:changes") + query + f"{separator}_export=csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="changes.csv"'
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _ids(rows) -> list[int]:
    return [int(row["ID"]) for row in rows]


def _pk(world, *names) -> list[int]:
    return [world["events"][name].pk for name in names]


def test_timeline_is_linked_from_the_navigation_and_needs_a_login(change_world, client, user):
    url = reverse("catalog:changes")
    assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(user)
    home = _html(client.get(reverse("catalog:home")))
    assert f'href="{url}"' in home
    assert 'aria-current="page">Changes</a>' in _html(client.get(url))


def test_events_are_grouped_by_sync_newest_first(change_world, reader_client, staff_user):
    html = _timeline(reader_client)
    first, second, third = change_world["syncs"]
    headings = re.findall(r'<h2 class="sync-heading">Sync (\d+): ([\d-]+ [\d:]+) UTC', html)
    assert headings == [
        (str(third.pk), "2026-11-01 12:00"),
        (str(second.pk), "2026-10-31 12:00"),
        (str(first.pk), "2026-10-30 12:00"),
    ]
    assert re.findall(r'class="muted sync-count">(\d+) events?', html) == ["4", "5", "1"]
    assert _event_ids(html) == sorted(
        (event.pk for event in change_world["events"].values()), reverse=True
    )
    assert "badge-ok" in html and "OK" in html
    # The admin record is for staff (readers could not open it); the page cache keys both.
    assert f"/admin/catalog/syncrun/{third.pk}/change/" not in html
    staff = Client()
    staff.force_login(staff_user)
    staff_html = _timeline(staff)
    assert f'href="/admin/catalog/syncrun/{third.pk}/change/"' in staff_html
    assert f'href="?sync={third.pk}"' in html


def test_each_syncs_count_is_its_matching_events_on_every_page(change_world, reader_client):
    """A group's count is all its sync's events that match, wherever they are: a sync cut
    by the page's edge, and a sync whose events are not one run of keys."""
    first, second, third = change_world["syncs"]
    rf = change_world["runs"]["randomforest_baseline"]
    for sync in (second, third, second):  # interleaved: second's events on both sides
        for _ in range(3):
            make_change_event(entity=rf, sync_run=sync, kind=Kind.MISSING)
    html = _timeline(reader_client, "?kind=missing&per_page=2")
    assert re.findall(r'class="muted sync-count">(\d+) events?', html) == ["6"]
    older = _older_link(html)
    html = _timeline(reader_client, older)
    assert re.findall(r'class="muted sync-count">(\d+) events?', html) == ["6", "4"]


def test_a_syncs_count_stops_at_the_cap(change_world, reader_client, monkeypatch):
    from catalog import selectors

    monkeypatch.setattr(selectors.changes, "CAPPED_COUNT", 3)
    html = _timeline(reader_client)
    assert re.findall(r'class="muted sync-count">([\d,+]+) events?', html) == ["3+", "3+", "1"]


def test_an_event_whose_sync_record_is_gone_keeps_its_date(change_world, reader_client):
    first = change_world["syncs"][0]
    first.delete()
    html = _timeline(reader_client)
    assert '2026-10-30 12:00 UTC <span class="muted">(its sync\'s record is gone)</span>' in html
    assert change_world["events"]["import"].pk in _event_ids(html)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?entity=run", ("gone_row", "hostile", "missing", "metric")),
        ("?kind=alias_moved", ("alias",)),
        ("?kind=missing", ("missing",)),
        (
            "?experiment=4",
            (
                "gone_row",
                "hostile",
                "logged",
                "missing",
                "description",
                "alias",
                "version",
                "metric",
            ),
        ),
        (f"?model={MODEL}", ("version", "alias")),
        (f"?model={MODEL}&version=1", ("version",)),
        ("?entity=run&kind=updated", ("gone_row", "hostile", "metric")),
        ("?since=2026-10-31", ()),  # set in the test: every event of syncs 2 and 3
        ("?until=2026-10-30", ("import",)),
        ("?since=2026-10-31&until=2026-10-31", ()),
        ("?since=2026-10-31T13:00:00Z", ()),
    ],
)
def test_each_filter_narrows_the_timeline_and_its_export(
    change_world, reader_client, query, expected
):
    events = change_world["events"]
    first, second, third = change_world["syncs"]
    if query == "?since=2026-10-31":
        expected = [name for name, event in events.items() if event.sync_run != first]
    elif query == "?since=2026-10-31&until=2026-10-31":
        expected = [name for name, event in events.items() if event.sync_run == second]
    elif query.startswith("?since=2026-10-31T13"):
        expected = [name for name, event in events.items() if event.sync_run == third]
    wanted = sorted(_pk(change_world, *expected), reverse=True)
    html = _timeline(reader_client, query)
    assert _event_ids(html) == wanted, query
    assert "ignored" not in html
    assert _ids(_csv(reader_client, query)) == wanted, query


@pytest.mark.parametrize(
    "query",
    [
        "?since=2026-11-30",  # after the newest event
        "?until=2026-10-01",  # before the oldest
        "?since=2026-10-31T13:00:00Z&until=2026-10-30",  # an empty range
    ],
)
def test_a_date_range_holding_no_event_shows_none(change_world, reader_client, query):
    html = _timeline(reader_client, query)
    assert _event_ids(html) == []
    assert "ignored" not in html
    assert _ids(_csv(reader_client, query)) == []


def test_a_date_range_is_read_as_a_key_range(change_world, reader_client):
    """One read of the time index finds the range's first key; the page's own queries
    then read keys, never every event's date (with a million events, a filter on the
    date column beside the entity type walked the whole entity's index)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        html = _timeline(reader_client, "?since=2026-10-31&until=2026-10-31&entity=run")
    assert _event_ids(html) == _pk(change_world, "metric")
    dated = [q["sql"] for q in queries if "occurred_at" in q["sql"].split("FROM", 1)[-1]]
    assert len(dated) == 2, dated  # the two bounds' look-ups, each one indexed row
    assert all("LIMIT 1" in sql for sql in dated), dated


def test_sync_run_and_logged_model_filters(change_world, reader_client):
    third = change_world["syncs"][2]
    rf = change_world["runs"]["randomforest_baseline"]
    assert _event_ids(_timeline(reader_client, f"?sync={third.pk}")) == _pk(
        change_world, "hostile", "gone_row", "logged", "missing"
    )
    assert _event_ids(_timeline(reader_client, f"?run={rf.run_id}")) == _pk(
        change_world, "hostile", "metric"
    )
    logged = change_world["logged"]
    assert _event_ids(_timeline(reader_client, f"?logged_model={logged.model_id}")) == _pk(
        change_world, "logged"
    )
    assert _event_ids(_timeline(reader_client, "?model=no-such-model")) == []
    assert "No changes match these filters." in _timeline(reader_client, "?run=nope")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("?kind=exploded", "Kind “exploded” ignored"),
        ("?entity=planet", "Entity “planet” ignored"),
        ("?since=yesterday", "From “yesterday” ignored"),
        ("?since=2026-13-45", "From “2026-13-45” ignored"),
        ("?until=2026-02-30", "To (date) “2026-02-30” ignored"),
        ("?sync=abc", "Sync “abc” ignored"),
        ("?sync=-4", "Sync “-4” ignored"),
        ("?sync=99999999999999999999999", "ignored"),
        ("?version=x&model=" + MODEL, "Version “x” ignored"),
        ("?version=2", "Version ignored: a version number needs the model name too."),
    ],
)
def test_invalid_filter_values_are_named_and_ignored(change_world, reader_client, query, named):
    html = _timeline(reader_client, query)
    assert 'class="notice ignored-parameter"' in html
    assert named in html
    every = sorted((event.pk for event in change_world["events"].values()), reverse=True)
    if "model=" in query:
        assert _event_ids(html) == _pk(change_world, "version", "alias")
    else:
        assert _event_ids(html) == every, query


def test_an_ignored_value_is_escaped_and_cut(change_world, reader_client):
    html = _timeline(reader_client, "?kind=" + "<b>x</b>" * 30)
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "…” ignored" in html


def _older_link(html: str) -> str | None:
    match = re.search(r'class="button older" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_key_paging_walks_every_event_once_in_order(change_world, reader_client):
    every = sorted((event.pk for event in change_world["events"].values()), reverse=True)
    seen, query, pages = [], "?per_page=3", 0
    while query is not None:
        html = _timeline(reader_client, query)
        seen += _event_ids(html)
        pages += 1
        query = _older_link(html)
        if query is not None:
            assert parse_qs(urlsplit(query).query)["per_page"] == ["3"]
    assert seen == every
    assert pages == 4
    # The second page links newer (back to the first page's events) and the newest.
    second = _timeline(reader_client, f"?per_page=3&before={every[2]}")
    assert _event_ids(second) == every[3:6]
    assert 'class="button newest"' in second
    newer = re.search(r'class="button newer" href="([^"]+)"', second).group(1)
    assert _event_ids(_timeline(reader_client, newer.replace("&amp;", "&"))) == every[:3]
    # A group cut by the page boundary says so on the next page.
    assert ", continued" in _timeline(reader_client, f"?per_page=2&before={every[1]}")


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("?per_page=-1", 1),
        ("?per_page=0", 1),
        ("?per_page=abc", 10),
        ("?per_page=99999999", 10),
        ("?before=abc", 10),
        ("?before=-5", 10),
        ("?before=" + "9" * 40, 10),
        ("?after=0", 10),
        ("?after=" + "9" * 40, 0),
    ],
)
def test_paging_parameters_are_clamped(change_world, reader_client, query, shown):
    response = reader_client.get(reverse("catalog:changes") + query)
    assert response.status_code == 200, query
    assert len(_event_ids(response.content.decode())) == shown, query


def test_a_cursor_past_the_oldest_event_says_so(change_world, reader_client):
    oldest = min(event.pk for event in change_world["events"].values())
    html = _timeline(reader_client, f"?before={oldest}")
    assert _event_ids(html) == []
    assert "No older changes." in html
    assert 'class="button newest"' in html


def _row_of(html: str, event) -> str:
    start = html.index(f'data-event="{event.pk}"')
    return html[start : html.index("</tr>", start)]


def test_each_event_links_to_its_entity(change_world, reader_client):
    html = _timeline(reader_client)
    events = change_world["events"]
    rf = change_world["runs"]["randomforest_baseline"]
    expected = {
        "metric": reverse("catalog:run_detail", args=[rf.run_id]),
        "alias": model_url(MODEL),
        "version": model_version_url(MODEL, 1),
        "description": reverse("catalog:experiment_detail", args=["4"]),
        "logged": reverse("catalog:logged_model_detail", args=[change_world["logged"].model_id]),
        "orphans": reverse("catalog:orphan_objects")
        + f"?bucket={BUCKET}&amp;group=1%2Fdeadbeefdeadbeefdeadbeefdeadbeef%2F",
    }
    for name, url in expected.items():
        assert f'href="{url}"' in _row_of(html, events[name]), name
    # The catalogue has no page; a run whose row is gone keeps its name, unlinked.
    assert "<a " not in _row_of(html, events["import"])
    gone = _row_of(html, events["gone_row"])
    assert "vanished_<wbr>run" in gone and "(gone)" in gone and "<a " not in gone
    # The orphan folder's link opens its listing.
    orphan_url = expected["orphans"].replace("&amp;", "&")
    assert reader_client.get(orphan_url).status_code == 200


def test_changes_read_as_old_and_new_values_in_words(change_world, reader_client):
    html = _timeline(reader_client)
    events = change_world["events"]
    alias = _row_of(html, events["alias"])
    assert re.search(
        r"@production</span> <span class=\"change-old\">v3</span> → "
        r"<span class=\"change-new\">v4</span>",
        alias,
    )
    metric = _row_of(html, events["metric"])
    assert '>0.4123</span> → <span class="change-new">0.38<' in metric
    assert ">rmse<" in metric and "RUNNING" in metric
    version = _row_of(html, events["version"])
    assert '>yes</span> → <span class="change-new">no<' in version
    description = _row_of(html, events["description"])
    assert LONG_DESCRIPTION not in description and "…" in description
    assert "initial import: 7 experiments, 17 runs" in _row_of(html, events["import"])
    hostile = _row_of(html, events["hostile"])
    assert "<script>" not in html and "&lt;script&gt;" in hostile


def test_export_is_plain_and_complete(change_world, reader_client):
    rows = {int(row["ID"]): row for row in _csv(reader_client)}
    events = change_world["events"]
    assert set(rows) == {event.pk for event in events.values()}
    metric = rows[events["metric"].pk]
    assert metric["Occurred at"] == (NOW - timedelta(days=1)).isoformat()
    assert metric["Sync"] == str(change_world["syncs"][1].pk)
    assert metric["Kind"] == "updated" and metric["Entity type"] == "run"
    assert metric["Entity key"] == change_world["runs"]["randomforest_baseline"].run_id
    assert json.loads(metric["Changes"]) == {
        "metrics.rmse": [0.412345678, 0.38],
        "status": ["RUNNING", "FINISHED"],
    }
    assert json.loads(rows[events["description"].pk]["Changes"])["mlflow_description"][1] == (
        LONG_DESCRIPTION
    )
    hostile = rows[events["hostile"].pk]
    assert hostile["Entity name"] == HOSTILE
    assert hostile["Summary"] == "'" + '=HYPERLINK("http://evil.example")'
    assert rows[events["alias"].pk]["Link"] == model_url(MODEL)
    assert rows[events["import"].pk]["Link"] == ""
    assert rows[events["import"].pk]["Sync"] == str(change_world["syncs"][0].pk)


def test_timeline_queries_stay_bounded(change_world, reader_client, django_assert_max_num_queries):
    rf = change_world["runs"]["randomforest_baseline"]
    model = change_world["models"][MODEL]
    for index in range(12):
        sync = make_sync_run(started_at=NOW + timedelta(hours=index + 1))
        for _ in range(10):
            make_change_event(entity=rf, sync_run=sync, changes={"metrics.f1": [0.1, 0.2]})
        make_change_event(entity=model, sync_run=sync, kind=Kind.ALIAS_MOVED)
        make_change_event(entity=model.versions.get(version=1), sync_run=sync)
        make_change_event(entity=change_world["logged"], sync_run=sync)
    for query in ("", "?per_page=500", f"?model={MODEL}", "?kind=updated&entity=run&per_page=7"):
        # Session, user, version, events, syncs, counts, total, and each entity type's rows.
        with django_assert_max_num_queries(13):
            html = _timeline(reader_client, query)
        assert _event_ids(html), query
    with django_assert_max_num_queries(4):
        assert len(_csv(reader_client)) == len(change_world["events"]) + 12 * 13


def test_the_feed_link_opens_the_readers_feed_page_for_the_same_filter(change_world, reader_client):
    # Not the feed URL itself: this page is cached for every reader, a feed URL holds
    # one reader's key.
    html = _timeline(reader_client, "?kind=alias_moved&entity=bogus")
    link = re.search(r'<a class="button feed-link" href="([^"]+)"', html)
    assert link is not None
    assert unescape(link.group(1)) == reverse("catalog:feed_account") + "?kind=alias_moved"
    assert not FeedToken.objects.exists()


@pytest.mark.parametrize("with_urls", [True, False], ids=["timeline", "history"])
def test_the_events_table_renders_as_django_tables2_would(change_world, rf, with_urls):
    """ChangeEventTable writes its cells itself (rendered_rows): the HTML is the one
    django-tables2's own cell rendering gives, for every kind of event in the world."""
    from catalog import selectors
    from catalog.tables import ChangeEventTable

    events = list(ChangeEvent.objects.order_by("-pk"))
    options = {"entity_urls": selectors.entity_urls(events)} if with_urls else {}
    request = rf.get("/changes/")
    direct = ChangeEventTable(events, orderable=False, **options)
    layered = ChangeEventTable(
        events, orderable=False, template_name="django_tables2/catalog_table.html", **options
    )

    def table_of(html: str) -> str:
        return html[html.index("<table") : html.index("</table>")]

    assert table_of(direct.as_html(request)) == table_of(layered.as_html(request))
    assert len(re.findall(r"<tr>", direct.as_html(request))) == len(events) + 1
    empty = ChangeEventTable([], orderable=False, empty_text="Nothing yet.")
    assert "Nothing yet." in empty.as_html(request)
