"""The seed page ("S3 Artifact Storage Mapping") regenerated from the catalogue.

Same structure as the hand-kept page it replaces: quick reference, overview, one
section per folder, artifact structure, categories, usage (with valid MLflow URIs),
quality summary and maintenance notes, all from live rows, with the last sync time in
place of a hand-typed date. Served at ``/export/mapping.md`` and written by
``manage.py export_mapping``.

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

from django.db import connection
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Length
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from catalog import selectors
from catalog.formatting import folder_of, folder_of_location, format_metric, plain_purpose
from catalog.models import Artifact, Category, Experiment, ModelVersion, RegisteredModel, Run

RUNS_PER_FOLDER = 10
MODELS_PER_CATEGORY = 200
STRUCTURE_SAMPLE = 2_000
QUALITY_THRESHOLD = 0.9
QUALITY_ROWS = 100


EXPERIMENT_FIELDS = (
    "experiment_id",
    "name",
    "artifact_location",
    "description",
    "mlflow_description",
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
RunRow = tuple[str, str, str]
"""``(run_id, name, status)`` of one of a folder's first runs."""
ModelRow = tuple[str, str, int | None, str | None]
"""``(name, effective category, experiment pk, latest version's source run id)``."""


@dataclass
class MappingData:
    """Everything the page shows, read once."""

    sync: object
    totals: dict
    experiments: list[Experiment]
    models: list[ModelRow]
    runs_by_experiment: dict[int, list[RunRow]]
    structure: list[tuple[int, str]]
    example: ModelVersion | None
    quality: selectors.QualitySummary
    orphans: dict
    versions_missing_artifacts: int
    models_by_experiment: dict[int, list[ModelRow]] = field(default_factory=dict)

    def __post_init__(self):
        for model in self.models:
            _, _, experiment_pk, _ = model
            if experiment_pk is not None:
                self.models_by_experiment.setdefault(experiment_pk, []).append(model)

    @property
    def buckets(self) -> list[str]:
        found = {selectors.bucket_of(e.artifact_location) for e in self.experiments}
        return sorted(found - {""})


