"""Webhooks: where staff want change events sent, and the log of each send.

Configured in the admin. After a sync commits, the events each active webhook wants
are POSTed to it as one signed JSON body (``catalog.webhooks``); a send that fails is
retried, with backoff, after a later sync. Sending never blocks or fails a sync.
"""

from __future__ import annotations

import secrets

from django.db import models

from catalog.models.mirror import Experiment, RegisteredModel, SyncRun


def new_webhook_secret() -> str:
    """A signing secret: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


class Webhook(models.Model):
    """A receiver of change events, with the kinds and filters it wants.

    Empty ``kinds`` / ``entity_types`` mean all of them. Only ``https://`` URLs are
    accepted unless ``DEBUG``, and never the catalogue's own host.
    """

    name = models.CharField(max_length=200)
    url = models.URLField(max_length=2000, help_text="Where the events are POSTed.")
    secret = models.CharField(
        max_length=200,
        default=new_webhook_secret,
        help_text="Signs each body: header X-Catalog-Signature: sha256=<HMAC-SHA256 hex>.",
    )
    active = models.BooleanField(default=True)
    kinds = models.JSONField(
        default=list, blank=True, help_text="Event kinds to send; empty: every kind."
    )
    entity_types = models.JSONField(
        default=list, blank=True, help_text="Entity types to send; empty: every type."
    )
    experiment = models.ForeignKey(
        Experiment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Only events of this experiment (its runs, logged models, folders).",
    )
    registered_model = models.ForeignKey(
        RegisteredModel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Only events of this registered model and its versions.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One POST of one sync's matching events to one webhook, and how it went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    sync_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The body as sent (and re-sent on a retry): the events as JSON, with a Slack-style
    # "text"; it stays readable after retention purges the events themselves.
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-pk",)
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.webhook} #{self.pk} {self.status}"
