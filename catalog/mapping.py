"""The seed page ("S3 Artifact Storage Mapping") regenerated from the catalogue.

Same structure as the hand-kept page it replaces: quick reference, overview, one
section per folder, artifact structure, categories, usage (with valid MLflow URIs),
quality summary, specialised domains and maintenance notes, all from live rows, with the
last sync time in place of a hand-typed date. Facts no source knows come from curated
fields that team leads edit in the admin: a folder's related documents
(``Experiment.related_links``) and specialised domain, a model's release label. Where a
curated description and MLflow's differ, both are shown, the curated one first.
Served at ``/export/mapping.md`` and written by ``manage.py export_mapping``.

Every name and value from MLflow or S3 is data, also in the export: it may be pasted
into a wiki that renders Markdown with raw HTML. ``md_text`` writes plain text with
``&``, ``<`` and ``>`` as entities and Markdown's link, emphasis, code and table
characters backslash-escaped; ``md_code`` writes a code span (its fence longer than
any backtick run inside) unless the value holds ``<``, ``>`` or ``&``, which only
entities can keep inert. Fenced blocks get one line per entry (control characters
flattened) and a fence longer than any backtick run in them.

``gather_mapping_data`` reads everything in a fixed number of queries (about a dozen,
whatever the catalogue's size); the ``_section`` functions are pure text. Lists are
capped (runs per folder, models per category) so the page stays readable and cheap for a
large server; the caps are stated on the page.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from django.db import connection
from django.db.models import (
    BigIntegerField,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Length
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from catalog import selectors
from catalog.formatting import folder_of, folder_of_location, format_metric, plain_purpose
from catalog.models import (
    RUN_DELETED,
    RUN_DELETED_WITH_ARTIFACTS,
    RUN_WITHOUT_ARTIFACTS,
    Artifact,
    Category,
    Experiment,
    LoggedModel,
    ModelVersion,
    RegisteredModel,
    Run,
)
from catalog.related_links import RelatedLink, parse_related_links

RUNS_PER_FOLDER = 10
MODELS_PER_CATEGORY = 200
# The artifact structure reads whole runs' file lists: at most this many runs and objects.
STRUCTURE_RUNS = 200
STRUCTURE_SAMPLE = 2_000
LAYOUTS_SHOWN = 5
TOP_ENTRIES_SHOWN = 8  # a folder's run entries on its "Artifacts" line
ORPHAN_GROUPS = 500  # orphan folders read, biggest first
ORPHAN_GROUPS_PER_FOLDER = 10
RELATED_LINKS_SHOWN = 50
RELEASES_SHOWN = 10
DOMAINS_SHOWN = 50
FOLDERS_PER_DOMAIN = 20
QUALITY_THRESHOLD = 0.9
QUALITY_ROWS = 100
USAGE_MODELS = 200

# The seed's headings ("Anomaly Detection Models"), not the admin's sentence-case labels.
CATEGORY_HEADINGS = {
    Category.ANOMALY_DETECTION: "Anomaly Detection",
    Category.CLASSIFICATION: "Classification",
    Category.FORECASTING: "Forecasting",
    Category.PREPROCESSING: "Preprocessing/Utility",
    Category.OTHER: "Other",
}


EXPERIMENT_FIELDS = (
    "experiment_id",
    "name",
    "artifact_location",
    "description",
    "mlflow_description",
    "related_links",
    "specialized_domain",
    "run_count",
    "artifact_count",
    "artifact_bytes",
)


# Runs and models are plain tuples, not dataclasses: an export holds every registered
# model and the first runs of every folder (about 4,000 rows on a big server) while it
# renders. The cyclic GC stops tracking a tuple of strings and numbers at its first
# collection; a dataclass instance stays tracked, is promoted to the oldest generation
# and counts towards the next full collection, a ~60 ms pause over the whole process
# heap. With dataclasses that pause came every eighth export or so: the page's p95.
RunRow = tuple[str, str, str, str, int, int, int]
"""``(run_id, name, status, lifecycle_stage, artifact_count, artifact_bytes, pk)`` of one
of a folder's first runs."""
ModelRow = tuple[str, str, int | None, str | None, str]
"""``(name, effective category, experiment pk, latest version's source run id, release
label)``."""
OrphanGroup = tuple[str, str, int, int]
"""``(bucket, orphan folder, objects, bytes)`` of one folder of orphan objects."""
RUN_COLUMNS = ("run_id", "name", "status", "lifecycle_stage", "artifact_count", "artifact_bytes")


@dataclass
class StructureSample:
    """Whole runs' file lists for the artifact structure.

    ``paths``: ``(run pk, path)`` of every present object of the sampled runs;
    ``runs``: each sampled run's ``(run_id, name, experiment pk)`` by pk; ``too_large``: runs
    left out because their objects alone exceed the sample.
    """

    paths: list[tuple[int, str]] = field(default_factory=list)
    runs: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    too_large: int = 0


