"""Webhooks against a real HTTP receiver on 127.0.0.1: bodies, signatures, filters, retries.

Each receiver is a ``ThreadingHTTPServer`` on port 0 in a thread of the test; ``DEBUG``
is on so that ``http://127.0.0.1`` is an allowed URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import ChangeEvent, Webhook, WebhookDelivery
from catalog.sync.service import SyncOptions, run_sync
from catalog.webhooks import deliver_after_sync
from catalog.webhooks.delivery import NO_ANSWER, retry_delay
from catalog.webhooks.payload import PAYLOAD_MAX_EVENTS
from catalog.webhooks.targets import webhook_url_problem
from tests.change_events import Entity, Kind, make_change_event
from tests.factories import make_experiment, make_registered_model, make_sync_run
from tests.sync.test_reconcile import MemoryMlflow, MemoryS3

pytestmark = pytest.mark.django_db

SITE = "https://catalog.example.com"


class Receiver:
    """An HTTP server that records each POST and answers with the next status given."""

    def __init__(self, statuses=(200,)) -> None:
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.url + "moved")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def payloads(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.requests]


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(statuses=(200,)) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture(autouse=True)
def _webhook_settings(settings, tmp_path):
    settings.DEBUG = True
    settings.CATALOG_SITE_URL = SITE
    settings.CATALOG_WEBHOOK_TIMEOUT_SECONDS = 2.0
    settings.CATALOG_WEBHOOK_MAX_ATTEMPTS = 3
    settings.CATALOG_SYNC_LOCK_PATH = tmp_path / "sync.lock"
    settings.CATALOG_S3_ROOTS = []
    settings.CATALOG_ARTIFACTS_DESTINATION = ""


def make_webhook(url: str, **overrides) -> Webhook:
    return Webhook.objects.create(name=overrides.pop("name", "chat"), url=url, **overrides)


def make_due_again(delivery: WebhookDelivery) -> None:
    """Move a delivery's retry time into the past, as if its backoff had passed."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_a_sync_s_events_arrive_as_one_signed_json_body(receivers):
    receiver = receivers()
    webhook = make_webhook(receiver.url)
    sync_run = make_sync_run()
    model = make_registered_model(name="pump/forecaster")
    moved = make_change_event(
        sync_run=sync_run,
        entity_type=Entity.MODEL_VERSION,
        kind=Kind.ALIAS_MOVED,
        entity_key="pump/forecaster/v4",
        entity_name="pump/forecaster v4",
        registered_model=model,
        changes={"@production": [3, 4]},
        summary="pump/forecaster: @production v3 -> v4 <b>&",
    )
    updated = make_change_event(sync_run=sync_run)
    make_change_event(summary="another sync's event")

    result = deliver_after_sync(sync_run)

    assert (result.queued, result.attempted, result.delivered) == (1, 1, 1)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["content-type"] == "application/json"
    expected = hmac.new(webhook.secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert headers["x-catalog-signature"] == f"sha256={expected}"
    delivery = WebhookDelivery.objects.get()
    assert headers["x-catalog-delivery"] == str(delivery.pk)
    assert headers["x-catalog-timestamp"].isdigit()

    payload = json.loads(request["body"])
    assert payload["sync"]["id"] == sync_run.pk
    assert payload["omitted"] == 0
    assert [event["id"] for event in payload["events"]] == [moved.pk, updated.pk]
    first = payload["events"][0]
    assert first == {
        "id": moved.pk,
        "kind": "alias_moved",
        "entity_type": "model_version",
        "entity_key": "pump/forecaster/v4",
        "entity_name": "pump/forecaster v4",
        "changes": {"@production": [3, 4]},
        "summary": moved.summary,
        "url": f"{SITE}/models/pump%2Fforecaster/versions/4/",
        "occurred_at": moved.occurred_at.isoformat(),
    }
    assert payload["events"][1]["url"] == f"{SITE}/runs/{updated.entity_key}/"
    text = payload["text"]
    assert f"sync {sync_run.pk}: 2 changes" in text
    assert (
        f"<{SITE}/models/pump%2Fforecaster/versions/4/|pump/forecaster: @production v3 -&gt; v4"
        " &lt;b&gt;&amp;>" in text
    )
    assert "\n" not in text

    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert (delivery.attempts, delivery.response_status) == (1, 200)
    assert delivery.delivered_at is not None


def test_each_webhook_gets_only_the_events_it_wants(receivers):
    sync_run = make_sync_run()
    experiment = make_experiment()
    model = make_registered_model(name="bearing-rul")
    run_update = make_change_event(sync_run=sync_run, experiment=experiment)
    alias = make_change_event(
        sync_run=sync_run,
        entity_type=Entity.MODEL_VERSION,
        kind=Kind.ALIAS_MOVED,
        entity_key="bearing-rul/v2",
        registered_model=model,
    )
    other_model = make_change_event(
        sync_run=sync_run,
        entity_type=Entity.REGISTERED_MODEL,
        kind=Kind.CREATED,
        entity_key="other",
        registered_model=make_registered_model(),
    )
    wanted = {
        "kinds": ({"kinds": ["alias_moved", "created"]}, [alias, other_model]),
        "runs": ({"entity_types": ["run"]}, [run_update]),
        "model": ({"registered_model": model}, [alias]),
        "experiment": ({"experiment": experiment}, [run_update]),
        "all": ({}, [run_update, alias, other_model]),
        "nothing": ({"kinds": ["missing"]}, []),
        "inactive": ({"active": False}, []),
    }
    hooks = {name: (receivers(), filters, events) for name, (filters, events) in wanted.items()}
    for name, (receiver, filters, _) in hooks.items():
        make_webhook(receiver.url, name=name, **filters)

    deliver_after_sync(sync_run)

    for name, (receiver, _, events) in hooks.items():
        sent = [event["id"] for payload in receiver.payloads for event in payload["events"]]
        assert sent == [event.pk for event in events], name
    assert WebhookDelivery.objects.count() == 5  # none for "nothing" and "inactive"


def test_a_refused_delivery_is_retried_by_a_later_sync_after_its_backoff(receivers):
    receiver = receivers(statuses=(500, 200))
    make_webhook(receiver.url)
    first_sync = make_sync_run()
    make_change_event(sync_run=first_sync)

    deliver_after_sync(first_sync)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert (delivery.attempts, delivery.response_status) == (1, 500)
    assert "500" in delivery.last_error
    waited = delivery.next_attempt_at - timezone.now()
    assert retry_delay(1) - timedelta(seconds=30) < waited <= retry_delay(1)

    # The next sync comes before the backoff has passed: nothing is sent again.
    deliver_after_sync(make_sync_run())
    assert len(receiver.requests) == 1

    make_due_again(delivery)
    deliver_after_sync(make_sync_run())

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert (delivery.attempts, delivery.response_status, delivery.last_error) == (2, 200, "")
    assert len(receiver.requests) == 2
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]


