"""Artifact changes, summed per owner and sync: never one event per S3 object.

The artifact rows are written a batch at a time, possibly by a writer process
(``catalog.sync.artifacts.writer``), so this process keeps a tally instead: the write
queue notes each object it queues (owner pk, size, new / back / changed), the
missing-marking adds the gone ones grouped by owner (one grouped query per batch),
and ``write_artifact_events`` writes one ``artifacts`` event per run or logged model
whose files changed, after the missing-marking, in one transaction.

Orphans: a folder (``Artifact.orphan_folder``; a key of its own at a bucket's top, as
the audit page lists them) is new when this sync writes an orphan row in it and it
held no present orphan before. That is asked of the database once per such folder,
the first time the queue sees it and before the batch that holds it is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Sum

from catalog.models import Artifact, ChangeEvent, Experiment, LoggedModel, Run
from catalog.sync.artifacts.stored import binary_key, prefix_upper_bound
from catalog.sync.changes.diff import format_bytes
from catalog.sync.changes.entities import Identity
from catalog.sync.changes.log import ChangeLog, Event
from catalog.sync.layout import BUCKET_TOP_GROUP, folder_prefix, resolve_artifact_uri

Entity, Kind = ChangeEvent.Entity, ChangeEvent.Kind
LOOKUP_BATCH = 500
Owner = tuple[int | None, int | None]  # (run pk, logged model pk)


@dataclass
class OwnerTally:
    """One owner's artifact changes in this sync."""

    added: int = 0
    changed: int = 0
    gone: int = 0
    bytes_added: int = 0
    bytes_removed: int = 0

    def as_changes(self) -> dict[str, int]:
        return {
            "added": self.added,
            "changed": self.changed,
            "gone": self.gone,
            "bytes_added": self.bytes_added,
            "bytes_removed": self.bytes_removed,
        }

    def summary(self) -> str:
        """The event's words: "3 files added (1.2 MB), 1 changed, 2 gone (300 B)"."""
        parts = []
        if self.added:
            parts.append(f"{_files(self.added)} added ({format_bytes(self.bytes_added)})")
        if self.changed:
            parts.append(f"{_files(self.changed) if not parts else self.changed} changed")
        if self.gone:
            count = _files(self.gone) if not parts else str(self.gone)
            parts.append(f"{count} gone ({format_bytes(self.bytes_removed)})")
        return ", ".join(parts)


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


@dataclass
class OrphanFolder:
    """A folder this sync wrote orphan rows in; ``new`` once the database was asked."""

    objects: int = 0
    size: int = 0
    new: bool | None = None


@dataclass
class ArtifactTally:
    """A sync's artifact changes by owner, and the orphan folders it wrote rows in."""

    owners: dict[Owner, OwnerTally] = field(default_factory=dict)
    orphans: dict[tuple[str, str], OrphanFolder] = field(default_factory=dict)

    def note(
        self,
        *,
        bucket: str,
        key: str,
        run_pk: int | None,
        model_pk: int | None,
        group: str,
        size: int,
        was: str,
    ) -> None:
        """One queued object: ``was`` "new", "gone" (it is back) or "present" (changed)."""
        if run_pk is None and model_pk is None:
            if group:
                entry = key if group == BUCKET_TOP_GROUP else group
                folder = self.orphans.setdefault((bucket, entry), OrphanFolder())
                folder.objects += 1
                folder.size += size
            return
        tally = self.owners.setdefault((run_pk, model_pk), OwnerTally())
        if was == "present":
            tally.changed += 1
        else:
            tally.added += 1
            tally.bytes_added += size

    def gone(self, *, run_pk: int | None, model_pk: int | None, objects: int, size: int) -> None:
        """``objects`` of one owner marked missing (orphans are not summed)."""
        if run_pk is None and model_pk is None:
            return
        tally = self.owners.setdefault((run_pk, model_pk), OwnerTally())
        tally.gone += objects
        tally.bytes_removed += size

    def settle_orphans(self, *, bucket: str) -> None:
        """Ask, for each folder of ``bucket`` seen for the first time, whether it held
        present orphans before: call it before the batch that holds them is written."""
        for (folder_bucket, entry), folder in self.orphans.items():
            if folder.new is None and folder_bucket == bucket:
                folder.new = not _held_orphans(bucket=bucket, entry=entry)