@dataclass
class MappingData:
    """Everything the page shows, read once."""

    sync: object
    totals: dict
    experiments: list[Experiment]
    models: list[ModelRow]
    runs_by_experiment: dict[int, list[RunRow]]
    structure: StructureSample
    example: ModelVersion | None
    quality: selectors.QualitySummary
    orphans: dict
    versions_missing_artifacts: int
    orphan_groups: list[OrphanGroup] = field(default_factory=list)
    logged_models_by_experiment: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    deleted_runs_with_artifacts: dict = field(default_factory=lambda: {"n": 0, "bytes": 0})
    runs_without_artifacts: int = 0
    models_by_experiment: dict[int, list[ModelRow]] = field(default_factory=dict)
    # The usage section's: each model's latest version with how to load it.
    latest_loaders: list[selectors.LatestVersion] = field(default_factory=list)

    def __post_init__(self):
        for model in self.models:
            experiment_pk = model[2]
            if experiment_pk is not None:
                self.models_by_experiment.setdefault(experiment_pk, []).append(model)

    @cached_property
    def related_links(self) -> dict[int, list[RelatedLink]]:
        """Each folder's curated related documents, parsed once, by experiment pk."""
        return {e.pk: parse_related_links(e.related_links) for e in self.experiments}

    @cached_property
    def top_entries_by_folder(self) -> dict[int, list[str]]:
        """The top-level entries (``model/``, ``feature_names.txt``) of each folder's sampled
        runs, folders first, by experiment pk."""
        found: dict[int, set[str]] = defaultdict(set)
        for pk, path in self.structure.paths:
            head, slash, _ = path.partition("/")
            found[self.structure.runs[pk][2]].add(head + slash)
        return {
            folder: sorted(entries, key=lambda entry: (not entry.endswith("/"), entry))
            for folder, entries in found.items()
        }

    @cached_property
    def shared_release(self) -> str | None:
        """The release label when every model has the same one: the header says it."""
        labels = {model[4] for model in self.models}
        return labels.pop() if len(labels) == 1 else None

    @cached_property
    def links_of_every_folder(self) -> set[str]:
        """The addresses of the related documents that every folder lists."""
        shared = None
        for links in self.related_links.values():
            urls = {link.url for link in links}
            shared = urls if shared is None else shared & urls
        return shared or set()

    @property
    def buckets(self) -> list[str]:
        found = {selectors.bucket_of(e.artifact_location) for e in self.experiments}
        return sorted(found - {""})


def _first_runs(folders: QuerySet[Experiment]) -> Iterable[tuple]:
    """``(*RUN_COLUMNS, pk, experiment pk)`` of the first runs of each of ``folders``.

    The first ``RUNS_PER_FOLDER`` present runs of each folder by start time, in one
    query, sorted by the database (NULL start times last): plain tuples, no datetime
    conversion of 2,000 values just to sort them. PostgreSQL: one walk of the
    (experiment, start_time) index per folder (``_first_runs_lateral``); SQLite has no
    LATERAL (``_first_runs_by_rank``).
    """
    if connection.vendor == "postgresql":
        return _first_runs_lateral(folders)
    return _first_runs_by_rank(folders)


def _first_runs_by_rank(folders: QuerySet[Experiment]) -> QuerySet:
    """``_first_runs`` as one correlated lookup per (folder, rank), for SQLite.

    Each a step along the (experiment, start_time) index, the ranks glued with
    UNION ALL into the runs' ``IN``: the database fetches the ~2,000 runs by pk (~9 ms on
    SQLite for 200 folders of 500 runs). A window function would sort every run; the
    runs' pks read first and passed back as ~2,000 ``IN`` parameters cost ~4 ms of
    Django's lookup code. A correlated ``IN (... LIMIT n)`` from the folders depends on
    the join order the planner picks: SQLite walked every run with it (0.5 s) once the
    redundant index on ``run.experiment_id`` was gone, and PostgreSQL always does. On
    PostgreSQL this shape walks each folder's index entries from the start for every
    rank (55 steps and 10 small sorts per folder, not 10 steps): 53-67 ms at 200 folders
    of 500 runs against 8-13 ms for ``_first_runs_lateral`` (ADR 0014).
    """
    ranked = (
        Run.objects.filter(experiment=OuterRef("pk"), missing_since=None)
        .order_by("start_time", "pk")
        .values("pk")
    )
    ranks = [
        folders.order_by().values(run=Subquery(ranked[rank : rank + 1]))
        for rank in range(RUNS_PER_FOLDER)
    ]
    return (
        Run.objects.filter(pk__in=ranks[0].union(*ranks[1:], all=True))
        .order_by(F("start_time").asc(nulls_last=True), "pk")
        .values_list(*RUN_COLUMNS, "pk", "experiment_id")
    )


