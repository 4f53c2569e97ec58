"""The JSON body a webhook receives: one sync's matching events, and a Slack text.

    {"sync": {"id", "started_at", "status", "url"},
     "events": [{"id", "kind", "entity_type", "entity_key", "entity_name", "changes",
                 "summary", "url", "occurred_at"}, ...],
     "omitted": 0,
     "text": "<one Slack-compatible paragraph with links>"}

Everything in an event came from MLflow or S3, so every field is bounded: at most
``PAYLOAD_MAX_EVENTS`` events (``omitted`` counts the rest, the text says "and N more"),
texts cut short, an event's ``changes`` replaced by a note when its JSON is too long.
Links are absolute when ``CATALOG_SITE_URL`` is set, site paths otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.urls import reverse

from catalog.change_links import event_url
from catalog.models import ChangeEvent, SyncRun

PAYLOAD_MAX_EVENTS = 500
# Texts from the sources, each cut to this many characters.
NAME_MAX_CHARS = 500
SUMMARY_MAX_CHARS = 1000
CHANGES_MAX_JSON_CHARS = 4000
# The Slack text names the first few events; the rest are counted.
TEXT_MAX_EVENTS = 10


def site_url(path: str | None) -> str | None:
    """``path`` made absolute with ``CATALOG_SITE_URL`` (unchanged when that is unset)."""
    if not path:
        return None
    base = getattr(settings, "CATALOG_SITE_URL", "")
    return f"{base}{path}" if base else path


def build_payload(
    *, sync_run: SyncRun, events: Sequence[ChangeEvent], omitted: int = 0
) -> dict[str, Any]:
    """The body for ``events`` of ``sync_run`` (at most ``PAYLOAD_MAX_EVENTS`` of them).

    ``omitted`` is how many more matched and were left out.
    """
    kept = list(events)[:PAYLOAD_MAX_EVENTS]
    omitted += len(events) - len(kept)
    sync = {
        "id": sync_run.pk,
        "started_at": sync_run.started_at.isoformat() if sync_run.started_at else None,
        "status": sync_run.status,
        "url": site_url(_sync_timeline_path(sync_run.pk)),
    }
    described = [event_json(event) for event in kept]
    return {
        "sync": sync,
        "events": described,
        "omitted": omitted,
        "text": slack_text(sync=sync, events=described, omitted=omitted),
    }


def event_json(event: ChangeEvent) -> dict[str, Any]:
    """One event as the body carries it, every text bounded."""
    return {
        "id": event.pk,
        "kind": event.kind,
        "entity_type": event.entity_type,
        "entity_key": _cut(event.entity_key, NAME_MAX_CHARS),
        "entity_name": _cut(event.entity_name, NAME_MAX_CHARS),
        "changes": _bounded_changes(event.changes),
        "summary": _cut(event.summary or str(event), SUMMARY_MAX_CHARS),
        "url": site_url(event_url(event)),
        "occurred_at": event.occurred_at.isoformat(),
    }


def slack_text(*, sync: dict[str, Any], events: list[dict[str, Any]], omitted: int) -> str:
    """One paragraph for Slack (or any chat taking its ``<url|label>`` links)."""
    total = len(events) + omitted
    head = f"SmartMaint catalogue, sync {sync['id']}: {total} change{'s' if total != 1 else ''}"
    if _is_absolute(sync.get("url")):
        head = f"<{_slack_url(sync['url'])}|{_slack_escape(head)}>"
    else:
        head = _slack_escape(head)
    named = [_slack_link(event) for event in events[:TEXT_MAX_EVENTS]]
    rest = total - len(named)
    if rest:
        named.append(f"and {rest} more")
    return f"{head}: {'; '.join(named)}." if named else f"{head}."


def _slack_link(event: dict[str, Any]) -> str:
    label = _slack_escape(_cut(event["summary"], 200))
    if _is_absolute(event.get("url")):
        return f"<{_slack_url(event['url'])}|{label}>"
    return label


def _is_absolute(url: str | None) -> bool:
    return bool(url) and url.startswith(("https://", "http://"))


def _slack_escape(text: str) -> str:
    # Slack's three control characters; "|" would end a link's URL part.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_url(url: str) -> str:
    return _slack_escape(url).replace("|", "%7C")


def _sync_timeline_path(sync_id: int) -> str:
    return reverse("catalog:changes") + f"?sync={sync_id}"


def _cut(value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded_changes(changes: Any) -> Any:
    text = json.dumps(changes, default=str)
    if len(text) <= CHANGES_MAX_JSON_CHARS:
        return changes
    return {"omitted": f"{len(text)} characters of changes: see the event's page"}
