"""The catalogue's tables, one module per kind.

* ``catalog.models.mirror``: what the sync mirrors from MLflow and S3 (with the curated
  fields people add in the admin), its listing ranges and the record of each sync;
* ``catalog.models.changes``: what changed, sync by sync (the change events), and what
  the timeline's readers keep (their feed tokens, their last visit);
* ``catalog.models.webhooks``: where change events are sent, and the log of each send.

Everything is re-exported here: ``from catalog.models import Run``.
"""

from catalog.models.changes import ChangeEvent, FeedToken, ReaderVisit
from catalog.models.mirror import (
    MLFLOW_ID_MAX_LENGTH,
    RUN_DELETED,
    RUN_DELETED_WITH_ARTIFACTS,
    RUN_WITHOUT_ARTIFACTS,
    S3_BUCKET_MAX_LENGTH,
    S3_KEY_MAX_LENGTH,
    Artifact,
    Category,
    Experiment,
    ListingRange,
    LoggedModel,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    Run,
    SyncedModel,
    SyncRun,
    gone_rows_index,
)
from catalog.models.webhooks import Webhook, WebhookDelivery

__all__ = [
    "MLFLOW_ID_MAX_LENGTH",
    "RUN_DELETED",
    "RUN_DELETED_WITH_ARTIFACTS",
    "RUN_WITHOUT_ARTIFACTS",
    "S3_BUCKET_MAX_LENGTH",
    "S3_KEY_MAX_LENGTH",
    "Artifact",
    "Category",
    "ChangeEvent",
    "Experiment",
    "FeedToken",
    "ListingRange",
    "LoggedModel",
    "MetricPoint",
    "ModelVersion",
    "ReaderVisit",
    "RegisteredModel",
    "Run",
    "SyncRun",
    "SyncedModel",
    "Webhook",
    "WebhookDelivery",
    "gone_rows_index",
]
