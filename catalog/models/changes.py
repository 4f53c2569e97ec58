"""What changed, sync by sync: change events, and what the timeline's readers keep.

A ``ChangeEvent`` is written by the sync in the same transaction as the rows it
describes (``catalog.sync.stages`` through ``catalog.sync.changes``): a dry run or a
sync that fails part-way leaves exactly the events of what it did write. Events are
facts about the sources, never edited; the sync purges those older than
``CATALOG_CHANGES_KEEP_DAYS``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from catalog.models.mirror import Experiment, RegisteredModel, SyncRun


class ChangeEvent(models.Model):
    """One difference the sync saw in one entity (or one summary of many artifacts).

    ``changes`` maps a watched field to ``[old, new]`` (for a run's metrics, one entry
    per key: ``"metrics.rmse": [0.41, 0.38]``; for an alias, ``"@production": [3, 4]``;
    for an artifact summary, counts and bytes). ``object_pk`` is the pk of the entity's
    row in its own table (none for an orphan folder or the initial import), ``experiment``
    and ``registered_model`` the rows it belongs to, for the filters and history panels.

    The syncs append events one sync at a time, each stamped with its sync's start, so
    key order is time order: the timeline pages by key and reads a date range as a key
    range (ADR 0017).
    """

    class Entity(models.TextChoices):
        EXPERIMENT = "experiment", "Experiment"
        RUN = "run", "Run"
        REGISTERED_MODEL = "registered_model", "Registered model"
        MODEL_VERSION = "model_version", "Model version"
        LOGGED_MODEL = "logged_model", "Logged model"
        ORPHAN_FOLDER = "orphan_folder", "Orphan folder"
        CATALOGUE = "catalogue", "Catalogue"

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        ALIAS_MOVED = "alias_moved", "Alias moved"
        MISSING = "missing", "Missing"
        RESTORED = "restored", "Restored"
        ARTIFACTS = "artifacts", "Artifacts changed"
        ORPHANS = "orphans", "New orphan folder"
        INITIAL_IMPORT = "initial_import", "Initial import"

    sync_run = models.ForeignKey(
        SyncRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="changes",
        db_index=False,  # change_by_sync leads with it
    )
    occurred_at = models.DateTimeField(help_text="When the sync that saw it started.")
    entity_type = models.CharField(max_length=32, choices=Entity.choices)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    object_pk = models.BigIntegerField(null=True, blank=True)
    # The entity's natural key and name as they were when the event was written, so an
    # event still reads right after its entity is renamed or its row is gone.
    entity_key = models.TextField()
    entity_name = models.TextField(blank=True)
    experiment = models.ForeignKey(
        Experiment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    registered_model = models.ForeignKey(
        RegisteredModel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    changes = models.JSONField(default=dict, blank=True)
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ("-pk",)
        # Newest first everywhere: each filter the timeline and the panels use leads an
        # index that ends in the pk, so a page of the newest events is an index range.
        indexes = [
            models.Index(fields=["occurred_at"], name="change_by_time"),
            models.Index(fields=["entity_type", "-id"], name="change_by_entity"),
            models.Index(fields=["kind", "-id"], name="change_by_kind"),
            models.Index(fields=["experiment", "-id"], name="change_by_experiment"),
            models.Index(fields=["registered_model", "-id"], name="change_by_model"),
            models.Index(fields=["entity_type", "object_pk", "-id"], name="change_by_object"),
            models.Index(fields=["sync_run", "-id"], name="change_by_sync"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.entity_name or self.entity_key}"


def new_feed_key() -> str:
    """A feed token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


class FeedToken(models.Model):
    """A reader's personal key to the Atom feeds (feed readers cannot log in).

    Shown on the reader's own page; staff revoke it in the admin (the row goes, and a
    feed URL with the old key answers 404). A reader may make a new one at any time.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feed_token"
    )
    key = models.CharField(max_length=64, default=new_feed_key, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        # A constraint, not unique=True: on PostgreSQL that would add a second,
        # LIKE-pattern index on the key, which no lookup uses (keys are matched whole).
        constraints = [models.UniqueConstraint(fields=["key"], name="feed_token_key")]

    def __str__(self) -> str:
        return f"feed token of {self.user}"


class ReaderVisit(models.Model):
    """When a reader last looked, for the home page's "changed since your last visit"."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reader_visit"
    )
    # The visit before the current one: what "since your last visit" counts from.
    previous_visit_at = models.DateTimeField(null=True, blank=True)
    last_visit_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user} last visited {self.last_visit_at:%Y-%m-%d %H:%M}"
