"""The seed page ("S3 Artifact Storage Mapping") regenerated from the catalogue.

Same structure as the hand-kept page it replaces: quick reference, overview, one
section per folder, artifact structure, categories, usage (with valid MLflow URIs, never
``models://``), quality summary and maintenance notes, all from live rows, with the
last sync time in place of a hand-typed date. Served at ``/export/mapping.md`` and
written by ``manage.py export_mapping``. Lists are capped so the page stays readable
(and bounded) for a large server.
"""

from __future__ import annotations

from collections import Counter

from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from catalog import selectors
from catalog.models import Artifact, ModelVersion, Run
from catalog.tables import folder_of, format_metric, plain_purpose

RUNS_PER_FOLDER = 25
MODELS_PER_LIST = 100
STRUCTURE_SAMPLE = 20_000
QUALITY_THRESHOLD = 0.9


def _cell(text) -> str:
    """Markdown table cell text: pipes escaped, newlines flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _code(text) -> str:
    return "`" + str(text).replace("`", "'") + "`"


def _quick_reference(experiments) -> list[str]:
    lines = [
        "## Quick Reference Table",
        "",
        "| S3 Folder | Experiment Name | Purpose | Models Count | Key Models |",
        "|-----------|----------------|---------|--------------|------------|",
    ]
    for experiment in experiments:
        models = list(experiment.registered_models.all())
        key_models = ", ".join(model.name for model in models[: selectors.KEY_MODELS_SHOWN])
        if len(models) > selectors.KEY_MODELS_SHOWN:
            key_models += f" (+{len(models) - selectors.KEY_MODELS_SHOWN} more)"
        lines.append(
            f"| {_cell(folder_of(experiment))} | {_cell(experiment.name)} | "
            f"{_cell(plain_purpose(experiment.purpose))} | {experiment.model_count} | "
            f"{_cell(key_models) or '—'} |"
        )
    return lines


def _overview(overview: selectors.Overview) -> list[str]:
    buckets = ", ".join(_code(bucket) for bucket in overview.buckets) or "none"
    return [
        "## Overview",
        "",
        f"- **S3 Bucket{'s' if len(overview.buckets) != 1 else ''}:** {buckets}",
        f"- **Total Experiments:** {overview.experiment_count}"
        + (
            f" (plus {overview.deleted_experiment_count} deleted)"
            if overview.deleted_experiment_count
            else ""
        ),
        f"- **Total Runs:** {overview.run_count}",
        f"- **Total Registered Models:** {overview.model_count}",
        f"- **Total Artifacts:** {overview.artifact_count} objects, "
        f"{filesizeformat(overview.artifact_bytes)}",
        f"- **Storage Pattern:** {_code(overview.storage_pattern)}",
    ]


def _folder_section(experiment, runs_by_experiment, versions_by_run) -> list[str]:
    lines = [
        f"### Folder {folder_of(experiment)} - {experiment.name}",
        f"- **Experiment ID:** {experiment.experiment_id}",
        f'- **Experiment Name:** "{experiment.name}"',
        f"- **Purpose:** {plain_purpose(experiment.purpose, limit=500) or '—'}",
        f"- **S3 prefix:** {_code(experiment.artifact_location)}",
        "- **Sub-folders (Run IDs):**",
    ]
    runs = runs_by_experiment.get(experiment.pk, [])
    for run in runs:
        label = f" - {run.name}" if run.name else ""
        status = f" - **{run.status}**" if run.status else ""
        lines.append(f"  - {_code(run.run_id + '/')}{label}{status}")
    if experiment.run_count > len(runs):
        lines.append(f"  - … and {experiment.run_count - len(runs)} more runs")
    if not runs:
        lines.append("  - (none)")
    lines.append("- **Registered Models:**")
    models = list(experiment.registered_models.all())
    for model in models:
        runs_of_model = sorted(
            {
                version.source_run_id
                for run in runs
                for version in versions_by_run.get(run.pk, [])
                if version.registered_model_id == model.pk
            }
        )
        suffix = f" (Run: {', '.join(runs_of_model)})" if runs_of_model else ""
        lines.append(f"  - {_code(model.name)}{suffix}")
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


def _artifact_structure() -> list[str]:
    """The run folder layout as found: top-level entries with the share of runs having them."""
    paths = Artifact.objects.filter(run__isnull=False, missing_since=None).values_list(
        "run_id", "path"
    )[:STRUCTURE_SAMPLE]
    entries: dict[str, set] = {}
    children: dict[str, Counter] = {}
    for run_id, path in paths:
        head, slash, rest = path.partition("/")
        name = head + slash
        entries.setdefault(name, set()).add(run_id)
        if rest:
            child = rest.split("/", 1)[0] + ("/" if "/" in rest else "")
            children.setdefault(name, Counter())[child] += 1
    lines = ["## Artifact Structure", "", "Each run folder contains (share of runs sampled):"]
    lines.append("```")
    lines.append("{run_id}/")
    lines.append("├── artifacts/")
    runs_seen = len({run_id for run_id, _ in paths}) or 1
    for name in sorted(entries, key=lambda entry: (not entry.endswith("/"), entry)):
        share = round(100 * len(entries[name]) / runs_seen)
        lines.append(f"│   ├── {name:<28} # in {share}% of runs")
        for child in _folder_children(children.get(name, Counter())):
            lines.append(f"│   │   ├── {child}")
    lines.append("```")
    return lines


def _categories() -> list[str]:
    lines = ["## Model Categories by Type"]
    for group in selectors.category_groups():
        lines += ["", f"### {group.label} Models"]
        for model in group.models[:MODELS_PER_LIST]:
            where = f" (S3: {folder_of(model.experiment)})" if model.experiment else ""
            lines.append(f"- {_code(model.name)}{where}")
        if group.count > len(group.models[:MODELS_PER_LIST]):
            lines.append(f"- … and {group.count - MODELS_PER_LIST} more")
    return lines


def _usage() -> list[str]:
    example = (
        ModelVersion.objects.filter(missing_since=None, registered_model__missing_since=None)
        .select_related("registered_model", "run", "logged_model")
        .order_by("registered_model__name", "-version")
        .first()
    )
    lines = ["## Usage Instructions", "", "### Loading Models", "```python", "import mlflow", ""]
    if example is None:
        lines += [
            '# By alias:   mlflow.pyfunc.load_model("models:/<name>@<alias>")',
            '# By version: mlflow.pyfunc.load_model("models:/<name>/<version>")',
        ]
    else:
        lines.append(f"# {example.registered_model.name} v{example.version}")
        for snippet in selectors.load_snippets(
            version=example, registered_model=example.registered_model
        ):
            lines.append(f"# {snippet.label}")
            lines.append(snippet.code)
    lines += [
        "```",
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


def _quality() -> list[str]:
    keys = selectors.leaderboard_metric_keys()
    metric = "accuracy" if "accuracy" in keys else (keys[0] if keys else None)
    lines = ["## Quality Metrics Summary", ""]
    if metric is None:
        return lines + ["No metrics recorded on registered models' source runs."]
    lines.append(f"### High-Performing Models ({metric} >= {QUALITY_THRESHOLD:g})")
    rows = list(selectors.leaderboard(metric=metric, threshold=QUALITY_THRESHOLD)[:MODELS_PER_LIST])
    for version in rows:
        folder = folder_of(version.run.experiment) if version.run else "?"
        lines.append(
            f"- {_code(version.registered_model.name)} v{version.version}: "
            f"{metric} = {format_metric(version.metric_value)} (Folder {folder})"
        )
    if not rows:
        lines.append("- (none)")
    return lines


def _maintenance(overview: selectors.Overview) -> list[str]:
    sync = selectors.last_sync()
    if sync is None:
        synced = "never synced"
    else:
        when = sync.finished_at or sync.started_at
        synced = f"{when:%Y-%m-%d %H:%M} UTC ({sync.get_status_display()})"
    audit = selectors.audit_summary()
    return [
        "## Maintenance Notes",
        "",
        f"- **Last Sync:** {synced}",
        f"- **Total Storage:** {filesizeformat(overview.artifact_bytes)} in "
        f"{overview.artifact_count} objects under "
        + (", ".join(f"`s3://{bucket}/`" for bucket in overview.buckets) or "no bucket"),
        f"- **Orphaned storage:** {audit.orphan_objects} objects, "
        f"{filesizeformat(audit.orphan_bytes)} (see the catalogue's audit page)",
        f"- **Versions with missing artifacts:** {audit.versions_missing_artifacts}",
        "- **Access Pattern:** load production models through the registry "
        "(`models:/<name>@<alias>`) for version control",
    ]


def render_mapping_markdown() -> str:
    """The whole mapping page as Markdown, from the catalogue's current rows."""
    overview = selectors.overview()
    experiments = list(
        selectors.experiment_rows().filter(missing_since=None, lifecycle_stage="active")
    )
    # One query for the first runs of every folder shown, one for their versions.
    runs_by_experiment: dict[int, list[Run]] = {}
    for experiment in experiments:
        runs_by_experiment[experiment.pk] = []
    run_rows = (
        Run.objects.filter(experiment__in=[e.pk for e in experiments], missing_since=None)
        .only("pk", "run_id", "name", "status", "experiment_id", "start_time")
        .order_by("experiment_id", "start_time", "run_id")
    )
    for run in run_rows.iterator():
        bucket = runs_by_experiment[run.experiment_id]
        if len(bucket) < RUNS_PER_FOLDER:
            bucket.append(run)
    shown_runs = [run.pk for runs in runs_by_experiment.values() for run in runs]
    versions_by_run: dict[int, list[ModelVersion]] = {}
    for version in ModelVersion.objects.filter(run__in=shown_runs, missing_since=None):
        versions_by_run.setdefault(version.run_id, []).append(version)

    sync = selectors.last_sync()
    generated = timezone.now()
    lines = [
        "# S3 Artifact Storage Mapping",
        "",
        f"**Generated:** {generated:%Y-%m-%d %H:%M} UTC by the SmartMaint catalogue  ",
        "**Last Sync:** "
        + (
            f"{(sync.finished_at or sync.started_at):%Y-%m-%d %H:%M} UTC, "
            f"{sync.get_status_display()}"
            if sync
            else "never"
        )
        + "  ",
        f"**Status:** {overview.model_count} registered models in {overview.experiment_count} "
        "experiments",
        "",
        "This page maps the S3 bucket structure to MLflow experiments, runs and registered "
        "models. It is generated from the catalogue: do not edit it by hand.",
        "",
    ]
    lines += _quick_reference(experiments) + [""]
    lines += _overview(overview) + ["", "## Experiment-to-S3 Folder Mapping", ""]
    for experiment in experiments:
        lines += _folder_section(experiment, runs_by_experiment, versions_by_run) + [""]
    lines += _artifact_structure() + [""]
    lines += _categories() + [""]
    lines += _usage() + [""]
    lines += _quality() + [""]
    lines += _maintenance(overview)
    return "\n".join(lines) + "\n"
