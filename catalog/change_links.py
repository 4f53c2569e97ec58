"""Where a change event points: the page of the entity it is about.

An event keeps its entity's natural key as it was when the sync wrote it
(``ChangeEvent.entity_key``), so the link is built from that key alone: it still
resolves after the entity's row is gone (the page then says the item is missing) and
needs no query. Keys come from MLflow and S3 and may hold anything: a key no route
accepts gives no link rather than an error.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from catalog.model_urls import model_url, model_version_url
from catalog.models import ChangeEvent
from catalog.selectors import BUCKET_TOP_GROUP

Entity = ChangeEvent.Entity

# A version's key is "<model name>/v<number>"; the name itself may hold "/".
VERSION_SEPARATOR = "/v"
S3_SCHEME = "s3://"

_ROUTES = {
    Entity.RUN: ("catalog:run_detail", "run_id"),
    Entity.EXPERIMENT: ("catalog:experiment_detail", "experiment_id"),
    Entity.LOGGED_MODEL: ("catalog:logged_model_detail", "model_id"),
}


def event_url(event: ChangeEvent) -> str | None:
    """The site path of the page ``event`` is about, or None (the catalogue as a whole).

    Run, experiment and logged model pages by their MLflow id; registered models and
    versions through ``catalog.model_urls`` (names may hold "/"); a new orphan folder
    (key ``s3://bucket/folder/``) opens its listing on the audit page.
    """
    entity, key = event.entity_type, event.entity_key or ""
    if entity in _ROUTES:
        route, argument = _ROUTES[entity]
        try:
            return reverse(route, kwargs={argument: key})
        except NoReverseMatch:  # an id no route accepts ("/" in it, or empty)
            return None
    if entity == Entity.REGISTERED_MODEL:
        return model_url(key) if key else None
    if entity == Entity.MODEL_VERSION:
        return _version_url(key)
    if entity == Entity.ORPHAN_FOLDER:
        return _orphan_folder_url(key)
    return None


def _version_url(key: str) -> str | None:
    name, separator, number = key.rpartition(VERSION_SEPARATOR)
    if not (name and separator and number.isdigit()):
        return None
    return model_version_url(name, int(number))


def _orphan_folder_url(key: str) -> str | None:
    if not key.startswith(S3_SCHEME):
        return None
    bucket, _, group = key[len(S3_SCHEME) :].partition("/")
    if not bucket:
        return None
    # Stray keys at a bucket's top are listed key by key, on the audit page.
    if not group or group == BUCKET_TOP_GROUP:
        return reverse("catalog:audit") + "?section=orphans"
    return reverse("catalog:orphan_objects") + "?" + urlencode({"bucket": bucket, "group": group})
