"""Webhooks: change events POSTed, signed, to receivers staff configure in the admin.

* ``delivery``: after a sync, one delivery per webhook with that sync's matching
  events; due deliveries sent on bounded threads, retried with backoff by later syncs;
* ``payload``: the JSON body and its Slack-compatible ``text``, bounded;
* ``signing``: ``X-Catalog-Signature: sha256=<HMAC-SHA256 of the body>``;
* ``targets``: which URLs may receive webhooks (https, never the catalogue itself);
* ``transport``: one POST with the standard library, no redirects followed.

The tables are ``catalog.models.webhooks``; the admin is ``catalog.admin_changes``.
"""

from catalog.webhooks.delivery import DeliveryRound, deliver_after_sync

__all__ = ["DeliveryRound", "deliver_after_sync"]
