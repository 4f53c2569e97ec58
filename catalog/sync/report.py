"""What a sync is asked to do and what it reports: options, counts, the report, and
the log line of each stage.

No database and no sources here; ``SyncReport.as_dict()`` is the ``--json`` object.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from catalog.sync.artifacts.content import PARSE_PROCESS_MIN_BATCH
from catalog.sync.artifacts.writer import WRITER_PROCESS_MIN_ROWS
from catalog.sync.text_limits import storable_text

logger = logging.getLogger("catalog.sync")

ENTITIES = (
    "experiments",
    "runs",
    "registered_models",
    "model_versions",
    "logged_models",
    "artifacts",
)
MAX_WARNINGS = 200


@dataclass(frozen=True)
class SyncOptions:
    """What a sync does. ``experiment_ids`` limits it (and its missing-marking)."""

    dry_run: bool = False
    experiment_ids: tuple[str, ...] = ()
    max_missing_share: float = 0.2
    extra_roots: tuple[str, ...] = ()
    artifacts_destination: str = ""
    batch_size: int = 5000
    # Small-file reads in flight at once (catalog.sync.artifacts.content); 1 reads inline.
    read_workers: int = 8
    # Chunks of listed S3 records (1,000 each) the listing thread may run ahead of the
    # artifact stage; it starts while MLflow runs are listed. 0: list inline.
    list_ahead: int = 32
    # Files per flush from which their parsing goes to a parse process; 0: never.
    parse_process_min_batch: int = PARSE_PROCESS_MIN_BATCH
    # Rows of an artifact batch from which batches go to a writer process; 0: never.
    writer_process_min_rows: int = WRITER_PROCESS_MIN_ROWS
    progress: Callable[[str], None] | None = None


@dataclass
class EntityCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    restored: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "missing": self.missing,
            "restored": self.restored,
        }


@dataclass
class SyncReport:
    """The outcome of one sync; ``as_dict()`` is the ``--json`` object."""

    status: str = "ok"
    dry_run: bool = False
    counts: dict[str, EntityCounts] = field(
        default_factory=lambda: {name: EntityCounts() for name in ENTITIES}
    )
    orphans: int = 0
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    error: str = ""
    sync_run_id: int | None = None
    suppressed_warnings: int = 0
    # Artifact rows the writer process wrote (catalog.sync.artifacts.writer): statements there
    # pass none of this process's execute wrappers, so a write counter adds these.
    rows_written_by_writer_process: int = 0
    # Change events this sync wrote (rolled back with everything else in a dry run).
    change_events: int = 0

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            # Warnings land in SyncRun.warnings (jsonb): a source's error message that
            # echoes a hostile value must not fail the sync's own record (ADR 0016).
            self.warnings.append(storable_text(message))
        else:
            self.suppressed_warnings += 1

    def all_warnings(self) -> list[str]:
        if self.suppressed_warnings:
            return [*self.warnings, f"... and {self.suppressed_warnings} more warnings"]
        return list(self.warnings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "dry_run": self.dry_run,
            "counts": {name: self.counts[name].as_dict() for name in ENTITIES},
            "orphans": self.orphans,
            "change_events": self.change_events,
            "warnings": self.all_warnings(),
            "duration_s": round(self.duration_s, 3),
        }


class SyncConfigurationError(Exception):
    """The sync was asked for something impossible (bad root, unknown experiment)."""


@contextmanager
def logged_stage(report: SyncReport, name: str, *entities: str) -> Iterator[None]:
    """Log a stage's start and its time and counts at INFO (``sync_registry -v 2``)."""
    started = time.monotonic()
    logger.info("%s ...", name)
    yield
    counts = "; ".join(
        f"{entity}: {report.counts[entity].as_dict()}"
        for entity in (entities or (name,))
        if entity in report.counts
    )
    logger.info(
        "%s done in %.1f s%s", name, time.monotonic() - started, f" ({counts})" if counts else ""
    )
