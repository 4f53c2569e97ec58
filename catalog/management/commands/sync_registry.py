"""``manage.py sync_registry``: mirror MLflow and S3 into the catalogue.

Thin: parse flags, build the sources from settings, call ``catalog.sync.service.run_sync``,
print its report, map it to an exit code. Reference: docs/sync.md.

Behaves like Django's own commands: ``--verbosity 0`` prints only errors (``--quiet``
is the same), 1 the summary, 2 adds the sync's log lines (``catalog.sync`` at INFO,
with timestamps, on stderr: the ``LOGGING`` setting's console handler), 3 its DEBUG
lines. A sync that is not ok ends in ``CommandError`` with the exit code cron
wrappers expect: 3 partial, 1 failed, 75 another sync running.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.sync.lock import SyncLocked, sync_lock
from catalog.sync.purge import purge_missing
from catalog.sync.records import SourceError
from catalog.sync.report import SyncOptions, SyncReport
from catalog.sync.service import run_sync

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PARTIAL = 3
EXIT_LOCKED = 75  # EX_TEMPFAIL: "try again later", what cron wrappers expect
EXIT_CODES = {"ok": EXIT_OK, "partial": EXIT_PARTIAL, "failed": EXIT_FAILED}
# What the sync's logger shows at each --verbosity.
LOG_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}


@contextlib.contextmanager
def logger_level(name: str, level: int):
    """``name``'s logger at ``level`` for the block, then as it was: the command may be
    called in a process that goes on (``call_command``: the admin, the tests)."""
    target = logging.getLogger(name)
    previous = target.level
    target.setLevel(level)
    try:
        yield
    finally:
        target.setLevel(previous)


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError("must be between 0 and 1")
    return value


def _days(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


class Command(BaseCommand):
    help = "Mirror the MLflow tracking server and its S3 artifact store into the catalogue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Compute and report; write nothing."
        )
        parser.add_argument(
            "--json", action="store_true", help="Print exactly one JSON object on stdout."
        )
        parser.add_argument(
            "--quiet", action="store_true", help="Print only errors (for cron): --verbosity 0."
        )
        parser.add_argument(
            "--experiment",
            action="append",
            default=[],
            metavar="ID",
            help="Sync only this experiment (repeatable); nothing outside it is marked missing.",
        )
        parser.add_argument(
            "--max-missing-share",
            type=_share,
            default=0.2,
            metavar="SHARE",
            help="Mark nothing missing if more than this share of an entity would be (0.2).",
        )
        parser.add_argument(
            "--purge-missing-older-than",
            type=_days,
            default=None,
            metavar="DAYS",
            help="After an ok sync, delete rows missing for more than DAYS days.",
        )

    def handle(self, *args, **options) -> None:
        verbosity = 0 if options["quiet"] else options["verbosity"]
        with logger_level("catalog.sync", LOG_LEVELS.get(verbosity, logging.DEBUG)):
            self._handle(options, verbosity=verbosity)

    def _handle(self, options: dict, *, verbosity: int) -> None:
        quiet, as_json = verbosity == 0, options["json"]
        sync_options = SyncOptions(
            dry_run=options["dry_run"],
            experiment_ids=tuple(dict.fromkeys(str(e) for e in options["experiment"])),
            max_missing_share=options["max_missing_share"],
            extra_roots=tuple(settings.CATALOG_S3_ROOTS),
            artifacts_destination=settings.CATALOG_ARTIFACTS_DESTINATION,
            progress=_Progress(sys.stderr) if sys.stderr.isatty() and not quiet else None,
        )
        purged: dict[str, int] | None = None
        try:
            with sync_lock():
                report = self._sync(sync_options)
                if options["purge_missing_older_than"] is not None and report.status == "ok":
                    purged = purge_missing(
                        older_than_days=options["purge_missing_older_than"],
                        dry_run=sync_options.dry_run,
                    )
        except SyncLocked as locked:
            raise CommandError(
                f"another sync is running ({locked}); exiting", returncode=EXIT_LOCKED
            ) from None
        if sync_options.progress is not None:
            sync_options.progress.done()
        self._print(report, as_json=as_json, quiet=quiet, purged=purged)
        code = EXIT_CODES[report.status]
        if code:
            raise CommandError(_outcome(report), returncode=code)

    def _sync(self, options: SyncOptions) -> SyncReport:
        # Sources are built inside the lock: a bad configuration is a failed sync.
        try:
            from catalog.s3 import make_s3_client
            from catalog.sync.mlflow_source import MlflowSource
            from catalog.sync.s3_source import S3Source

            mlflow_source = MlflowSource(tracking_uri=settings.MLFLOW_TRACKING_URI)
            s3_source = S3Source(client=make_s3_client())
        except (SourceError, ValueError) as error:
            return SyncReport(status="failed", dry_run=options.dry_run, error=str(error))
        return run_sync(
            mlflow_source=mlflow_source, s3_source=s3_source, options=options, lock=False
        )

    def _print(
        self, report: SyncReport, *, as_json: bool, quiet: bool, purged: dict[str, int] | None
    ) -> None:
        summary = report.as_dict()
        if purged is not None:
            summary["purged"] = purged
        if as_json:
            self.stdout.write(json.dumps(summary, sort_keys=False))
            return
        if quiet:
            if report.status != "ok":
                for warning in summary["warnings"]:
                    self.stderr.write(f"warning: {warning}")
            return
        parts = []
        for entity, counts in summary["counts"].items():
            changed = {k: v for k, v in counts.items() if v and k != "unchanged"}
            detail = ", ".join(f"{v} {k}" for k, v in changed.items()) or "no change"
            parts.append(f"{entity}: {detail} ({counts['unchanged']} unchanged)")
        self.stdout.write(
            f"sync {report.status}{' (dry run)' if report.dry_run else ''} "
            f"in {report.duration_s:.1f}s; orphans: {report.orphans}"
        )
        for part in parts:
            self.stdout.write(f"  {part}")
        if purged is not None:
            self.stdout.write(f"  purged: {purged}")
        for warning in summary["warnings"]:
            self.stderr.write(f"warning: {warning}")


def _outcome(report: SyncReport) -> str:
    """The one line a failed or partial sync ends with (after ``CommandError:``)."""
    if report.error:
        return f"sync {report.status}: {report.error}"
    warnings = len(report.as_dict()["warnings"])
    return f"sync {report.status}: {warnings} warning{'s' if warnings != 1 else ''}"


class _Progress:
    """A one-line progress display on a terminal (stderr), at most ten updates a second."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.last = 0.0

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if now - self.last >= 0.1:
            self.last = now
            self.stream.write(f"\r\033[K{message}")
            self.stream.flush()

    def done(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()
