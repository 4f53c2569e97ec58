"""The mirrored tables: what the sync copies from MLflow and S3, and its own records.

Two kinds of field live side by side on the mirrored models:

* synced fields, written only by ``catalog.sync.reconcile`` from MLflow and S3. They are
  ``editable=False`` so the admin shows them read-only, and they are listed in each
  model's ``SYNCED_FIELDS``;
* curated fields (a human description, a category override, notes, facts the sources
  cannot know such as a folder's related documents or a model's release), written only
  by people through the admin. The sync never touches them; ``CURATED_FIELDS`` lists them.

Nothing here talks to MLflow or S3 and nothing here has logic in ``save()``.
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from catalog.related_links import validate_related_links

# S3 allows keys of up to 1,024 bytes of UTF-8. A UTF-8 character takes at least one
# byte, so 1,024 characters always hold such a key; PostgreSQL's varchar counts
# characters, SQLite does not enforce lengths at all.
S3_KEY_MAX_LENGTH = 1024
S3_BUCKET_MAX_LENGTH = 63
MLFLOW_ID_MAX_LENGTH = 64
# Names (experiments, runs, registered and logged models, users) are text columns: MLflow
# bounds few of them (its REST API and file store take a 600-character run or model
# name), and text costs PostgreSQL nothing over varchar. The sync bounds what an index
# holds and cleans what neither database takes (ADR 0016, catalog/sync/text_limits.py).


class Category(models.TextChoices):
    """What a registered model is for, as the seed page groups them."""

    ANOMALY_DETECTION = "anomaly_detection", "Anomaly detection"
    CLASSIFICATION = "classification", "Classification"
    FORECASTING = "forecasting", "Forecasting"
    PREPROCESSING = "preprocessing", "Preprocessing / utility"
    OTHER = "other", "Other"


# The audit's two kinds of drifted run. Their partial indexes (``Run.Meta``) hold only
# the matching runs, so the drift report counts and lists them without reading the
# whole runs table (a full scan was the audit page's biggest cost: 68 ms of its 120 ms
# at 100,000 runs on a slow machine). Selectors filter by these same objects, so a
# query always implies its index's condition.
RUN_WITHOUT_ARTIFACTS = models.Q(missing_since=None, artifact_count=0)
RUN_DELETED_WITH_ARTIFACTS = models.Q(artifact_count__gt=0) & (
    models.Q(lifecycle_stage="deleted") | models.Q(missing_since__isnull=False)
)
# Runs MLflow still holds but marks deleted: counted apart from the active ones on the
# home and folder pages, through their own small partial index (``run_deleted``).
RUN_DELETED = models.Q(missing_since=None, lifecycle_stage="deleted")


def gone_rows_index(name: str) -> models.Index:
    """An index of the rows marked missing, for the audit's "gone" lists and the purge.

    Partial (``missing_since IS NOT NULL``): present rows, nearly all of them, are never
    looked up by this column, so they stay out of the index and a sync that inserts a
    million artifacts does not pay for a million index entries of NULL. A filter such as
    ``missing_since__lt=cutoff`` implies the condition, so both databases use it.
    """
    return models.Index(
        fields=["missing_since"], condition=models.Q(missing_since__isnull=False), name=name
    )


class SyncedModel(models.Model):
    """Bookkeeping shared by every mirrored row.

    ``fingerprint`` is a digest of the row's synced fields as last written: reconcile
    compares a fresh record's digest against it and skips the write when they match.
    ``missing_since`` is null while the row is present in its source; nothing is
    hard-deleted by a normal sync.
    """

    first_seen = models.DateTimeField(editable=False)
    last_seen = models.DateTimeField(editable=False)
    # Indexed by each model's Meta through ``gone_rows_index``: only the gone rows.
    missing_since = models.DateTimeField(null=True, blank=True, editable=False)
    fingerprint = models.CharField(max_length=64, blank=True, editable=False)

    BOOKKEEPING_FIELDS = ("first_seen", "last_seen", "missing_since", "fingerprint")

    class Meta:
        abstract = True

    @property
    def is_missing(self) -> bool:
        return self.missing_since is not None


class Experiment(SyncedModel):
    """An MLflow experiment (active or deleted), from ``search_experiments``.

    Its artifact location (``s3://bucket/<experiment_id>``) is the S3 folder the seed
    page maps; the run and artifact totals are recomputed by each sync.
    """

    experiment_id = models.CharField(max_length=MLFLOW_ID_MAX_LENGTH, editable=False)
    name = models.TextField(editable=False)
    artifact_location = models.TextField(blank=True, editable=False)
    lifecycle_stage = models.CharField(max_length=32, default="active", editable=False)
    mlflow_description = models.TextField(blank=True, editable=False)
    tags = models.JSONField(default=dict, blank=True, editable=False)
    creation_time = models.DateTimeField(null=True, blank=True, editable=False)
    last_update_time = models.DateTimeField(null=True, blank=True, editable=False)
    run_count = models.PositiveIntegerField(default=0, editable=False)
    artifact_count = models.PositiveBigIntegerField(default=0, editable=False)
    artifact_bytes = models.PositiveBigIntegerField(default=0, editable=False)

    description = models.TextField(
        blank=True, help_text="Curated purpose, in Markdown. Shown instead of MLflow's."
    )
    notes = models.TextField(blank=True, help_text="Curated notes for the team.")
    related_links = models.TextField(
        blank=True,
        validators=[validate_related_links],
        help_text=(
            "Documents about this folder, one per line: a label then its address "
            "'Deployment checklist https://wiki.example/checklist', or Markdown "
            "'[Changelog](./changelog.md) - what it records'. Web (http, https) "
            "or relative addresses only. Listed with the folder and under Related at the top "
            "of the mapping page."
        ),
    )
    specialized_domain = models.CharField(
        max_length=100,
        blank=True,
        help_text=(
            "The domain this folder specialises in, e.g. 'Vibration Analysis'. Folders "
            "with the same domain are listed together under Specialized Domain Models on the "
            "mapping page; leave blank for a general-purpose folder."
        ),
    )

    SYNCED_FIELDS = (
        "experiment_id",
        "name",
        "artifact_location",
        "lifecycle_stage",
        "mlflow_description",
        "tags",
        "creation_time",
        "last_update_time",
        "run_count",
        "artifact_count",
        "artifact_bytes",
    )
    CURATED_FIELDS = ("description", "notes", "related_links", "specialized_domain")

    class Meta:
        ordering = ("experiment_id",)
        constraints = [
            models.UniqueConstraint(fields=["experiment_id"], name="experiment_natural_key"),
        ]
        indexes = [
            models.Index(fields=["name"], name="experiment_name"),
            gone_rows_index("experiment_gone"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment_id}: {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("catalog:experiment_detail", args=[self.experiment_id])

    @property
    def purpose(self) -> str:
        """The curated description when set, else MLflow's (Markdown source)."""
        return self.description or self.mlflow_description


class Run(SyncedModel):
    """An MLflow run of any lifecycle stage, from ``search_runs``.

    ``metrics`` holds the latest value of each metric; ``metrics_signature`` is a digest
    of (key, value, step, timestamp) of those latest values, so the sync refetches the
    metric history only when it changed.
    """

    run_id = models.CharField(max_length=MLFLOW_ID_MAX_LENGTH, editable=False)
    # Indexed by run_by_experiment (its leading column), not by an index of its own.
    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="runs", editable=False, db_index=False
    )
    name = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=32, blank=True, editable=False)
    lifecycle_stage = models.CharField(max_length=32, default="active", editable=False)
    user_id = models.TextField(blank=True, editable=False)
    start_time = models.DateTimeField(null=True, blank=True, editable=False)
    end_time = models.DateTimeField(null=True, blank=True, editable=False)
    artifact_uri = models.TextField(blank=True, editable=False)
    params = models.JSONField(default=dict, blank=True, editable=False)
    metrics = models.JSONField(default=dict, blank=True, editable=False)
    metrics_signature = models.CharField(max_length=64, blank=True, editable=False)
    tags = models.JSONField(default=dict, blank=True, editable=False)
    artifact_count = models.PositiveIntegerField(default=0, editable=False)
    artifact_bytes = models.PositiveBigIntegerField(default=0, editable=False)

    description = models.TextField(blank=True, help_text="Curated description, in Markdown.")
    notes = models.TextField(blank=True, help_text="Curated notes for the team.")

    SYNCED_FIELDS = (
        "run_id",
        "experiment",
        "name",
        "status",
        "lifecycle_stage",
        "user_id",
        "start_time",
        "end_time",
        "artifact_uri",
        "params",
        "metrics",
        "metrics_signature",
        "tags",
        "artifact_count",
        "artifact_bytes",
    )
    CURATED_FIELDS = ("description", "notes")

    class Meta:
        ordering = ("-start_time", "run_id")
        constraints = [models.UniqueConstraint(fields=["run_id"], name="run_natural_key")]
        indexes = [
            models.Index(fields=["experiment", "start_time"], name="run_by_experiment"),
            models.Index(fields=["name"], name="run_name"),
            gone_rows_index("run_gone"),
            models.Index(
                fields=["start_time"], condition=RUN_WITHOUT_ARTIFACTS, name="run_without_artifacts"
            ),
            models.Index(
                fields=["artifact_bytes"],
                condition=RUN_DELETED_WITH_ARTIFACTS,
                name="run_deleted_with_artifacts",
            ),
            models.Index(
                fields=["experiment", "lifecycle_stage"], condition=RUN_DELETED, name="run_deleted"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.run_id

    def get_absolute_url(self) -> str:
        return reverse("catalog:run_detail", args=[self.run_id])

    @property
    def duration(self):
        if self.start_time and self.end_time:
            return self.end_time - self.start_time
        return None


class MetricPoint(models.Model):
    """One point of a run's metric history, from ``get_metric_history``.

    Replaced wholesale for a run when its latest metrics change; never read from MLflow
    for an unchanged run.
    """

    # Indexed by the natural key (its leading column), not by an index of its own.
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="metric_points", db_index=False
    )
    key = models.CharField(max_length=250)
    step = models.BigIntegerField(default=0)
    timestamp = models.BigIntegerField(help_text="Milliseconds since the epoch, as MLflow.")
    value = models.FloatField(null=True)

    class Meta:
        ordering = ("run", "key", "step", "timestamp")
        constraints = [
            models.UniqueConstraint(
                fields=["run", "key", "step", "timestamp"], name="metric_point_natural_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.run_id} {self.key}[{self.step}]={self.value}"

    def get_absolute_url(self) -> str:
        return self.run.get_absolute_url()


class RegisteredModel(SyncedModel):
    """A registered model, from ``search_registered_models`` (with its aliases and tags).

    ``category`` is inferred by the sync from tags, flavor and name;
    ``category_override``, set in the admin, always wins.
    """

    name = models.TextField(editable=False)
    mlflow_description = models.TextField(blank=True, editable=False)
    tags = models.JSONField(default=dict, blank=True, editable=False)
    aliases = models.JSONField(
        default=dict, blank=True, editable=False, help_text="Alias -> version number."
    )
    creation_time = models.DateTimeField(null=True, blank=True, editable=False)
    last_updated_time = models.DateTimeField(null=True, blank=True, editable=False)
    category = models.CharField(
        max_length=32, choices=Category.choices, default=Category.OTHER, editable=False
    )
    latest_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    experiment = models.ForeignKey(
        Experiment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registered_models",
        editable=False,
        help_text="The experiment of the latest version's source run.",
    )

    description = models.TextField(blank=True, help_text="Curated description, in Markdown.")
    category_override = models.CharField(
        max_length=32,
        choices=Category.choices,
        blank=True,
        help_text="Set to override the category the sync infers.",
    )
    notes = models.TextField(blank=True, help_text="Curated notes for the team.")
    release_label = models.CharField(
        max_length=100,
        blank=True,
        help_text=(
            "The release this model ships in, e.g. 'V1.0 Production'. The mapping page's "
            "Status line counts the models of each release; blank: not released."
        ),
    )

    SYNCED_FIELDS = (
        "name",
        "mlflow_description",
        "tags",
        "aliases",
        "creation_time",
        "last_updated_time",
        "category",
        "latest_version",
        "experiment",
    )
    CURATED_FIELDS = ("description", "category_override", "notes", "release_label")

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(fields=["name"], name="registered_model_natural_key")
        ]
        indexes = [
            models.Index(fields=["category"], name="registered_model_category"),
            gone_rows_index("registered_model_gone"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from catalog.model_urls import model_url

        return model_url(self.name)

    @property
    def effective_category(self) -> str:
        return self.category_override or self.category

    def get_effective_category_display(self) -> str:
        return Category(self.effective_category).label

    @property
    def purpose(self) -> str:
        return self.description or self.mlflow_description


class LoggedModel(SyncedModel):
    """An MLflow 3 logged model (``m-<id>``), stored under ``{exp}/models/m-<id>/artifacts/``."""

    model_id = models.CharField(max_length=MLFLOW_ID_MAX_LENGTH, editable=False)
    # Indexed by logged_model_by_exp (its leading column), not by an index of its own.
    experiment = models.ForeignKey(
        Experiment,
        on_delete=models.CASCADE,
        related_name="logged_models",
        editable=False,
        db_index=False,
    )
    name = models.TextField(blank=True, editable=False)
    run = models.ForeignKey(
        Run,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="logged_models",
        editable=False,
    )
    source_run_id = models.CharField(max_length=MLFLOW_ID_MAX_LENGTH, blank=True, editable=False)
    status = models.CharField(max_length=32, blank=True, editable=False)
    artifact_location = models.TextField(blank=True, editable=False)
    tags = models.JSONField(default=dict, blank=True, editable=False)
    params = models.JSONField(default=dict, blank=True, editable=False)
    metrics = models.JSONField(default=dict, blank=True, editable=False)
    creation_time = models.DateTimeField(null=True, blank=True, editable=False)
    last_updated_time = models.DateTimeField(null=True, blank=True, editable=False)
    artifact_count = models.PositiveIntegerField(default=0, editable=False)
    artifact_bytes = models.PositiveBigIntegerField(default=0, editable=False)

    description = models.TextField(blank=True, help_text="Curated description, in Markdown.")
    notes = models.TextField(blank=True, help_text="Curated notes for the team.")

    SYNCED_FIELDS = (
        "model_id",
        "experiment",
        "name",
        "run",
        "source_run_id",
        "status",
        "artifact_location",
        "tags",
        "params",
        "metrics",
        "creation_time",
        "last_updated_time",
        "artifact_count",
        "artifact_bytes",
    )
    CURATED_FIELDS = ("description", "notes")

    class Meta:
        ordering = ("-creation_time", "model_id")
        constraints = [
            models.UniqueConstraint(fields=["model_id"], name="logged_model_natural_key")
        ]
        indexes = [
            models.Index(fields=["experiment", "creation_time"], name="logged_model_by_exp"),
            gone_rows_index("logged_model_gone"),
        ]

    def __str__(self) -> str:
        return self.name or self.model_id

    def get_absolute_url(self) -> str:
        return reverse("catalog:logged_model_detail", args=[self.model_id])


class ModelVersion(SyncedModel):
    """A version of a registered model, from ``search_model_versions``.

    ``source`` is kept verbatim; the sync resolves it by string rules to
    (``artifact_bucket``, ``artifact_prefix``) and records in ``artifacts_present``
    whether S3 holds anything there (null when the source could not be resolved).
    Aliases come from the registered model, since ``search_model_versions`` omits them.
    """

    # Indexed by the natural key (its leading column), not by an index of its own.
    registered_model = models.ForeignKey(
        RegisteredModel,
        on_delete=models.CASCADE,
        related_name="versions",
        editable=False,
        db_index=False,
    )
    version = models.PositiveIntegerField(editable=False)
    source = models.TextField(blank=True, editable=False)
    run = models.ForeignKey(
        Run,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="model_versions",
        editable=False,
    )
    source_run_id = models.CharField(max_length=MLFLOW_ID_MAX_LENGTH, blank=True, editable=False)
    logged_model = models.ForeignKey(
        LoggedModel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="model_versions",
        editable=False,
    )
    status = models.CharField(max_length=32, blank=True, editable=False)
    stage = models.CharField(max_length=32, blank=True, editable=False)
    aliases = models.JSONField(default=list, blank=True, editable=False)
    tags = models.JSONField(default=dict, blank=True, editable=False)
    mlflow_description = models.TextField(blank=True, editable=False)
    creation_time = models.DateTimeField(null=True, blank=True, editable=False)
    last_updated_time = models.DateTimeField(null=True, blank=True, editable=False)
    artifact_bucket = models.CharField(max_length=S3_BUCKET_MAX_LENGTH, blank=True, editable=False)
    # Text: a ``runs:/<run>/<path>`` source's path is as long as MLflow lets it be.
    artifact_prefix = models.TextField(blank=True, editable=False)
    artifacts_present = models.BooleanField(null=True, editable=False)

    notes = models.TextField(blank=True, help_text="Curated notes for the team.")

    SYNCED_FIELDS = (
        "registered_model",
        "version",
        "source",
        "run",
        "source_run_id",
        "logged_model",
        "status",
        "stage",
        "aliases",
        "tags",
        "mlflow_description",
        "creation_time",
        "last_updated_time",
        "artifact_bucket",
        "artifact_prefix",
        "artifacts_present",
    )
    CURATED_FIELDS = ("notes",)

    class Meta:
        ordering = ("registered_model", "-version")
        constraints = [
            models.UniqueConstraint(
                fields=["registered_model", "version"], name="model_version_natural_key"
            )
        ]
        # The natural key serves (model, version) lookups and the run FK has its own
        # index, so the only other index is the gone rows'.
        indexes = [gone_rows_index("model_version_gone")]

    def __str__(self) -> str:
        return f"{self.registered_model.name} v{self.version}"

    def get_absolute_url(self) -> str:
        from catalog.model_urls import model_version_url

        return model_version_url(self.registered_model.name, self.version)


class Artifact(SyncedModel):
    """One S3 object, from the ``list_objects_v2`` walk of a bucket root.

    ``key`` is stored verbatim. The owner is the run (``{exp}/{run_id}/artifacts/...``)
    or the MLflow 3 logged model (``{exp}/models/m-<id>/artifacts/...``) the key belongs
    to, or nothing: an orphan. ``path`` is the key relative to the owner's ``artifacts/``
    folder (the whole key for an orphan) and ``folder`` is the directory part of ``path``
    ("" at the top), so a folder listing is one indexed lookup. ``orphan_folder`` groups
    orphans for the drift report (e.g. ``"1/<unknown run id>/"``).

    ``meta`` holds what the sync parsed from the object's content (an ``MLmodel``'s
    flavors and signature, a ``feature_names.txt`` list); ``meta_etag`` is the ETag it
    was parsed from, so content is only re-read when the object changed.
    """

    bucket = models.CharField(max_length=S3_BUCKET_MAX_LENGTH, editable=False)
    key = models.CharField(max_length=S3_KEY_MAX_LENGTH, editable=False)
    # Both owners are indexed by their folder indexes (leading column), not on their own.
    run = models.ForeignKey(
        Run,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="artifacts",
        editable=False,
        db_index=False,
    )
    logged_model = models.ForeignKey(
        LoggedModel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="artifacts",
        editable=False,
        db_index=False,
    )
    path = models.CharField(max_length=S3_KEY_MAX_LENGTH, editable=False)
    folder = models.CharField(max_length=S3_KEY_MAX_LENGTH, blank=True, editable=False)
    orphan_folder = models.CharField(max_length=S3_KEY_MAX_LENGTH, blank=True, editable=False)
    size = models.PositiveBigIntegerField(default=0, editable=False)
    etag = models.CharField(max_length=128, blank=True, editable=False)
    last_modified = models.DateTimeField(null=True, blank=True, editable=False)
    meta = models.JSONField(default=dict, blank=True, editable=False)
    meta_etag = models.CharField(max_length=128, blank=True, editable=False)

    SYNCED_FIELDS = (
        "bucket",
        "key",
        "run",
        "logged_model",
        "path",
        "folder",
        "orphan_folder",
        "size",
        "etag",
        "last_modified",
        "meta",
        "meta_etag",
    )
    CURATED_FIELDS = ()

    class Meta:
        ordering = ("bucket", "key")
        constraints = [
            models.UniqueConstraint(fields=["bucket", "key"], name="artifact_natural_key")
        ]
        # Every insert of the first sync (a million at the benchmark's scale) pays for
        # each index, so there are few: the natural key, the run's folders (which also
        # finds the orphans: ``run_id IS NULL`` is a short range of it), and partial
        # indexes for the few rows that are a logged model's files or gone. A lookup by
        # owner (``logged_model_id = %s``) or for gone rows implies their condition.
        indexes = [
            models.Index(fields=["run", "folder", "path"], name="artifact_by_run_folder"),
            models.Index(
                fields=["logged_model", "folder", "path"],
                condition=models.Q(logged_model__isnull=False),
                name="artifact_by_lm_folder",
            ),
            gone_rows_index("artifact_gone"),
        ]

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def get_absolute_url(self) -> str:
        if self.run_id is not None:
            return reverse("catalog:run_artifact", args=[self.run.run_id, self.path])
        if self.logged_model_id is not None:
            return reverse(
                "catalog:logged_model_artifact", args=[self.logged_model.model_id, self.path]
            )
        return reverse("catalog:audit")

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def is_orphan(self) -> bool:
        return self.run_id is None and self.logged_model_id is None


class ListingRange(models.Model):
    """A stretch of one walk's S3 listing, with the digest of what it held last sync.

    A walk's ranges split its keys by their ``start_key`` (the first from the walk's
    prefix on, the last to the prefix's end). ``digest`` hashes every object listed in
    the range, key and fingerprint fields in listing order, as the last sync that walked
    it saw them; ``rows`` counts them. A sync whose listing of a range hashes the same
    knows every catalogued row there is unchanged without reading one (ADR 0015). Kept
    by the sync alone; trusted only after a sync that ended ``ok``.
    """

    bucket = models.CharField(max_length=S3_BUCKET_MAX_LENGTH, editable=False)
    walk_prefix = models.CharField(max_length=S3_KEY_MAX_LENGTH, blank=True, editable=False)
    start_key = models.CharField(max_length=S3_KEY_MAX_LENGTH, blank=True, editable=False)
    rows = models.PositiveIntegerField(default=0, editable=False)
    digest = models.CharField(max_length=32, editable=False)

    class Meta:
        indexes = [models.Index(fields=["bucket", "walk_prefix"], name="listing_range_by_walk")]

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.start_key} ({self.rows} objects)"


class SyncRun(models.Model):
    """One run of ``sync_registry`` (or of the admin action that calls the same code)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"
        # Left "running" by a sync whose process died (killed, machine down): the next
        # sync, which holds the lock, knows it cannot still be running and marks it.
        ABORTED = "aborted", "Aborted"

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    dry_run = models.BooleanField(default=False)
    options = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    orphans = models.PositiveBigIntegerField(default=0)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    duration_s = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ("-started_at",)
        indexes = [models.Index(fields=["-started_at"], name="sync_run_recent")]

    def __str__(self) -> str:
        return f"sync {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    def get_absolute_url(self) -> str:
        return reverse("admin:catalog_syncrun_change", args=[self.pk])
