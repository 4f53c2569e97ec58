"""Hard deletion of rows missing for longer than an age: the only deleting the sync does.

Only ``sync_registry --purge-missing-older-than DAYS`` calls it. Children go before
parents, and a parent that still has present children is kept (a cascade must never
take a present row with it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from catalog.models import Artifact, Experiment, LoggedModel, ModelVersion, RegisteredModel, Run


def purge_missing(
    *, older_than_days: float, now: datetime | None = None, dry_run: bool = False
) -> dict[str, int]:
    """Delete rows whose ``missing_since`` is older than the age; returns counts per entity."""
    if older_than_days < 0:
        raise ValueError("the age must not be negative")
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    old = {"missing_since__lt": cutoff}
    present_runs = Run.objects.filter(experiment=OuterRef("pk"), missing_since__isnull=True)
    present_versions = ModelVersion.objects.filter(
        registered_model=OuterRef("pk"), missing_since__isnull=True
    )
    present_models = LoggedModel.objects.filter(
        experiment=OuterRef("pk"), missing_since__isnull=True
    )
    plan = [
        ("artifacts", Artifact.objects.filter(**old)),
        ("model_versions", ModelVersion.objects.filter(**old)),
        (
            "registered_models",
            RegisteredModel.objects.filter(**old).exclude(Exists(present_versions)),
        ),
        ("logged_models", LoggedModel.objects.filter(**old)),
        ("runs", Run.objects.filter(**old)),
        (
            "experiments",
            Experiment.objects.filter(**old)
            .exclude(Exists(present_runs))
            .exclude(Exists(present_models)),
        ),
    ]
    counts: dict[str, int] = {}
    with transaction.atomic():
        for entity, queryset in plan:
            if dry_run:
                counts[entity] = queryset.count()
            else:
                counts[entity] = (
                    queryset.model.objects.filter(
                        pk__in=list(queryset.values_list("pk", flat=True))
                    )
                    .delete()[1]
                    .get(queryset.model._meta.label, 0)
                )
    return counts
