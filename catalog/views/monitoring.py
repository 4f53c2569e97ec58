"""``/monitoring/metrics``: the last sync's figures in Prometheus's text format.

``/healthz`` answers "is it up"; this page answers "is the mirror keeping up": when the
last sync finished and how it went, how long it took, what it created, changed and lost,
how many warnings it left. Prometheus scrapes it with the bearer token
``CATALOG_METRICS_TOKEN`` (its ``authorization`` setting); without a token set, the page
needs a signed-in user like any other. Alert on ``catalog_last_sync_age_seconds`` and
``catalog_last_sync_healthy``.

The numbers are read live (two small queries): never from the page cache.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from catalog import selectors
from catalog.models import SyncRun

OUTCOMES = ("created", "updated", "unchanged", "missing", "restored")


class LastSyncCollector:
    """Prometheus gauges of the latest finished sync and of any sync running now."""

    def collect(self):
        sync = selectors.last_sync()
        running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).exists()
        yield GaugeMetricFamily(
            "catalog_sync_running", "1 while a sync is running", value=int(running)
        )
        if sync is None:
            return
        healthy = sync.status == SyncRun.Status.OK
        yield _gauge("catalog_last_sync_healthy", "1 if the last sync ended ok", healthy)
        status = GaugeMetricFamily(
            "catalog_last_sync_status", "The last sync's outcome, one-hot", labels=["status"]
        )
        for choice in SyncRun.Status.values:
            if choice != SyncRun.Status.RUNNING:
                status.add_metric([choice], int(sync.status == choice))
        yield status
        if sync.finished_at is not None:
            yield _gauge(
                "catalog_last_sync_finished_timestamp_seconds",
                "When the last sync finished (Unix time)",
                sync.finished_at.timestamp(),
            )
            yield _gauge(
                "catalog_last_sync_age_seconds",
                "Seconds since the last sync finished",
                selectors.sync_age_seconds(sync),
            )
        if sync.duration_s is not None:
            yield _gauge(
                "catalog_last_sync_duration_seconds", "How long the last sync took", sync.duration_s
            )
        warnings = selectors.warning_count(sync)
        yield _gauge("catalog_last_sync_warnings", "Warnings the last sync left", warnings)
        yield _gauge(
            "catalog_last_sync_orphan_objects", "S3 objects that belong to no run", sync.orphans
        )
        items = GaugeMetricFamily(
            "catalog_last_sync_items",
            "What the last sync did to each kind of item",
            labels=["entity", "outcome"],
        )
        for entity, outcomes in sorted((sync.counts or {}).items()):
            if not isinstance(outcomes, dict):
                continue
            for outcome in OUTCOMES:
                value = outcomes.get(outcome)
                if isinstance(value, int) and not isinstance(value, bool):
                    items.add_metric([str(entity), outcome], value)
        yield items


def _gauge(name: str, documentation: str, value) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _has_token(request) -> bool:
    token = settings.CATALOG_METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.encode(), token.encode())


@login_not_required
@never_cache
def metrics(request):
    """The metrics, for a scraper with the token or a signed-in user; else 401 or login."""
    if not (_has_token(request) or request.user.is_authenticated):
        if settings.CATALOG_METRICS_TOKEN or "Authorization" in request.headers:
            response = HttpResponse("a valid bearer token is required\n", status=401)
            response["WWW-Authenticate"] = 'Bearer realm="catalog metrics"'
            return response
        return redirect_to_login(request.get_full_path())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LastSyncCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
