"""Where a change event leads: its entity's page, built from the event alone.

An event names its entity by natural key (``ChangeEvent.entity_key``): a run id, an
experiment id, a model name, ``"<model name>/v<n>"`` for a version, a logged model's
``m-...`` id, ``s3://bucket/folder/`` for an orphan folder. The key is text the sync
copied from MLflow and S3: it is only ever placed into a URL through ``reverse`` or the
model URL builders (percent-encoded), never trusted as a path. The catalogue summary
(``initial_import``) has no page.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from catalog.model_urls import model_url, model_version_url
from catalog.models import ChangeEvent
from catalog.selectors import BUCKET_TOP_GROUP

Entity = ChangeEvent.Entity
_VERSION_KEY = re.compile(r"^(?P<name>.+)/v(?P<version>\d{1,9})$", re.DOTALL)
_S3_PREFIX = "s3://"


def version_of_key(key: str) -> tuple[str, int] | None:
    """``("name", 3)`` from a version's key ``"name/v3"`` (names may hold "/"), else None."""
    match = _VERSION_KEY.match(key or "")
    if match is None:
        return None
    return match["name"], int(match["version"])


def orphan_folder_of_key(key: str) -> tuple[str, str] | None:
    """``(bucket, group)`` of an orphan folder's key ``s3://bucket/group/``, else None.

    The group is the folder as the sync groups orphans (``Artifact.orphan_folder``).
    """
    if not (key or "").startswith(_S3_PREFIX):
        return None
    bucket, _, group = key[len(_S3_PREFIX) :].partition("/")
    if not bucket:
        return None
    return bucket, group or BUCKET_TOP_GROUP


def event_url(event: ChangeEvent) -> str | None:
    """The page of ``event``'s entity, or None (the catalogue, an unreadable key)."""
    key = event.entity_key or ""
    entity = event.entity_type
    try:
        if entity == Entity.RUN:
            return reverse("catalog:run_detail", args=[key]) if key else None
        if entity == Entity.EXPERIMENT:
            return reverse("catalog:experiment_detail", args=[key]) if key else None
        if entity == Entity.LOGGED_MODEL:
            return reverse("catalog:logged_model_detail", args=[key]) if key else None
    except NoReverseMatch:  # a key no route takes ("a/b" for a run id)
        return None
    if entity == Entity.REGISTERED_MODEL:
        return model_url(key) if key else None
    if entity == Entity.MODEL_VERSION:
        parsed = version_of_key(key)
        return model_version_url(*parsed) if parsed else None
    if entity == Entity.ORPHAN_FOLDER:
        folder = orphan_folder_of_key(key)
        if folder is None or folder[1] == BUCKET_TOP_GROUP:
            # The bucket's top is no folder: its stray keys are listed on the audit page.
            return reverse("catalog:audit") + "?section=orphans" if folder else None
        query = urlencode({"bucket": folder[0], "group": folder[1]})
        return f"{reverse('catalog:orphan_objects')}?{query}"
    return None