def _held_orphans(*, bucket: str, entry: str) -> bool:
    """Whether present orphan rows of this folder (or this bucket-top key) exist."""
    orphans = Artifact.objects.filter(
        bucket=bucket, run=None, logged_model=None, missing_since=None
    )
    if not entry.endswith("/"):
        return orphans.filter(key=entry).exists()
    # The folder's keys are a range of the (bucket, key) index, compared by code point
    # as the sync's own reads do (``catalog.sync.artifacts.stored``).
    upper = prefix_upper_bound(entry)
    rows = orphans.alias(ordered_key=binary_key()).filter(
        orphan_folder=entry, ordered_key__gte=entry
    )
    if upper is not None:
        rows = rows.filter(ordered_key__lt=upper)
    return rows.exists()


def write_artifact_events(
    *, log: ChangeLog, tally: ArtifactTally, artifacts_destination: str
) -> None:
    """Write the tally's events: one per owner whose files changed, one per new orphan
    folder, in one transaction."""
    events = [*_owner_events(tally.owners), *_orphan_events(tally, artifacts_destination)]
    if events:
        with transaction.atomic():
            log.write(events)
    tally.owners.clear()
    tally.orphans.clear()


def _owner_events(owners: dict[Owner, OwnerTally]) -> Iterable[Event]:
    run_pks = sorted(run for run, model in owners if run is not None)
    model_pks = sorted(model for run, model in owners if run is None and model is not None)
    runs = _identities(Run, "run_id", run_pks)
    models = _identities(LoggedModel, "model_id", model_pks)
    for (run_pk, model_pk), tally in owners.items():
        if run_pk is not None:
            entity, pk, identity = Entity.RUN, run_pk, runs.get(run_pk)
        else:
            entity, pk, identity = Entity.LOGGED_MODEL, model_pk, models.get(model_pk)
        if identity is None:  # its row went in the meantime (never during a sync)
            continue
        yield Event(entity, Kind.ARTIFACTS, pk, identity, tally.as_changes(), tally.summary())


def _identities(model: type, key_field: str, pks: list[int]) -> dict[int, Identity]:
    found = {}
    for start in range(0, len(pks), LOOKUP_BATCH):
        rows = model.objects.filter(pk__in=pks[start : start + LOOKUP_BATCH]).values_list(
            "pk", key_field, "name", "experiment_id"
        )
        for pk, key, name, experiment_pk in rows:
            found[pk] = Identity(key, name or key, experiment_pk, None)
    return found


def _orphan_events(tally: ArtifactTally, artifacts_destination: str) -> Iterable[Event]:
    new = [(place, folder) for place, folder in tally.orphans.items() if folder.new]
    if not new:
        return
    folders = _experiment_folders(artifacts_destination)
    for (bucket, entry), folder in sorted(new, key=lambda item: item[0]):
        uri = f"s3://{bucket}/{entry}"
        identity = Identity(uri, entry, _experiment_of(folders, bucket, entry), None)
        changes = {"objects": folder.objects, "bytes": folder.size}
        objects = _files(folder.objects).replace("file", "object")
        summary = f"new orphan folder {uri}: {objects}, {format_bytes(folder.size)}"
        yield Event(Entity.ORPHAN_FOLDER, Kind.ORPHANS, None, identity, changes, summary)


def _experiment_folders(destination: str) -> list[tuple[str, str, int]]:
    """(bucket, folder prefix, experiment pk) of every experiment, longest prefix first."""
    folders = []
    for pk, location in Experiment.objects.values_list("pk", "artifact_location"):
        resolved = resolve_artifact_uri(location, artifacts_destination=destination)
        if resolved is not None:
            folders.append((resolved[0], folder_prefix(resolved[1]), pk))
    return sorted(folders, key=lambda item: len(item[1]), reverse=True)


def _experiment_of(folders: list[tuple[str, str, int]], bucket: str, entry: str) -> int | None:
    for folder_bucket, prefix, pk in folders:
        if folder_bucket == bucket and prefix and entry.startswith(prefix):
            return pk
    return None


def gone_by_owner(pks: list[int]) -> Iterable[tuple[int | None, int | None, int, int]]:
    """(run pk, logged model pk, objects, bytes) of the present rows among ``pks``:
    one grouped query, for the missing-marking's batch about to mark them."""
    rows = (
        Artifact.objects.filter(pk__in=pks, missing_since__isnull=True)
        .values("run_id", "logged_model_id")
        .annotate(objects=Count("pk"), size=Sum("size"))
        .order_by()
    )
    for row in rows:
        yield row["run_id"], row["logged_model_id"], row["objects"], row["size"] or 0
