"""Stage 3: registered models and their versions.

Runs after the artifact walk: a version's ``MLmodel`` flavors (and through them the
model's category) are read from the artifact rows the walk just wrote. A version is
linked to its run or logged model, and to the S3 prefix its source names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from catalog.models import Artifact, LoggedModel, ModelVersion, RegisteredModel
from catalog.sync.bulk import IS_MISSING
from catalog.sync.categories import infer_category
from catalog.sync.context import RunIndexEntry, SyncContext
from catalog.sync.layout import folder_prefix, resolve_artifact_uri, version_source_prefix
from catalog.sync.records import ModelVersionRecord, RegisteredModelRecord, SourceError
from catalog.sync.stages.mlflow_entities import existing_rows
from catalog.sync.upsert import from_millis

# Keys looked up in one query (bucket and key together: the natural-key index).
LOOKUP_BATCH = 500
Location = tuple[str, str]  # (bucket, folder prefix)


@dataclass(frozen=True, slots=True)
class _LoggedModelEntry:
    pk: int
    experiment_pk: int
    artifact_location: str


@dataclass(frozen=True, slots=True)
class _VersionLinks:
    """A version's record and what it points at in the catalogue."""

    record: ModelVersionRecord
    run: RunIndexEntry | None
    logged_model: _LoggedModelEntry | None
    location: Location | None

    @property
    def experiment_pk(self) -> int | None:
        owner = self.run or self.logged_model
        return owner.experiment_pk if owner else None


def sync_registry(ctx: SyncContext) -> None:
    """Upsert the registered models, then their versions (models first: a version
    row points at its model's pk)."""
    ctx.progress("listing the model registry")
    try:
        models = list(ctx.mlflow.iter_registered_models())
    except SourceError as error:
        ctx.source_failed("registered_models", error)
        ctx.incomplete.add("model_versions")
        return
    versions: list[ModelVersionRecord] = []
    try:
        versions = list(ctx.mlflow.iter_model_versions())
    except SourceError as error:
        ctx.source_failed("model_versions", error)
    names = {model.name for model in models}
    links = _link_versions(ctx, [version for version in versions if version.model_name in names])
    model_pks = _sync_models(ctx, models, links)
    _sync_versions(ctx, models, links, model_pks)


def _link_versions(
    ctx: SyncContext, versions: list[ModelVersionRecord]
) -> dict[tuple[str, int], _VersionLinks]:
    runs = ctx.run_index()
    logged = {
        model_id: _LoggedModelEntry(pk, experiment_pk, uri)
        for model_id, pk, experiment_pk, uri in LoggedModel.objects.values_list(
            "model_id", "pk", "experiment_id", "artifact_location"
        )
    }
    destination = ctx.options.artifacts_destination

    def resolved(uri: str | None) -> Location | None:
        if not uri:
            return None
        location = resolve_artifact_uri(uri, artifacts_destination=destination)
        return None if location is None else (location[0], folder_prefix(location[1]))

    links = {}
    for record in versions:
        run = runs.get(record.run_id)
        model_id = record.model_id or (
            record.source[len("models:/") :] if record.source.startswith("models:/m-") else ""
        )
        logged_model = logged.get(model_id)
        location = version_source_prefix(
            source=record.source,
            run_prefix=resolved(run.artifact_uri) if run else None,
            logged_model_prefix=resolved(logged_model.artifact_location) if logged_model else None,
            artifacts_destination=destination,
        )
        links[(record.model_name, record.version)] = _VersionLinks(
            record=record, run=run, logged_model=logged_model, location=location
        )
    return links