def test_backoff_grows_with_each_failure():
    assert [retry_delay(n) for n in (1, 2, 3)] == [
        timedelta(minutes=1),
        timedelta(minutes=4),
        timedelta(minutes=16),
    ]


def test_a_delivery_is_given_up_after_the_maximum_attempts(receivers, settings):
    receiver = receivers(statuses=(503,))
    make_webhook(receiver.url)
    sync_run = make_sync_run()
    make_change_event(sync_run=sync_run)

    deliver_after_sync(sync_run)
    for _ in range(settings.CATALOG_WEBHOOK_MAX_ATTEMPTS - 1):
        make_due_again(WebhookDelivery.objects.get())
        deliver_after_sync(make_sync_run())

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == settings.CATALOG_WEBHOOK_MAX_ATTEMPTS
    assert delivery.next_attempt_at is None
    deliver_after_sync(make_sync_run())
    assert len(receiver.requests) == settings.CATALOG_WEBHOOK_MAX_ATTEMPTS


def test_a_redirect_is_not_followed(receivers):
    receiver = receivers(statuses=(302,))
    make_webhook(receiver.url)
    sync_run = make_sync_run()
    make_change_event(sync_run=sync_run)

    deliver_after_sync(sync_run)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_status) == (WebhookDelivery.Status.PENDING, 302)
    assert "redirect" in delivery.last_error
    assert len(receiver.requests) == 1  # not a second POST to the Location


