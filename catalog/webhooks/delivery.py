"""After a sync: queue each webhook's events as one delivery, then send what is due.

``deliver_after_sync(sync_run)`` is called by ``catalog.sync.service.run_sync`` once the
sync's outcome is recorded:

1. ``queue_deliveries``: for each active webhook, the sync's events that match its kinds,
   entity types, experiment and model become ONE ``WebhookDelivery`` with the body
   to send (``catalog.webhooks.payload``). A webhook nothing matched gets none.
2. ``send_due_deliveries``: every pending delivery that is due (new ones, and failed
   ones whose backoff has passed: those first) is POSTed, signed. A 2xx is delivered;
   anything else is an attempt that failed: retried by a later sync after
   ``BACKOFF_FIRST * BACKOFF_FACTOR ** (attempts - 1)``, and ``failed`` (given up)
   after ``CATALOG_WEBHOOK_MAX_ATTEMPTS``.

Bounded time: the POSTs run on at most ``SEND_THREADS`` daemon threads, one webhook's
deliveries in order on one thread (it stops at that webhook's first failure: its
receiver is down); the sync waits for them at most the per-request timeout plus
``ROUND_MARGIN_SECONDS``, so a dead receiver slows it by about its timeout, never
more. A POST still unanswered then counts as a failed attempt; one not started yet
stays due for the next sync. The threads only speak HTTP: every database read and
write happens here, on the sync's thread.

Delivery is at least once: a receiver dedupes by the ``X-Catalog-Delivery`` header.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from catalog.models import ChangeEvent, SyncRun, Webhook, WebhookDelivery
from catalog.webhooks.payload import PAYLOAD_MAX_EVENTS, build_payload
from catalog.webhooks.signing import SIGNATURE_HEADER, body_signature
from catalog.webhooks.targets import webhook_url_problem
from catalog.webhooks.transport import PostOutcome, post_json

logger = logging.getLogger("catalog.webhooks")

DELIVERY_HEADER = "X-Catalog-Delivery"
TIMESTAMP_HEADER = "X-Catalog-Timestamp"
SEND_THREADS = 4
# A round sends at most this many deliveries; the rest wait for the next sync.
ROUND_MAX_DELIVERIES = 100
ROUND_MARGIN_SECONDS = 1.0
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_FACTOR = 4
NO_ANSWER = "no answer within the delivery time budget"


@dataclass
class DeliveryRound:
    """What one ``deliver_after_sync`` did: deliveries queued, sent, delivered, failed."""

    queued: int = 0
    attempted: int = 0
    delivered: int = 0
    gave_up: int = 0


def deliver_after_sync(sync_run: SyncRun | None) -> DeliveryRound:
    """Queue ``sync_run``'s events for every active webhook, then send what is due.

    A dry run (no ``SyncRun``, or one marked dry) queues and sends nothing.
    """
    if sync_run is None or sync_run.dry_run:
        return DeliveryRound()
    queued = queue_deliveries(sync_run=sync_run)
    outcome = send_due_deliveries()
    outcome.queued = queued
    return outcome


def queue_deliveries(*, sync_run: SyncRun) -> int:
    """One pending delivery per active webhook that ``sync_run`` has events for.

    Safe to call twice: a webhook that already has a delivery of this sync gets no other.
    """
    events = ChangeEvent.objects.filter(sync_run=sync_run)
    already = set(
        WebhookDelivery.objects.filter(sync_run=sync_run).values_list("webhook_id", flat=True)
    )
    queued = 0
    for webhook in Webhook.objects.filter(active=True).order_by("pk"):
        if webhook.pk in already:
            continue
        matching = matching_events(webhook, events).order_by("pk")
        chosen = list(matching[:PAYLOAD_MAX_EVENTS])
        if not chosen:
            continue
        total = matching.count() if len(chosen) == PAYLOAD_MAX_EVENTS else len(chosen)
        WebhookDelivery.objects.create(
            webhook=webhook,
            sync_run=sync_run,
            payload=build_payload(sync_run=sync_run, events=chosen, omitted=total - len(chosen)),
        )
        queued += 1
    return queued


def matching_events(webhook: Webhook, events: QuerySet[ChangeEvent]) -> QuerySet[ChangeEvent]:
    """``events`` narrowed to what ``webhook`` wants (an empty list of kinds: every kind)."""
    if webhook.kinds:
        events = events.filter(kind__in=[str(kind) for kind in webhook.kinds])
    if webhook.entity_types:
        events = events.filter(entity_type__in=[str(entity) for entity in webhook.entity_types])
    if webhook.experiment_id:
        events = events.filter(experiment_id=webhook.experiment_id)
    if webhook.registered_model_id:
        events = events.filter(registered_model_id=webhook.registered_model_id)
    return events


def due_deliveries(*, now: datetime) -> list[WebhookDelivery]:
    """Pending deliveries of active webhooks that may be sent now: retries first."""
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, webhook__active=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .select_related("webhook")
        .order_by(F("next_attempt_at").asc(nulls_last=True), "pk")[:ROUND_MAX_DELIVERIES]
    )


def send_due_deliveries() -> DeliveryRound:
    """POST every due delivery (bounded in time), and record how each went."""
    deliveries = due_deliveries(now=timezone.now())
    if not deliveries:
        return DeliveryRound()
    timeout = float(settings.CATALOG_WEBHOOK_TIMEOUT_SECONDS)
    jobs_by_webhook: dict[int, list[_Job]] = {}
    for delivery in deliveries:
        jobs_by_webhook.setdefault(delivery.webhook_id, []).append(_job(delivery))
    sends = _Sends(queues=list(jobs_by_webhook.values()), timeout=timeout)
    answers = sends.run(budget=timeout + ROUND_MARGIN_SECONDS)
    by_pk = {delivery.pk: delivery for delivery in deliveries}
    result = DeliveryRound()
    now = timezone.now()
    for pk, outcome in answers.items():
        delivery = by_pk[pk]
        record_attempt(delivery, outcome, now=now)
        result.attempted += 1
        result.delivered += delivery.status == WebhookDelivery.Status.DELIVERED
        result.gave_up += delivery.status == WebhookDelivery.Status.FAILED
    return result


def record_attempt(delivery: WebhookDelivery, outcome: PostOutcome, *, now: datetime) -> None:
    """Save one attempt's outcome: delivered, retried after backoff, or given up."""
    delivery.attempts += 1
    delivery.response_status = outcome.status
    if outcome.delivered:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        delivery.last_error = ""
    else:
        delivery.last_error = outcome.error
        if delivery.attempts >= settings.CATALOG_WEBHOOK_MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + retry_delay(delivery.attempts)
    delivery.save(
        update_fields=[
            "attempts",
            "response_status",
            "status",
            "delivered_at",
            "next_attempt_at",
            "last_error",
        ]
    )
    if not outcome.delivered:
        logger.warning(
            "webhook %s: delivery %s failed (attempt %s): %s",
            delivery.webhook_id,
            delivery.pk,
            delivery.attempts,
            outcome.error,
        )


def retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failure a delivery is tried again: 1, 4, 16 min..."""
    return BACKOFF_FIRST * BACKOFF_FACTOR ** max(attempts - 1, 0)


@dataclass(frozen=True)
class _Job:
    pk: int
    url: str
    body: bytes
    secret: str


def _job(delivery: WebhookDelivery) -> _Job:
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    return _Job(pk=delivery.pk, url=delivery.webhook.url, body=body, secret=delivery.webhook.secret)


@dataclass
class _Sends:
    """One round of POSTs on daemon threads, each thread taking a webhook's queue."""

    queues: list[list[_Job]]
    timeout: float
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False
    _started: set[int] = field(default_factory=set)
    _answers: dict[int, PostOutcome] = field(default_factory=dict)

    def run(self, *, budget: float) -> dict[int, PostOutcome]:
        """Send, wait at most ``budget`` seconds, and return an outcome per attempted job."""
        work: queue.SimpleQueue[list[_Job]] = queue.SimpleQueue()
        for jobs in self.queues:
            work.put(jobs)
        deadline = time.monotonic() + budget
        # Daemon threads: a receiver that keeps a socket open never holds the process.
        threads = [
            threading.Thread(target=self._work, args=(work,), name="webhook-send", daemon=True)
            for _ in range(min(SEND_THREADS, len(self.queues)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))
        with self._lock:
            self._closed = True
            answers = dict(self._answers)
            unanswered = self._started - answers.keys()
        answers.update({pk: PostOutcome(delivered=False, error=NO_ANSWER) for pk in unanswered})
        return answers

    def _work(self, work: queue.SimpleQueue) -> None:
        while True:
            try:
                jobs = work.get_nowait()
            except queue.Empty:
                return
            for job in jobs:
                with self._lock:
                    if self._closed:
                        return
                    self._started.add(job.pk)
                outcome = self._send(job)
                with self._lock:
                    self._answers[job.pk] = outcome
                if not outcome.delivered:
                    break  # the receiver is down: its next deliveries wait for a later sync

    def _send(self, job: _Job) -> PostOutcome:
        problem = webhook_url_problem(job.url)
        if problem:
            return PostOutcome(delivered=False, error=f"URL refused: {problem}")
        headers = {
            SIGNATURE_HEADER: body_signature(job.body, secret=job.secret),
            DELIVERY_HEADER: str(job.pk),
            TIMESTAMP_HEADER: str(int(time.time())),
        }
        try:
            return post_json(url=job.url, body=job.body, headers=headers, timeout=self.timeout)
        except Exception as error:  # a bug here must not kill the thread silently
            logger.exception("webhook delivery %s: unexpected error", job.pk)
            return PostOutcome(delivered=False, error=f"{type(error).__name__}: {error}"[:500])
