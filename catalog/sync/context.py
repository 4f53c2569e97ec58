"""``SyncContext``: one sync's state, handed from stage to stage.

``catalog.sync.reconcile`` makes one and runs the stages of ``catalog.sync.stages`` over
it in order. A stage reads what earlier stages left here (the experiments' pks, the
runs' index, each entity's ``KeyedTable``) and adds what later ones need (missing
candidates, listing ranges); everything it has to say lands in ``report``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from catalog.models import Run
from catalog.sync.artifacts.ranges import WalkRanges
from catalog.sync.bulk import IS_MISSING, iter_raw_rows
from catalog.sync.changes.artifacts import ArtifactTally
from catalog.sync.changes.entities import SPECS
from catalog.sync.changes.log import ChangeLog, TableRecorder
from catalog.sync.records import MlflowSourceLike, S3SourceLike
from catalog.sync.report import SyncOptions, SyncReport
from catalog.sync.upsert import KeyedTable

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "COPY")
# What MLflow lists; artifacts' owners come from these three (see ``mlflow_complete``).
MLFLOW_ENTITIES = ("experiments", "runs", "logged_models")


@dataclass(frozen=True, slots=True)
class RunIndexEntry:
    """What later stages need of a stored run: its pk, its experiment, its artifact URI."""

    pk: int
    experiment_pk: int
    artifact_uri: str
    missing: bool


@dataclass
class SyncContext:
    """A sync's sources, options, clock and the state its stages share.

    ``totals_current``: the stored totals match the stored rows (the previous sync
    finished), so a sync that writes nothing may skip recomputing them.
    ``ranges_current``: the stored listing ranges match the stored rows (the previous
    sync ended ok), so a walk's unchanged ranges need read no row (ADR 0015).
    ``sync_run_id``: the ``SyncRun`` its change events belong to (none in a dry run).
    """

    mlflow: MlflowSourceLike
    s3: S3SourceLike
    options: SyncOptions
    report: SyncReport
    totals_current: bool = False
    ranges_current: bool = False
    now: datetime = field(default_factory=timezone.now)
    sync_run_id: int | None = None
    # Where the stages' change events go, and the artifact stage's per-owner tally.
    changes: ChangeLog = field(init=False)
    artifact_changes: ArtifactTally = field(default_factory=ArtifactTally)
    # MLflow entities whose listing failed part-way: nothing is marked missing then.
    incomplete: set[str] = field(default_factory=set)
    # entity -> its table of natural key -> row, filled by the stage that syncs it.
    tables: dict[str, KeyedTable] = field(default_factory=dict)
    experiment_pks: dict[str, int] = field(default_factory=dict)
    # The artifact stage's missing candidates and the present rows it compared.
    artifact_missing: list[int] = field(default_factory=list)
    artifact_present_before: int = 0
    artifact_bytes_created: int = 0
    # The walks' listing ranges for the next sync, and the walks whose stored ones go.
    walk_ranges: list[WalkRanges] = field(default_factory=list)
    ranges_dropped: list[tuple[str, str]] = field(default_factory=list)
    # Statements that changed rows (this process's, and the writer process's).
    write_statements: int = 0
    _run_index: dict[str, RunIndexEntry] | None = None

    def __post_init__(self) -> None:
        self.changes = ChangeLog(now=self.now, sync_run_id=self.sync_run_id)

    @property
    def scope(self) -> set[str]:
        """The experiment ids a limited sync covers (empty: everything)."""
        return set(self.options.experiment_ids)

    def progress(self, message: str) -> None:
        """Tell the caller's progress callback (the command's ``--verbosity 2``)."""
        if self.options.progress is not None:
            self.options.progress(message)

    def source_failed(self, entity: str, error: Exception) -> None:
        """Record that ``entity``'s listing broke off: a warning, and no missing-marking."""
        self.incomplete.add(entity)
        self.report.warn(f"{entity}: {error}")

    def mlflow_complete(self) -> bool:
        """Every MLflow listing that decides artifact owners finished."""
        return not (set(MLFLOW_ENTITIES) & self.incomplete)

    def new_table(self, model: type, entity: str, existing: dict) -> KeyedTable:
        """A ``KeyedTable`` for ``entity``, kept in ``tables`` for the missing-marking;
        it records its changes unless this is the catalogue's first sync."""
        table = KeyedTable(
            model=model,
            counts=self.report.counts[entity],
            now=self.now,
            batch_size=self.options.batch_size,
            existing=existing,
        )
        spec = SPECS.get(entity)
        if spec is not None and not self.changes.initial_import:
            table.recorder = TableRecorder(spec=spec, log=self.changes)
        self.tables[entity] = table
        return table

    def count_writes(self, execute, sql, params, many, context):
        """A ``connection.execute_wrapper`` counting the statements that change rows."""
        if sql.lstrip()[:6].upper().startswith(WRITE_VERBS):
            self.write_statements += 1
        return execute(sql, params, many, context)

    def run_index(self) -> dict[str, RunIndexEntry]:
        """run_id -> its stored run, read once after the runs stage (later stages do not
        change runs until the missing-marking)."""
        if self._run_index is None:
            rows = Run.objects.annotate(gone=IS_MISSING).values_list(
                "run_id", "pk", "experiment_id", "artifact_uri", "gone"
            )
            self._run_index = {
                run_id: RunIndexEntry(pk, experiment_pk, uri, bool(missing))
                for run_id, pk, experiment_pk, uri, missing in iter_raw_rows(rows, chunk_size=10000)
            }
        return self._run_index

    def forget_run_index(self) -> None:
        """Drop the run index; the next ``run_index()`` reads it again.

        The artifact stage calls it once it has built its owner map: through the walk,
        that map is the one thing that should grow with the bucket.
        """
        self._run_index = None