def test_a_dead_receiver_delays_the_round_by_its_timeout_at_most(receivers, settings):
    settings.CATALOG_WEBHOOK_TIMEOUT_SECONDS = 1.0
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead.listen(8)  # connections are accepted by the kernel, and never answered
    try:
        alive = receivers()
        make_webhook(f"http://127.0.0.1:{dead.getsockname()[1]}/hook", name="dead")
        make_webhook(alive.url, name="alive")
        sync_run = make_sync_run()
        make_change_event(sync_run=sync_run)

        started = time.monotonic()
        result = deliver_after_sync(sync_run)
        elapsed = time.monotonic() - started
    finally:
        dead.close()

    assert elapsed < settings.CATALOG_WEBHOOK_TIMEOUT_SECONDS * 2 + 1
    assert (result.attempted, result.delivered) == (2, 1)
    assert len(alive.requests) == 1
    stuck = WebhookDelivery.objects.get(webhook__name="dead")
    assert stuck.status == WebhookDelivery.Status.PENDING
    assert stuck.attempts == 1
    assert "timed out" in stuck.last_error or stuck.last_error == NO_ANSWER


def test_a_refused_connection_is_a_failed_attempt(receivers):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    make_webhook(f"http://127.0.0.1:{port}/hook")
    sync_run = make_sync_run()
    make_change_event(sync_run=sync_run)

    deliver_after_sync(sync_run)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.PENDING, 1)
    assert delivery.response_status is None and delivery.last_error


def test_a_large_sync_is_capped_and_the_rest_counted(receivers):
    receiver = receivers()
    make_webhook(receiver.url)
    sync_run = make_sync_run()
    ChangeEvent.objects.bulk_create(
        ChangeEvent(
            sync_run=sync_run,
            occurred_at=sync_run.started_at,
            entity_type=Entity.RUN,
            kind=Kind.CREATED,
            entity_key=f"run{index:04d}",
            summary=f"run {index} created",
        )
        for index in range(PAYLOAD_MAX_EVENTS + 7)
    )

    deliver_after_sync(sync_run)

    payload = receiver.payloads[0]
    assert len(payload["events"]) == PAYLOAD_MAX_EVENTS
    assert payload["omitted"] == 7
    assert payload["text"].endswith(f"and {PAYLOAD_MAX_EVENTS + 7 - 10} more.")


def test_a_second_call_for_the_same_sync_queues_nothing_new(receivers):
    receiver = receivers()
    make_webhook(receiver.url)
    sync_run = make_sync_run()
    make_change_event(sync_run=sync_run)
    deliver_after_sync(sync_run)
    deliver_after_sync(sync_run)
    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.requests) == 1


def test_a_dry_run_delivers_nothing(receivers):
    receiver = receivers()
    make_webhook(receiver.url)
    report = run_sync(
        mlflow_source=MemoryMlflow(2), s3_source=MemoryS3(2), options=SyncOptions(dry_run=True)
    )
    assert report.status == "ok"
    assert deliver_after_sync(None).queued == 0
    assert deliver_after_sync(make_sync_run(dry_run=True)).queued == 0
    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


def test_a_failure_in_delivering_never_fails_the_sync(monkeypatch, receivers):
    def broken(sync_run):
        raise RuntimeError("a bug in sending")

    monkeypatch.setattr("catalog.sync.service.deliver_after_sync", broken)
    report = run_sync(mlflow_source=MemoryMlflow(2), s3_source=MemoryS3(2), options=SyncOptions())
    assert report.status == "ok"