def _sync_models(
    ctx: SyncContext,
    models: list[RegisteredModelRecord],
    links: dict[tuple[str, int], _VersionLinks],
) -> dict[str, int]:
    """Upsert the models, each categorised by its latest version; name -> pk."""
    latest_of: dict[str, _VersionLinks] = {}
    for link in links.values():
        current = latest_of.get(link.record.model_name)
        if current is None or link.record.version > current.record.version:
            latest_of[link.record.model_name] = link
    flavors = _mlmodel_flavors(link.location for link in latest_of.values() if link.location)
    existing = existing_rows(RegisteredModel.objects.all(), natural_key="name")
    table = ctx.new_table(RegisteredModel, "registered_models", existing)
    for model in models:
        latest = latest_of.get(model.name)
        category = infer_category(
            name=model.name,
            tags=model.tags,
            version_tags=latest.record.tags if latest else None,
            flavors=flavors.get(latest.location, []) if latest and latest.location else [],
        )
        table.upsert(
            model.name,
            {
                "name": model.name,
                "mlflow_description": model.description,
                "tags": model.tags,
                "aliases": dict(sorted(model.aliases.items())),
                "creation_time": from_millis(model.creation_time),
                "last_updated_time": from_millis(model.last_updated_time),
                "category": category,
                "latest_version": latest.record.version if latest else None,
                "experiment_id": latest.experiment_pk if latest else None,
            },
        )
    table.flush()
    return table.pks


def _sync_versions(
    ctx: SyncContext,
    models: list[RegisteredModelRecord],
    links: dict[tuple[str, int], _VersionLinks],
    model_pks: dict[str, int],
) -> None:
    aliases_of: dict[tuple[str, int], list[str]] = defaultdict(list)
    for model in models:
        for alias, version in model.aliases.items():
            aliases_of[(model.name, version)].append(alias)
    existing = {
        (name, version): (pk, digest, missing is not None)
        for pk, name, version, digest, missing in ModelVersion.objects.values_list(
            "pk", "registered_model__name", "version", "fingerprint", "missing_since"
        )
    }
    table = ctx.new_table(ModelVersion, "model_versions", existing)
    for natural_key, link in links.items():
        record, location = link.record, link.location
        table.upsert(natural_key, _version_values(
            record,
            registered_model_pk=model_pks[record.model_name],
            run_pk=link.run.pk if link.run else None,
            logged_model_pk=link.logged_model.pk if link.logged_model else None,
            aliases=sorted(aliases_of.get(natural_key, [])),
            location=location,
        ))  # fmt: skip
    table.flush()


def _version_values(
    record: ModelVersionRecord,
    *,
    registered_model_pk: int,
    run_pk: int | None,
    logged_model_pk: int | None,
    aliases: list[str],
    location: Location | None,
) -> dict[str, Any]:
    return {
        "registered_model_id": registered_model_pk,
        "version": record.version,
        "source": record.source,
        "run_id": run_pk,
        "source_run_id": record.run_id,
        "logged_model_id": logged_model_pk,
        "status": record.status,
        "stage": record.stage,
        "aliases": aliases,
        "tags": record.tags,
        "mlflow_description": record.description,
        "creation_time": from_millis(record.creation_time),
        "last_updated_time": from_millis(record.last_updated_time),
        "artifact_bucket": location[0] if location else "",
        "artifact_prefix": location[1] if location else "",
    }


def _mlmodel_flavors(locations: Iterable[Location]) -> dict[Location, list[str]]:
    """(bucket, prefix) -> the flavors of the present ``MLmodel`` stored there."""
    wanted = {(bucket, f"{prefix}MLmodel"): (bucket, prefix) for bucket, prefix in locations}
    found: dict[Location, list[str]] = {}
    keys_by_bucket: dict[str, list[str]] = defaultdict(list)
    for bucket, key in wanted:
        keys_by_bucket[bucket].append(key)
    for bucket, keys in keys_by_bucket.items():
        for start in range(0, len(keys), LOOKUP_BATCH):
            # bucket and key together: the natural-key index; key alone scans the table.
            # "Missing" is read, not filtered on: with statistics not yet updated
            # after a big first sync, PostgreSQL otherwise bitmap-scans the
            # missing_since index over every present row (3.5 s a sync at 1M rows).
            rows = (
                Artifact.objects.filter(bucket=bucket, key__in=keys[start : start + LOOKUP_BATCH])
                .annotate(gone=IS_MISSING)
                .values_list("key", "meta", "gone")
            )
            for key, meta, gone in rows:
                if not gone and isinstance(meta, dict):
                    found[wanted[(bucket, key)]] = list(meta.get("flavors") or [])
    return found
