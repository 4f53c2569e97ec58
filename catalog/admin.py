"""The admin: team leads edit curated fields; everything mirrored is read-only.

Mirrored rows come only from the sync, so the admin offers no "add" for them and shows
their synced fields read-only. Deleting is left to ``sync_registry
--purge-missing-older-than``: a row deleted by hand would come straight back.
Feed tokens, webhooks and webhook deliveries have their admin in ``catalog.admin_changes``.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

# Feed tokens, webhooks and their deliveries: registered there.
import catalog.admin_changes  # noqa: F401
from catalog.models import (
    Artifact,
    Experiment,
    LoggedModel,
    ModelVersion,
    RegisteredModel,
    Run,
    SyncRun,
)


class MirroredAdmin(admin.ModelAdmin):
    """Base for mirrored models: synced and bookkeeping fields are read-only."""

    list_per_page = 50
    show_full_result_count = False  # a COUNT(*) over millions of artifacts is slow

    def get_readonly_fields(self, request, obj=None):
        return (*self.model.SYNCED_FIELDS, *self.model.BOOKKEEPING_FIELDS)

    def get_fields(self, request, obj=None):
        return (
            *self.model.CURATED_FIELDS,
            *self.model.SYNCED_FIELDS,
            *self.model.BOOKKEEPING_FIELDS,
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description="present", ordering="missing_since")
    def present(self, obj) -> bool:
        return obj.missing_since is None


@admin.register(Experiment)
class ExperimentAdmin(MirroredAdmin):
    list_display = (
        "experiment_id",
        "name",
        "specialized_domain",
        "lifecycle_stage",
        "run_count",
        "present",
        "last_seen",
    )
    list_filter = (
        "lifecycle_stage",
        ("missing_since", admin.EmptyFieldListFilter),
        ("specialized_domain", admin.EmptyFieldListFilter),
    )
    search_fields = ("experiment_id", "name", "description", "mlflow_description")


@admin.register(Run)
class RunAdmin(MirroredAdmin):
    list_display = (
        "run_id",
        "name",
        "experiment",
        "status",
        "lifecycle_stage",
        "start_time",
        "present",
    )
    list_filter = ("status", "lifecycle_stage", ("missing_since", admin.EmptyFieldListFilter))
    search_fields = ("run_id", "name", "experiment__name")
    list_select_related = ("experiment",)
    raw_id_fields = ("experiment",)


@admin.register(RegisteredModel)
class RegisteredModelAdmin(MirroredAdmin):
    list_display = (
        "name",
        "category",
        "category_override",
        "release_label",
        "latest_version",
        "present",
        "last_seen",
    )
    list_filter = (
        "category",
        "category_override",
        "release_label",
        ("missing_since", admin.EmptyFieldListFilter),
    )
    search_fields = ("name", "description", "mlflow_description")
    list_editable = ("category_override",)


@admin.register(ModelVersion)
class ModelVersionAdmin(MirroredAdmin):
    list_display = (
        "registered_model",
        "version",
        "status",
        "stage",
        "source_run_id",
        "artifacts_present",
        "present",
    )
    list_filter = (
        "status",
        "stage",
        "artifacts_present",
        ("missing_since", admin.EmptyFieldListFilter),
    )
    search_fields = ("registered_model__name", "source", "source_run_id")
    list_select_related = ("registered_model",)


@admin.register(LoggedModel)
class LoggedModelAdmin(MirroredAdmin):
    list_display = ("model_id", "name", "experiment", "status", "present")
    list_filter = ("status", ("missing_since", admin.EmptyFieldListFilter))
    search_fields = ("model_id", "name", "source_run_id")
    list_select_related = ("experiment",)


@admin.register(Artifact)
class ArtifactAdmin(MirroredAdmin):
    list_display = ("key", "bucket", "size", "last_modified", "owner", "present")
    list_filter = ("bucket", ("missing_since", admin.EmptyFieldListFilter))
    search_fields = ("=key",)  # exact match: a LIKE scan over millions of keys is too slow
    list_select_related = ("run", "logged_model")

    @admin.display(description="owner")
    def owner(self, obj: Artifact) -> str:
        if obj.run_id:
            return f"run {obj.run.run_id}"
        if obj.logged_model_id:
            return f"logged model {obj.logged_model.model_id}"
        return "orphan"


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """Sync history, newest first: read-only, the sync command writes it."""

    list_display = (
        "started_at",
        "finished_at",
        "status_badge",
        "dry_run",
        "duration_s",
        "orphans",
        "warning_count",
    )
    list_filter = ("status", "dry_run")
    search_fields = ("error",)
    date_hierarchy = "started_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: SyncRun) -> str:
        return format_html('<span class="sync-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description="warnings")
    def warning_count(self, obj: SyncRun) -> int:
        return len(obj.warnings or [])


admin.site.site_header = "SmartMaint catalogue administration"
admin.site.site_title = "SmartMaint catalogue"