def test_sync_delivers_its_events_end_to_end(receivers):
    """A real sync on in-memory sources, twice with a new run between: its event arrives.

    Needs the sync to write change events (``catalog.sync.changes``).
    """
    receiver = receivers()
    run_sync(mlflow_source=MemoryMlflow(2), s3_source=MemoryS3(2), options=SyncOptions())
    make_webhook(receiver.url, kinds=["created"], entity_types=["run"])

    report = run_sync(mlflow_source=MemoryMlflow(3), s3_source=MemoryS3(3), options=SyncOptions())

    assert report.status == "ok"
    assert len(receiver.payloads) == 1
    payload = receiver.payloads[0]
    assert payload["sync"]["id"] == report.sync_run_id
    assert [event["entity_key"] for event in payload["events"]] == ["run0002"]
    assert payload["events"][0]["url"] == f"{SITE}/runs/run0002/"


# --- The admin's URL check -----------------------------------------------------------


def add_webhook_form(staff_client, url: str, **fields):
    data = {"name": "chat", "url": url, "active": "on", "secret": "s3cret", **fields}
    return staff_client.post(reverse("admin:catalog_webhook_add"), data)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.org/x",  # plain http
        "https://testserver/hook",  # the host the admin is reached by (ALLOWED_HOSTS too)
        "https://localhost:9000/hook",
        "https://127.0.0.1/hook",
        "https://127.8.9.10/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://api.localhost/hook",
        "https://user:pw@hooks.example.org/x",
        "ftp://hooks.example.org/x",
    ],
)
def test_the_admin_refuses_urls_that_are_not_https_or_point_at_the_catalogue(
    staff_client, settings, url
):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver", "catalog.example.com"]
    response = add_webhook_form(staff_client, url)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"]
    assert not Webhook.objects.exists()


def test_the_admin_accepts_an_https_receiver_with_checkbox_filters(staff_client, settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver", ".example.com"]
    response = add_webhook_form(
        staff_client,
        "https://hooks.slack.example.net/services/T0/B0/x",
        kinds=["alias_moved", "missing"],
        entity_types=["model_version"],
    )
    assert response.status_code == 302, response.content[:2000]
    webhook = Webhook.objects.get()
    assert webhook.kinds == ["alias_moved", "missing"]
    assert webhook.entity_types == ["model_version"]
    page = staff_client.get(reverse("admin:catalog_webhook_change", args=[webhook.pk]))
    assert 'type="checkbox"' in page.content.decode()
    assert "Delivery log" in page.content.decode()


def test_the_catalogue_s_own_host_names_are_refused_even_with_debug(settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["catalog.example.com", "localhost", "127.0.0.1"]
    assert webhook_url_problem("https://catalog.example.com/hook")
    # The origin serving the admin itself, port included.
    assert webhook_url_problem("http://127.0.0.1:8000/hook", request_host="127.0.0.1:8000")
    # A developer's receiver beside it, on another port.
    assert webhook_url_problem("http://127.0.0.1:9000/hook", request_host="127.0.0.1:8000") is None


def test_a_url_refused_at_send_time_is_a_failed_attempt(receivers, settings):
    receiver = receivers()
    make_webhook(receiver.url)
    sync_run = make_sync_run()
    make_change_event(sync_run=sync_run)
    settings.DEBUG = False  # http:// and 127.0.0.1 are no longer allowed

    deliver_after_sync(sync_run)

    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 1 and delivery.last_error.startswith("URL refused")
    assert receiver.requests == []


def test_the_delivery_log_is_read_only_and_filtered_by_webhook(staff_client, receivers):
    receiver = receivers()
    webhook = make_webhook(receiver.url)
    sync_run = make_sync_run()
    make_change_event(sync_run=sync_run, summary="visible in the log")
    deliver_after_sync(sync_run)
    delivery = WebhookDelivery.objects.get()

    listing = staff_client.get(
        reverse("admin:catalog_webhookdelivery_changelist") + f"?webhook__id__exact={webhook.pk}"
    )
    assert listing.status_code == 200
    assert f">{delivery.pk}<" in listing.content.decode()
    detail = staff_client.get(
        reverse("admin:catalog_webhookdelivery_change", args=[delivery.pk])
    ).content.decode()
    assert "visible in the log" in detail
    assert 'name="_save"' not in detail
