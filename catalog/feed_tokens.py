"""Readers' feed tokens: find the one a feed URL names, make a new one, note its use.

Feed readers cannot log in, so a feed URL carries its reader's personal key
(``FeedToken``). A key is only ever compared in constant time after it has been looked
up by its unique index; a key of the wrong shape is refused before any query. An
inactive user's key opens nothing, and staff revoke a key by deleting its row.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from catalog.models import FeedToken
from catalog.models.changes import new_feed_key

# new_feed_key() gives 43 URL-safe characters; the column holds 64.
FEED_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")
# A feed reader polls every few minutes: one write an hour says enough about "last used".
LAST_USED_RESOLUTION = timedelta(hours=1)


def feed_token_for_key(key: str) -> FeedToken | None:
    """The valid token whose key is ``key``, or None (unknown, revoked, inactive user)."""
    if not isinstance(key, str) or not FEED_KEY_PATTERN.fullmatch(key):
        return None
    token = FeedToken.objects.select_related("user").filter(key=key).first()
    if token is None or not secrets.compare_digest(token.key.encode(), key.encode()):
        return None
    if not token.user.is_active:
        return None
    return token


def note_feed_use(token: FeedToken, *, now: datetime | None = None) -> None:
    """Set ``last_used_at`` to now, unless it was set within the last hour."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    FeedToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def replace_feed_token(*, user) -> FeedToken:
    """Give ``user`` a new feed key; the old one (if any) stops working at once."""
    with transaction.atomic():
        FeedToken.objects.filter(user=user).delete()
        return FeedToken.objects.create(user=user, key=new_feed_key())