def _first_runs(folders: QuerySet[Experiment]) -> Iterable[tuple[str, str, str, int]]:
    """``(run_id, name, status, experiment pk)`` of the first runs of each of ``folders``.

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
        .values_list("run_id", "name", "status", "experiment_id")
    )


def _first_runs_lateral(folders: QuerySet[Experiment]) -> list[tuple[str, str, str, int]]:
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
    sql = (
        "SELECT r.run_id, r.name, r.status, r.experiment_id"  # noqa: S608
        f" FROM ({folder_sql}) AS f (id) CROSS JOIN LATERAL ("
        f" SELECT u.id, u.run_id, u.name, u.status, u.experiment_id, u.start_time"
        f" FROM {table} u WHERE u.experiment_id = f.id AND u.missing_since IS NULL"
        f" ORDER BY u.start_time, u.id LIMIT %s) AS r"
        " ORDER BY r.start_time NULLS LAST, r.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*folder_params, RUNS_PER_FOLDER])
        return cursor.fetchall()


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
        .values_list("name", "effective", "experiment_id", "latest_run_id")
    )
    runs_by_experiment: dict[int, list[RunRow]] = defaultdict(list)
    for run_id, name, status, experiment_pk in _first_runs(folders):
        runs_by_experiment[experiment_pk].append((run_id, name, status))
    structure = list(
        Artifact.objects.filter(run__isnull=False, missing_since=None)
        .order_by()
        .values_list("run_id", "path")[:STRUCTURE_SAMPLE]
    )
    example = (
        ModelVersion.objects.filter(missing_since=None, registered_model__missing_since=None)
        .select_related("registered_model", "run", "logged_model")
        .order_by("registered_model__name", "-version")
        .first()
    )
    quality = selectors.quality_summary(threshold=QUALITY_THRESHOLD, limit=QUALITY_ROWS)
    orphans = selectors.orphan_totals()
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
        versions_missing_artifacts=ModelVersion.objects.filter(
            missing_since=None, artifacts_present=False
        ).count(),
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


def _header(data: MappingData) -> list[str]:
    return [
        "# S3 Artifact Storage Mapping",
        "",
        f"**Generated:** {timezone.now():%Y-%m-%d %H:%M} UTC by the SmartMaint catalogue  ",
        f"**Last Sync:** {_sync_line(data.sync)}  ",
        f"**Status:** {len(data.models)} registered models in {data.totals['active']} experiments",
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
        key_models = ", ".join(name for name, _, _, _ in models[:shown])
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
        f"- **Total Runs:** {totals['runs']}",
        f"- **Total Registered Models:** {len(data.models)}",
        f"- **Total Artifacts:** {totals['artifacts']} objects, {filesizeformat(totals['bytes'])}",
        "- **Storage Pattern:** `{experiment_id}/{run_id}/artifacts/{artifact_path}`",
    ]


def _folder_section(data: MappingData, experiment: Experiment) -> list[str]:
    lines = [
        f"### Folder {md_text(folder_of(experiment))} - {md_text(experiment.name)}",
        f"- **Experiment ID:** {md_text(experiment.experiment_id)}",
        f'- **Experiment Name:** "{md_text(experiment.name)}"',
        f"- **Purpose:** {md_text(plain_purpose(experiment.purpose, limit=500)) or '—'}",
        f"- **S3 prefix:** {_code(experiment.artifact_location + '/')}",
        "- **Sub-folders (Run IDs):**",
    ]
    runs = data.runs_by_experiment.get(experiment.pk, [])
    for run_id, name, status in runs:
        label = f" - {md_text(name)}" if name else ""
        state = f" - **{md_text(status)}**" if status else ""
        lines.append(f"  - {_code(run_id + '/')}{label}{state}")
    if experiment.run_count > len(runs):
        lines.append(f"  - … and {experiment.run_count - len(runs)} more runs")
    if not runs:
        lines.append("  - (none)")
    lines.append("- **Registered Models:**")
    models = data.models_by_experiment.get(experiment.pk, [])
    for name, _, _, latest_run_id in models:
        suffix = f" (Run: {md_text(latest_run_id)})" if latest_run_id else ""
        lines.append(f"  - {_code(name)}{suffix}")
    if not models:
        lines.append("  - (none)")
    lines.append(
        f"- **Artifacts:** {experiment.artifact_count} objects, "
        f"{filesizeformat(experiment.artifact_bytes)}"
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


def _artifact_structure(data: MappingData) -> list[str]:
    """The run folder layout as found: top-level entries with the share of runs having them."""
    # defaultdicts: ``setdefault(name, Counter())`` built a throwaway set and Counter
    # for each of the 2,000 sampled paths.
    entries: dict[str, set] = defaultdict(set)
    children: dict[str, Counter] = defaultdict(Counter)
    for run_id, path in data.structure:
        head, slash, rest = path.partition("/")
        name = head + slash
        entries[name].add(run_id)
        if rest:
            child = rest.split("/", 1)[0] + ("/" if "/" in rest else "")
            children[name][child] += 1
    runs_seen = len({run_id for run_id, _ in data.structure}) or 1
    tree = ["{run_id}/", "├── artifacts/"]
    for name in sorted(entries, key=lambda entry: (not entry.endswith("/"), entry)):
        share = round(100 * len(entries[name]) / runs_seen)
        tree.append(f"│   ├── {one_line(name):<28} # in {share}% of runs")
        for child in _folder_children(children.get(name, Counter())):
            tree.append(f"│   │   ├── {one_line(child)}")
    return [
        "## Artifact Structure",
        "",
        f"Each run folder contains (share of the {runs_seen} runs sampled):",
        *code_fence(tree),
    ]


def _categories(data: MappingData) -> list[str]:
    folders = {experiment.pk: folder_of(experiment) for experiment in data.experiments}
    by_category: dict[str, list[ModelRow]] = defaultdict(list)
    for model in data.models:
        _, category, _, _ = model
        by_category[category].append(model)
    lines = ["## Model Categories by Type"]
    for category in Category:
        models = by_category.get(category.value)
        if not models:
            continue
        lines += ["", f"### {category.label} Models"]
        for name, _, experiment_pk, _ in models[:MODELS_PER_CATEGORY]:
            folder = folders.get(experiment_pk)
            lines.append(f"- {_code(name)}" + (f" (S3: {md_text(folder)})" if folder else ""))
        if len(models) > MODELS_PER_CATEGORY:
            lines.append(f"- … and {len(models) - MODELS_PER_CATEGORY} more")
    return lines


def _usage(data: MappingData) -> list[str]:
    code = ["import mlflow", ""]
    example = data.example
    if example is None:
        code += [
            '# By alias:   mlflow.pyfunc.load_model("models:/<name>@<alias>")',
            '# By version: mlflow.pyfunc.load_model("models:/<name>/<version>")',
        ]
    else:
        code.append(f"# {one_line(example.registered_model.name)} v{example.version}")
        for snippet in selectors.load_snippets(
            version=example, registered_model=example.registered_model
        ):
            code.append(f"# {one_line(snippet.label)}")
            code.append(one_line(snippet.code))
    lines = ["## Usage Instructions", "", "### Loading Models", *code_fence(code, info="python")]
    lines += [
        "",
        "Valid forms: `models:/<name>@<alias>`, `models:/<name>/<version>`, "
        "`runs:/<run_id>/<path>`, `s3://<bucket>/<exp_id>/<run_id>/artifacts/<path>`. "
        "There is no `latest` shorthand: point an alias (e.g. `@production`) at a version.",
        "",
        "### Accessing Artifacts",
        "- **Catalogue:** every run page lists its artifacts, with previews and downloads",
        "- **MLflow UI:** experiments and runs link to it from the catalogue",
        "- **Direct S3 Access:** the `s3://` URI of each folder is shown on its page",
    ]
    return lines


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


def _maintenance(data: MappingData) -> list[str]:
    buckets = ", ".join(md_code(f"s3://{bucket}/") for bucket in data.buckets) or "no bucket"
    return [
        "## Maintenance Notes",
        "",
        f"- **Last Sync:** {_sync_line(data.sync)}",
        f"- **Total Storage:** {filesizeformat(data.totals['bytes'])} in "
        f"{data.totals['artifacts']} objects under {buckets}",
        f"- **Orphaned storage:** {data.orphans['n']} objects, "
        f"{filesizeformat(data.orphans['bytes'])} (see the catalogue's audit page)",
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
    lines += _maintenance(data)
    return "\n".join(lines) + "\n"