def _first_runs_lateral(folders: QuerySet[Experiment]) -> list[tuple]:
    """``_first_runs`` on PostgreSQL: each folder's first runs from one LATERAL subquery.

    The database takes each folder's first ``RUNS_PER_FOLDER`` runs in one walk of the
    (experiment, start_time) index (a LATERAL join is always a nested loop over the
    folders), the same order as ``_first_runs_by_rank`` (PostgreSQL sorts a NULL start
    time last in both). Raw SQL: the ORM has no LATERAL.
    """
    folder_sql, folder_params = folders.order_by().values("pk").query.sql_with_params()
    run = Run._meta
    table = connection.ops.quote_name(run.db_table)
    # Names come from model metadata and the folders' compiled query; values are params.
    columns = ", ".join(f"r.{connection.ops.quote_name(name)}" for name in RUN_COLUMNS)
    inner = ", ".join(f"u.{connection.ops.quote_name(name)}" for name in RUN_COLUMNS)
    sql = (
        f"SELECT {columns}, r.id, r.experiment_id"  # noqa: S608
        f" FROM ({folder_sql}) AS f (id) CROSS JOIN LATERAL ("
        f" SELECT u.id, {inner}, u.experiment_id, u.start_time"
        f" FROM {table} u WHERE u.experiment_id = f.id AND u.missing_since IS NULL"
        f" ORDER BY u.start_time, u.id LIMIT %s) AS r"
        " ORDER BY r.start_time NULLS LAST, r.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*folder_params, RUNS_PER_FOLDER])
        return cursor.fetchall()


def _structure_sample(
    experiments: list[Experiment], runs_by_experiment: dict[int, list[RunRow]]
) -> StructureSample:
    """Every present object of a sample of whole runs, in one query.

    The runs are the folders' first runs already read for the page, taken a rank at a
    time across the folders (each folder's first run, then each one's second ...) so
    that every folder is seen before any is seen twice, while their objects (from the
    runs' denormalised counts) fit in ``STRUCTURE_SAMPLE``. Only whole runs: a run cut
    short would show a layout no run has. A run read short after all (its count was
    stale) is dropped from the sample.
    """
    sample = StructureSample()
    budget = STRUCTURE_SAMPLE
    counts: dict[int, int] = {}
    folders = [
        (experiment.pk, runs_by_experiment.get(experiment.pk, [])) for experiment in experiments
    ]
    for rank in range(RUNS_PER_FOLDER):
        for experiment_pk, runs in folders:
            if rank >= len(runs) or len(sample.runs) >= STRUCTURE_RUNS:
                continue
            run_id, name, _, _, artifact_count, _, pk = runs[rank]
            if artifact_count == 0:
                continue
            if artifact_count > STRUCTURE_SAMPLE:
                sample.too_large += 1
            elif artifact_count <= budget:
                budget -= artifact_count
                counts[pk] = artifact_count
                sample.runs[pk] = (run_id, name, experiment_pk)
    if not counts:
        return sample
    paths = list(
        Artifact.objects.filter(run_id__in=list(counts), missing_since=None)
        .order_by()
        .values_list("run_id", "path")[:STRUCTURE_SAMPLE]
    )
    read = Counter(pk for pk, _ in paths)
    short = {pk for pk, expected in counts.items() if read[pk] < expected}
    sample.paths = [row for row in paths if row[0] not in short]
    for pk in short:
        del sample.runs[pk]
    return sample


def _drift_figures() -> tuple[dict, int, int, dict[int, tuple[int, int, int]]]:
    """Deleted runs (all of them, and those still holding storage), runs without
    artifacts, versions whose artifacts are missing, logged models by folder.

    One query: five aggregates glued with UNION ALL, the runs' filtered by the condition
    of a partial index (``RUN_DELETED``, ``RUN_DELETED_WITH_ARTIFACTS``,
    ``RUN_WITHOUT_ARTIFACTS``) so that only the drifted runs are read, never the whole
    runs table; a logged model row per folder. Rows are ``(kind, experiment pk, count,
    objects, bytes)``. The deleted runs' dict: ``n`` and ``bytes`` of those with
    storage, ``all`` of every deleted run of a present folder.
    """
    # A typed NULL: PostgreSQL takes two untyped NULLs for text, which no count matches.
    none = Cast(Value(None), BigIntegerField())

    def figures(queryset: QuerySet, kind: str, *, folder=none, objects=none, size=none):
        return (
            queryset.order_by()
            .annotate(kind=Value(kind), folder=folder)
            .values("kind", "folder")
            .annotate(n=Count("id"), objects=objects, size=size)
            .values_list("kind", "folder", "n", "objects", "size")
        )

    deleted = figures(
        Run.objects.filter(RUN_DELETED_WITH_ARTIFACTS), "deleted", size=Sum("artifact_bytes")
    )
    empty = figures(Run.objects.filter(RUN_WITHOUT_ARTIFACTS), "empty")
    deleted_all = figures(
        Run.objects.filter(RUN_DELETED, experiment__missing_since=None), "deleted-all"
    )
    missing = figures(
        ModelVersion.objects.filter(missing_since=None, artifacts_present=False), "missing"
    )
    logged = figures(
        LoggedModel.objects.filter(missing_since=None, artifact_count__gt=0),
        "logged",
        folder=F("experiment_id"),
        objects=Sum("artifact_count"),
        size=Sum("artifact_bytes"),
    )
    deleted_runs = {"n": 0, "bytes": 0, "all": 0}
    without_artifacts, versions_missing, logged_models = 0, 0, {}
    rows = deleted.union(deleted_all, empty, missing, logged, all=True)
    for kind, folder, count, objects, size in rows:
        if kind == "deleted":
            deleted_runs.update(n=count, bytes=int(size or 0))
        elif kind == "deleted-all":
            deleted_runs["all"] = count
        elif kind == "empty":
            without_artifacts = count
        elif kind == "missing":
            versions_missing = count
        else:
            logged_models[folder] = (count, int(objects or 0), int(size or 0))
    return deleted_runs, without_artifacts, versions_missing, logged_models


_UNREAD = object()


def gather_mapping_data(*, sync=_UNREAD) -> MappingData:
    """Read the catalogue for the mapping page in a fixed number of queries.

    ``sync``: the last finished SyncRun when the caller has it already (a request's
    data version), else it is read here.
    """
    present = Q(missing_since=None)
    totals = Experiment.objects.filter(present).aggregate(
        active=Count("id", filter=Q(lifecycle_stage="active")),
        deleted=Count("id", filter=~Q(lifecycle_stage="active")),
        runs=Coalesce(Sum("run_count"), 0),
        artifacts=Coalesce(Sum("artifact_count"), 0),
        bytes=Coalesce(Sum("artifact_bytes"), 0),
    )
    folders = Experiment.objects.filter(present, lifecycle_stage="active")
    experiments = list(
        folders.only(*EXPERIMENT_FIELDS)
        .annotate(id_length=Length("experiment_id"))
        .order_by(*selectors.EXPERIMENT_NUMERIC_ORDER)
    )
    # The latest version's run: (registered model, version) is unique, so no ordering
    # (ModelVersion's default one would join the registered model again for each row).
    latest_run = (
        ModelVersion.objects.filter(
            registered_model=OuterRef("pk"), version=OuterRef("latest_version")
        )
        .order_by()
        .values("source_run_id")[:1]
    )
    models = list(
        RegisteredModel.objects.filter(present)
        .annotate(
            effective=selectors.effective_category_expression(),
            latest_run_id=Subquery(latest_run),
        )
        .order_by("name")
        .values_list("name", "effective", "experiment_id", "latest_run_id", "release_label")
    )
    runs_by_experiment: dict[int, list[RunRow]] = defaultdict(list)
    for *run, experiment_pk in _first_runs(folders):
        runs_by_experiment[experiment_pk].append(tuple(run))
    structure = _structure_sample(experiments, runs_by_experiment)
    example = (
        ModelVersion.objects.filter(missing_since=None, registered_model__missing_since=None)
        .select_related("registered_model", "run", "logged_model")
        .order_by("registered_model__name", "-version")
        .first()
    )
    quality = selectors.quality_summary(threshold=QUALITY_THRESHOLD, limit=QUALITY_ROWS)
    orphan_groups = list(
        selectors.orphan_folders().values_list(
            "bucket", "orphan_folder", "object_count", "total_bytes"
        )[: ORPHAN_GROUPS + 1]
    )
    if len(orphan_groups) <= ORPHAN_GROUPS:  # every group read: their sum is the total
        orphans = {"n": sum(row[2] for row in orphan_groups)}
        orphans["bytes"] = sum(row[3] for row in orphan_groups)
    else:
        orphans = selectors.orphan_totals()
        del orphan_groups[ORPHAN_GROUPS:]
    deleted_runs, runs_without_artifacts, versions_missing, logged_models = _drift_figures()
    return MappingData(
        sync=selectors.last_sync() if sync is _UNREAD else sync,
        totals=totals,
        experiments=experiments,
        models=models,
        runs_by_experiment=runs_by_experiment,
        structure=structure,
        example=example,
        quality=quality,
        orphans=orphans,
        versions_missing_artifacts=versions_missing,
        latest_loaders=selectors.latest_version_loaders(limit=USAGE_MODELS),
        orphan_groups=orphan_groups,
        logged_models_by_experiment=logged_models,
        deleted_runs_with_artifacts=deleted_runs,
        runs_without_artifacts=runs_without_artifacts,
    )


# --- text ---------------------------------------------------------------------------------


# Line breaks (and every other control character) would end a list item, a table row or
# a fenced block early: a name is always one line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
# Characters that make links, images, emphasis, code spans, tables, strikethrough and
# escapes. "(" and ")" only matter after "]", which is escaped; "_" inside a word
# cannot open emphasis and is kept readable (``snake_case`` names are common).
_MD_SPECIAL = re.compile(r"[\\`*\[\]|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_BACKTICKS = re.compile(r"`+")
_HTML_SPECIAL = ("&", "<", ">")


def one_line(value) -> str:
    """``value`` as text on one line: control characters become a space."""
    return _CONTROL.sub(" ", str(value)).strip()


def md_text(value) -> str:
    """``value`` as inert Markdown text: entities for ``& < >``, Markdown escaped."""
    text = one_line(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(lambda match: "\\" + match.group(0), text)


def md_code(value) -> str:
    """``value`` as a code span, or as ``md_text`` when it holds ``& < >``.

    Inside a code span entities are not decoded, so a value with HTML characters is
    written as escaped text instead (it renders the same characters).
    """
    text = one_line(value)
    if not text or any(char in text for char in _HTML_SPECIAL):
        return md_text(text)
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def code_fence(lines: Iterable[str], *, info: str = "") -> list[str]:
    """``lines`` as a fenced block whose fence no line can close (nor open)."""
    lines = [one_line(line) if _CONTROL.search(line) else line for line in lines]
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *lines, fence]


def _cell(text) -> str:
    """Markdown table cell text: escaped (``md_text`` escapes the pipes too)."""
    return md_text(text)


def _code(text) -> str:
    return md_code(text)


def _sync_line(sync) -> str:
    if sync is None:
        return "never"
    when = sync.finished_at or sync.started_at
    return f"{when:%Y-%m-%d %H:%M} UTC ({sync.get_status_display()})"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _folder_list(folders: list[str], *, word: str = "Folder") -> str:
    """Folders in words: "Folder 6/", "Folders 5/ and 7/", "Folders 1/, 2/ and 3/"."""
    names = [md_text(folder) for folder in folders]
    if len(names) == 1:
        return f"{word} {names[0]}"
    return f"{word}s {', '.join(names[:-1])} and {names[-1]}"


def _link(link: RelatedLink) -> str:
    """A related document as a Markdown link: the label escaped, the address pre-encoded."""
    note = f" - {md_text(link.note)}" if link.note else ""
    return f"[{md_text(link.label) or md_text(link.url)}]({link.url}){note}"


def _related_links(data: MappingData) -> list[str]:
    """Every folder's related documents once (by address), with the folders that list them.

    A document that every folder lists names no folder.
    """
    folders_of: dict[str, list[str]] = defaultdict(list)
    first: dict[str, RelatedLink] = {}
    for experiment in data.experiments:
        for link in data.related_links[experiment.pk]:
            first.setdefault(link.url, link)
            if folder_of(experiment) not in folders_of[link.url]:
                folders_of[link.url].append(folder_of(experiment))
    lines = []
    for url, link in list(first.items())[:RELATED_LINKS_SHOWN]:
        folders = folders_of[url]
        where = "" if len(folders) == len(data.experiments) else f" — {_folder_list(folders)}"
        lines.append(f"- {_link(link)}{where}")
    if len(first) > RELATED_LINKS_SHOWN:
        lines.append(f"- … and {len(first) - RELATED_LINKS_SHOWN} more on the folders' pages")
    return lines


def _status(data: MappingData) -> str:
    """Models per curated release label, then the live totals."""
    releases = Counter(model[4] for model in data.models if model[4])
    parts = [
        f"{md_text(label)} ({_plural(count, 'model')})"
        for label, count in sorted(releases.items(), key=lambda item: (-item[1], item[0]))[
            :RELEASES_SHOWN
        ]
    ]
    unlabelled = len(data.models) - sum(releases.values())
    if parts and unlabelled:
        parts.append(f"{_plural(unlabelled, 'model')} without a release label")
    totals = (
        f"{_plural(len(data.models), 'registered model')} in "
        f"{_plural(data.totals['active'], 'experiment')}"
    )
    return f"{', '.join(parts)}; {totals}" if parts else totals


def _header(data: MappingData) -> list[str]:
    lines = [
        "# S3 Artifact Storage Mapping",
        "",
        f"**Generated:** {timezone.now():%Y-%m-%d %H:%M} UTC by the SmartMaint catalogue  ",
        f"**Last Sync:** {_sync_line(data.sync)}  ",
        f"**Status:** {_status(data)}  ",
    ]
    related = _related_links(data)
    if related:
        lines += ["**Related:**", *related]
    return lines + [
        "",
        "This page maps the S3 bucket structure to MLflow experiments, runs and registered "
        "models. It is generated from the catalogue: do not edit it by hand.",
    ]


def _quick_reference(data: MappingData) -> list[str]:
    lines = [
        "## Quick Reference Table",
        "",
        "| S3 Folder | Experiment Name | Purpose | Models Count | Key Models |",
        "|-----------|----------------|---------|--------------|------------|",
    ]
    shown = selectors.KEY_MODELS_SHOWN
    for experiment in data.experiments:
        models = data.models_by_experiment.get(experiment.pk, [])
        key_models = ", ".join(model[0] for model in models[:shown])
        if len(models) > shown:
            key_models += f" (+{len(models) - shown} more)"
        lines.append(
            f"| {_cell(folder_of(experiment))} | {_cell(experiment.name)} | "
            f"{_cell(plain_purpose(experiment.purpose))} | {len(models)} | "
            f"{_cell(key_models) or '—'} |"
        )
    return lines


def _overview(data: MappingData) -> list[str]:
    totals = data.totals
    buckets = ", ".join(_code(bucket) for bucket in data.buckets) or "none"
    deleted = f" (plus {totals['deleted']} deleted)" if totals["deleted"] else ""
    return [
        "## Overview",
        "",
        f"- **S3 Bucket{'s' if len(data.buckets) != 1 else ''}:** {buckets}",
        f"- **Total Experiments:** {totals['active']}{deleted}",
        _total_runs(totals["runs"], data.deleted_runs_with_artifacts.get("all", 0)),
        f"- **Total Registered Models:** {len(data.models)}",
        f"- **Total Artifacts:** {totals['artifacts']} objects, {filesizeformat(totals['bytes'])}",
        "- **Storage Pattern:** `{experiment_id}/{run_id}/artifacts/{artifact_path}`",
    ]


def _total_runs(present: int, deleted: int) -> str:
    """Active runs, the deleted ones apart: the folders' run counts hold both."""
    extra = f" (plus {deleted} deleted)" if deleted else ""
    return f"- **Total Runs:** {max(present - deleted, 0)}{extra}"


def _purpose_lines(experiment: Experiment) -> list[str]:
    """The curated purpose first; MLflow's below it when both exist and differ."""
    curated = plain_purpose(experiment.description, limit=500)
    mlflow = plain_purpose(experiment.mlflow_description, limit=500)
    lines = [f"- **Purpose:** {md_text(curated or mlflow) or '—'}"]
    if (
        curated
        and mlflow
        and experiment.description.strip() != experiment.mlflow_description.strip()
    ):
        lines.append(f"  - From MLflow: {md_text(mlflow)}")
    return lines


def _run_line(run: RunRow) -> str:
    """A run's sub-folder, with what the sources disagree on: deleted, or no S3 folder."""
    run_id, name, status, lifecycle_stage, artifact_count, artifact_bytes, _ = run
    label = f" - {md_text(name)}" if name else ""
    if lifecycle_stage == "deleted":
        # MLflow keeps a deleted run's last status: FINISHED must not read as live.
        state = " - **DELETED** in MLflow" + (f" (status {md_text(status)})" if status else "")
    else:
        state = f" - **{md_text(status)}**" if status else ""
    if artifact_count == 0:
        return f"  - {_code(run_id)}{label}{state} - no artifacts (no S3 folder)"
    if lifecycle_stage == "deleted":
        state += (
            f"; its {_plural(artifact_count, 'object')} ({filesizeformat(artifact_bytes)}) "
            "remain in S3"
        )
    return f"  - {_code(run_id + '/')}{label}{state}"


def _orphan_lines(data: MappingData, experiment: Experiment) -> list[str]:
    """The folder's S3 objects that belong to no run nor logged model, by sub-folder."""
    location = experiment.artifact_location or ""
    if not location.startswith("s3://"):
        return []
    bucket = selectors.bucket_of(location)
    prefix = folder_of(experiment)
    groups = [
        (folder[len(prefix) :], count, size)
        for group_bucket, folder, count, size in data.orphan_groups
        if group_bucket == bucket and folder.startswith(prefix)
    ]
    lines = []
    for name, count, size in groups[:ORPHAN_GROUPS_PER_FOLDER]:
        what = f"{_plural(count, 'object')}, {filesizeformat(size)}"
        if name:
            lines.append(f"  - {_code(name)} - **ORPHAN**: no MLflow run; {what}")
        else:
            lines.append(f"  - (loose objects in {md_text(prefix)}) - **ORPHAN**: no run; {what}")
    if len(groups) > ORPHAN_GROUPS_PER_FOLDER:
        lines.append(
            f"  - … and {len(groups) - ORPHAN_GROUPS_PER_FOLDER} more orphan folders "
            "(see the catalogue's audit page)"
        )
    return lines


def _folder_section(data: MappingData, experiment: Experiment) -> list[str]:
    lines = [
        f"### Folder {md_text(folder_of(experiment))} - {md_text(experiment.name)}",
        f"- **Experiment ID:** {md_text(experiment.experiment_id)}",
        f'- **Experiment Name:** "{md_text(experiment.name)}"',
        *_purpose_lines(experiment),
        f"- **S3 prefix:** {_code(experiment.artifact_location + '/')}",
    ]
    # A document every folder lists is said once, at the top of the page.
    links = [
        link
        for link in data.related_links[experiment.pk]
        if len(data.experiments) == 1 or link.url not in data.links_of_every_folder
    ]
    if links:
        lines.append("- **Related:**")
        lines += [f"  - {_link(link)}" for link in links]
    lines.append("- **Sub-folders (Run IDs):**")
    runs = data.runs_by_experiment.get(experiment.pk, [])
    lines += [_run_line(run) for run in runs]
    if experiment.run_count > len(runs):
        lines.append(f"  - … and {experiment.run_count - len(runs)} more runs")
    logged = data.logged_models_by_experiment.get(experiment.pk)
    if logged:
        count, objects, size = logged
        lines.append(
            f"  - `models/` - MLflow 3 logged models: {_plural(count, 'model')}, "
            f"{_plural(objects or 0, 'object')}, {filesizeformat(size or 0)}"
        )
    orphans = _orphan_lines(data, experiment)
    lines += orphans
    if not runs and not logged and not orphans:
        lines.append("  - (none)")
    lines.append("- **Registered Models:**")
    models = data.models_by_experiment.get(experiment.pk, [])
    for name, _, _, latest_run_id, release_label in models:
        details = [f"Run: {md_text(latest_run_id)}"] if latest_run_id else []
        if release_label and release_label != data.shared_release:
            details.append(f"release: {md_text(release_label)}")
        suffix = f" ({'; '.join(details)})" if details else ""
        lines.append(f"  - {_code(name)}{suffix}")
    if not models:
        lines.append("  - (none)")
    entries = data.top_entries_by_folder.get(experiment.pk, [])
    shown = ", ".join(one_line(entry) for entry in entries[:TOP_ENTRIES_SHOWN])
    if len(entries) > TOP_ENTRIES_SHOWN:
        shown += f" and {len(entries) - TOP_ENTRIES_SHOWN} more"
    lines.append(
        f"- **Artifacts:** {experiment.artifact_count} objects, "
        f"{filesizeformat(experiment.artifact_bytes)}"
        + (f"; its runs hold {md_text(shown)}" if shown else "")
    )
    return lines


def _folder_children(names: Counter, limit: int = 8) -> list[str]:
    """A folder's entries by name, or by extension ("*.png") when there are many."""
    if len(names) <= limit:
        return sorted(names)
    patterns = {
        name if name.endswith("/") or "." not in name else "*." + name.rsplit(".", 1)[1]
        for name in names
    }
    return sorted(patterns)[:limit]


def _file_kind(name: str) -> str:
    """``*.png`` for ``roc.png``; a name without an extension (``MLmodel``) as itself."""
    stem, dot, extension = name.rpartition(".")
    return f"*.{extension}" if dot and stem else name


def _layout_entry(path: str) -> str:
    """What a path says about its run's layout: its top-level entry and the kind of child.

    A top-level file by name; a file in a folder by extension (plot names differ from
    run to run, their kinds do not); a deeper path as its sub-folder.
    """
    top, slash, rest = path.partition("/")
    if not slash:
        return top
    child, deeper, _ = rest.partition("/")
    return f"{top}/{child}/" if deeper else f"{top}/{_file_kind(child)}"


def _run_tree(paths: list[str]) -> list[str]:
    """One run's folder as a tree, two levels deep (deeper folders as ``name/``)."""
    children: dict[str, Counter] = defaultdict(Counter)
    for path in paths:
        top, slash, rest = path.partition("/")
        name = top + slash
        children[name]  # noqa: B018 - every top-level entry, files too
        if rest:
            child, deeper, _ = rest.partition("/")
            children[name][child + deeper] += 1
    tree = ["{run_id}/", "└── artifacts/"]
    names = sorted(children, key=lambda entry: (not entry.endswith("/"), entry))
    for index, name in enumerate(names):
        last = index == len(names) - 1
        tree.append(f"    {'└──' if last else '├──'} {one_line(name)}")
        inner = _folder_children(children[name])
        for child_index, child in enumerate(inner):
            branch = "└──" if child_index == len(inner) - 1 else "├──"
            tree.append(f"    {'    ' if last else '│   '}{branch} {one_line(child)}")
    return tree


def _artifact_structure(data: MappingData) -> list[str]:
    """Run folders as found, grouped by layout; each tree is one real run's folder.

    Runs share a layout when they have the same top-level entries and the same kinds of
    file in each folder. No tree merges runs: every file list shown is one run's.
    """
    sample = data.structure
    folder_names = {experiment.pk: folder_of(experiment) for experiment in data.experiments}
    lines = ["## Artifact Structure", ""]
    if not sample.runs:
        lines.append("No run folder holds artifacts yet.")
        if sample.too_large:
            lines.append(
                f"({_plural(sample.too_large, 'run')} with more than {STRUCTURE_SAMPLE} "
                "objects not sampled.)"
            )
        return lines
    paths_of: dict[int, list[str]] = defaultdict(list)
    for pk, path in sample.paths:
        paths_of[pk].append(path)
    layouts: dict[frozenset, list[int]] = defaultdict(list)
    for pk in sample.runs:
        layouts[frozenset(_layout_entry(path) for path in paths_of[pk])].append(pk)
    ordered = sorted(layouts.values(), key=lambda pks: (-len(pks), sample.runs[pks[0]][0]))
    lines.append(
        f"Run folders grouped by layout (the same entries and kinds of files), from "
        f"{_plural(len(sample.runs), 'run')} sampled (the first runs of each folder). "
        "Each tree is one real run's folder."
    )
    for pks in ordered[:LAYOUTS_SHOWN]:
        run_id, name, _ = sample.runs[pks[0]]
        folders = list(dict.fromkeys(folder_names[sample.runs[pk][2]] for pk in pks))
        named = f" ({md_text(name)})" if name else ""
        lines += [
            "",
            f"**{_plural(len(pks), 'run')}** in {_folder_list(folders, word='folder')}, "
            f"e.g. {_code(run_id + '/')}{named}:",
            *code_fence(_run_tree(paths_of[pks[0]])),
        ]
    rest = ordered[LAYOUTS_SHOWN:]
    if rest:
        lines += [
            "",
            f"… and {_plural(len(rest), 'other layout')} "
            f"({_plural(sum(len(pks) for pks in rest), 'run')}).",
        ]
    if sample.too_large:
        lines += [
            "",
            f"{_plural(sample.too_large, 'run')} with more than {STRUCTURE_SAMPLE} objects "
            "not sampled.",
        ]
    return lines


def _categories(data: MappingData) -> list[str]:
    folders = {experiment.pk: folder_of(experiment) for experiment in data.experiments}
    by_category: dict[str, list[ModelRow]] = defaultdict(list)
    for model in data.models:
        by_category[model[1]].append(model)
    lines = ["## Model Categories by Type"]
    for category in Category:
        models = by_category.get(category.value)
        if not models:
            continue
        lines += ["", f"### {CATEGORY_HEADINGS.get(category, category.label)} Models"]
        for name, _, experiment_pk, _, _ in models[:MODELS_PER_CATEGORY]:
            folder = folders.get(experiment_pk)
            lines.append(f"- {_code(name)}" + (f" (S3: {md_text(folder)})" if folder else ""))
        if len(models) > MODELS_PER_CATEGORY:
            lines.append(f"- … and {len(models) - MODELS_PER_CATEGORY} more")
    return lines


def _usage(data: MappingData) -> list[str]:
    code = ["import mlflow", ""]
    code += _usage_example(data)
    if data.latest_loaders:
        code += ["", "# The latest version of each registered model (models:/<name>/latest)"]
    for latest in data.latest_loaders:
        snippet = selectors.latest_snippet(latest)
        loader = latest.loader
        if snippet.loads:
            flavors = f"flavors: {loader.flavor_list}" if loader.known else "flavor unknown"
            code.append(one_line(f"{snippet.code}  # v{latest.version}, {flavors}"))
        else:
            code.append(one_line(f"# {snippet.label} will not load: {snippet.unavailable}"))
    if len(data.latest_loaders) >= USAGE_MODELS and len(data.models) > USAGE_MODELS:
        code.append(f"# ... {len(data.models)} models in all: each model's page has its snippets")
    lines = ["## Usage Instructions", "", "### Loading Models", *code_fence(code, info="python")]
    lines += [
        "",
        "Load with `mlflow.pyfunc` when the model's MLmodel has the `python_function` "
        "flavor, else with the module of its own flavor (`mlflow.sklearn`, "
        "`mlflow.lightgbm`, ...): a scikit-learn transformer such as a scaler is saved with "
        "the `sklearn` flavor only, and `mlflow.pyfunc.load_model` refuses it. Each model, "
        "version, run and logged-model page shows the flavors and the matching code.",
        "",
        "Valid forms: `models:/<name>@<alias>`, `models:/<name>/latest` (the highest "
        "version number, resolved by MLflow when loading), `models:/<name>/<version>`, "
        "`runs:/<run_id>/<path>`, `s3://<bucket>/<exp_id>/<run_id>/artifacts/<path>` and, "
        "for an MLflow 3 logged model, `models:/<model_id>`. The hand-kept page's "
        "`latest` line failed because of its double slash after `models:`: MLflow reads "
        "what follows two slashes as a host, so the name is lost and `latest` is taken "
        "for a logged model's id (\"Logged model with ID 'latest' not found\").",
        "",
        "### Accessing Artifacts",
        "- **Catalogue:** every run page lists its artifacts, with previews and downloads",
        "- **MLflow UI:** experiments and runs link to it from the catalogue",
        "- **Direct S3 Access:** the `s3://` URI of each folder is shown on its page",
    ]
    return lines


def _usage_example(data: MappingData) -> list[str]:
    """Every way to load one version (the first model's newest), as runnable lines."""
    example = data.example
    if example is None:
        return [
            '# By alias:   mlflow.pyfunc.load_model("models:/<name>@<alias>")',
            '# By version: mlflow.pyfunc.load_model("models:/<name>/<version>")',
        ]
    name = example.registered_model.name
    loader = next(
        (
            latest.loader
            for latest in data.latest_loaders
            if (latest.name, latest.version) == (name, example.version)
        ),
        None,
    )
    snippets = selectors.load_snippets(
        version=example, registered_model=example.registered_model, loader=loader
    )
    code = [f"# {one_line(example.registered_model.name)} v{example.version}"]
    if snippets:
        code.append(f"# {one_line(snippets[0].loader.note)}")
    for snippet in snippets:
        if snippet.loads:
            code += [f"# {one_line(snippet.label)}", one_line(snippet.code)]
        else:
            code.append(
                one_line(f"# {snippet.label} ({snippet.uri}) will not load: {snippet.unavailable}")
            )
    return code


def _quality_line(row: selectors.QualityRow, metric: str) -> str:
    folder = "?" if row.artifact_location is None else folder_of_location(row.artifact_location)
    return (
        f"- {_code(row.model_name)} v{row.version}: "
        f"{md_text(metric)} = {format_metric(row.metric_value)} (Folder {md_text(folder)})"
    )


def _quality(data: MappingData) -> list[str]:
    """The seed's "Quality Metrics Summary": models above the threshold, then forecasters.

    Preprocessing/utility models are not ranked (their runs' metrics are the model's they
    serve); a model sharing its source run with another ranked model is named, not listed.
    """
    lines = ["## Quality Metrics Summary", ""]
    quality = data.quality
    if quality.metric is None and quality.forecast_metric is None:
        return lines + ["No metrics recorded on registered models' source runs."]
    if quality.metric is not None:
        metric = quality.metric
        lines.append(f"### High-Performing Models ({md_text(metric)} >= {quality.threshold:g})")
        lines += [_quality_line(row, metric) for row in quality.rows] or ["- (none)"]
        lines.append("")
        lines.append("Preprocessing/utility models are left out: their metrics are their run's.")
        if quality.shared_left_out:
            names = ", ".join(_code(name) for name in quality.shared_left_out)
            lines.append(
                f"Also left out, their source run being another ranked model's too: {names}."
            )
    if quality.forecast_metric is not None:
        metric = quality.forecast_metric
        if quality.metric is not None:
            lines.append("")
        lines.append(f"### Forecasting Models ({md_text(metric)}, lowest first)")
        lines += [_quality_line(row, metric) for row in quality.forecast_rows] or ["- (none)"]
    return lines


def _specialized_domains(data: MappingData) -> list[str]:
    """Folders grouped by their curated domain, the domains with most folders first."""
    folders_of: dict[str, list[Experiment]] = defaultdict(list)
    for experiment in data.experiments:
        domain = one_line(experiment.specialized_domain)
        if domain:
            folders_of[domain].append(experiment)
    lines = ["### Specialized Domain Models"]
    domains = sorted(folders_of.items(), key=lambda item: (-len(item[1]), item[0]))
    for domain, experiments in domains[:DOMAINS_SHOWN]:
        folders = [folder_of(experiment) for experiment in experiments[:FOLDERS_PER_DOMAIN]]
        more = len(experiments) - len(folders)
        if more:
            folders.append(f"{more} more")
        models = sum(len(data.models_by_experiment.get(e.pk, [])) for e in experiments)
        lines.append(
            f"- **{md_text(domain)}:** {_folder_list(folders)} ({_plural(models, 'model')})"
        )
    if len(domains) > DOMAINS_SHOWN:
        lines.append(f"- … and {len(domains) - DOMAINS_SHOWN} more domains")
    if not domains:
        lines.append("- (none: a folder's specialized domain is set in the admin)")
    return lines


def _maintenance(data: MappingData) -> list[str]:
    buckets = ", ".join(md_code(f"s3://{bucket}/") for bucket in data.buckets) or "no bucket"
    deleted = data.deleted_runs_with_artifacts
    return [
        "## Maintenance Notes",
        "",
        f"- **Last Sync:** {_sync_line(data.sync)}",
        f"- **Total Storage:** {filesizeformat(data.totals['bytes'])} in "
        f"{data.totals['artifacts']} objects under {buckets}",
        f"- **Orphaned storage:** {data.orphans['n']} objects, "
        f"{filesizeformat(data.orphans['bytes'])} (see the catalogue's audit page)",
        f"- **Deleted runs still holding storage:** {_plural(deleted['n'], 'run')}, "
        f"{filesizeformat(deleted['bytes'])} (deleted in MLflow or gone from it; their "
        "S3 objects remain)",
        f"- **Runs without artifacts:** {data.runs_without_artifacts} (no S3 folder)",
        f"- **Versions with missing artifacts:** {data.versions_missing_artifacts}",
        "- **Access Pattern:** load production models through the registry "
        "(`models:/<name>@<alias>`) for version control",
    ]


def render_mapping_markdown(*, sync=_UNREAD) -> str:
    """The whole mapping page as Markdown, from the catalogue's current rows."""
    data = gather_mapping_data(sync=sync)
    lines = _header(data) + [""]
    lines += _quick_reference(data) + [""]
    lines += _overview(data) + ["", "## Experiment-to-S3 Folder Mapping", ""]
    for experiment in data.experiments:
        lines += _folder_section(data, experiment) + [""]
    lines += _artifact_structure(data) + [""]
    lines += _categories(data) + [""]
    lines += _usage(data) + [""]
    lines += _quality(data) + [""]
    lines += _specialized_domains(data) + [""]
    lines += _maintenance(data)
    return "\n".join(lines) + "\n"
