"""The printed tables: every figure and ratio, and PASS/MISS against each target."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from importlib import metadata

from benchmarks.config import TARGETS

# (item, label, dotted path into the item's result, format)
FIGURES = (
    ("e2e", "floor: bare walk of MLflow + S3 (s)", "floor_s", "{:.2f}"),
    ("e2e", "floor, MLflow part (s)", "floors.0.mlflow_s", "{:.2f}"),
    ("e2e", "floor, S3 part (s)", "floors.0.s3_s", "{:.2f}"),
    ("e2e", "first sync (s)", "first.seconds", "{:.2f}"),
    ("e2e", "first sync / floor", "first_over_floor", "{:.2f}"),
    ("e2e", "bare GETs of the files a first sync reads (s)", "content_reads.seconds", "{:.2f}"),
    ("e2e", "first sync / (floor + bare GETs)", "first_over_floor_with_reads", "{:.2f}"),
    ("e2e", "bare bulk metric-history GETs (s)", "history_reads.seconds", "{:.2f}"),
    ("e2e", "first-sync floor: walk + file GETs + history GETs (s)", "first_floor_s", "{:.2f}"),
    ("e2e", "first sync / first-sync floor", "first_over_first_floor", "{:.2f}"),
    ("e2e", "first sync: metric history calls", "first.metric_history_calls", "{}"),
    ("e2e", "first sync: S3 object reads", "first.get_object_calls", "{}"),
    ("e2e", "no-change re-sync (s)", "resync.seconds", "{:.2f}"),
    ("e2e", "no-change re-sync / floor", "resync_over_floor", "{:.2f}"),
    ("e2e", "no-change re-sync: rows written", "resync_rows_written", "{}"),
    ("reconcile", "bare record streams (s)", "streams_s", "{:.2f}"),
    ("reconcile", "bare artifact stream alone (s)", "artifact_stream_s", "{:.2f}"),
    ("reconcile", "first sync (s)", "phases.first.seconds", "{:.2f}"),
    ("reconcile", "first sync: artifacts/s (whole sync)", "first_artifacts_per_s", "{:,}"),
    ("reconcile", "first sync: artifact stage (s)", "phases.first.artifact_stage_s", "{:.2f}"),
    ("reconcile", "first sync: artifacts/s (artifact stage)", "first_artifact_stage_per_s", "{:,}"),
    (
        "reconcile",
        "first sync: artifacts/s (artifact stage less the bare stream)",
        "first_artifact_stage_net_per_s",
        "{:,}",
    ),
    (
        "reconcile",
        "artifact insert floor: the first sync's rows inserted bare into a copy (s)",
        "insert_floor_s",
        "{:.2f}",
    ),
    (
        "reconcile",
        "first sync: artifact stage / insert floor",
        "first_stage_over_insert_floor",
        "{:.2f}",
    ),
    ("reconcile", "first sync: stages (s)", "phases.first.stages_s", "{}"),
    ("reconcile", "first sync: peak RSS (MB)", "phases.first.peak_rss_mb", "{:.0f}"),
    ("reconcile", "no-change re-sync (s)", "phases.nochange.seconds", "{:.2f}"),
    ("reconcile", "no-change re-sync: artifacts/s (whole sync)", "resync_artifacts_per_s", "{:,}"),
    (
        "reconcile",
        "no-change re-sync: artifacts/s (artifact stage)",
        "resync_artifact_stage_per_s",
        "{:,}",
    ),
    (
        "reconcile",
        "no-change re-sync: artifacts/s (artifact stage less the bare stream)",
        "resync_artifact_stage_net_per_s",
        "{:,}",
    ),
    ("reconcile", "no-change re-sync: stages (s)", "phases.nochange.stages_s", "{}"),
    ("reconcile", "no-change re-sync: rows written", "resync_rows_written", "{}"),
    ("reconcile", "no-change re-sync: peak RSS (MB)", "phases.nochange.peak_rss_mb", "{:.0f}"),
    ("reconcile", "1% changed re-sync (s)", "phases.changed.seconds", "{:.2f}"),
    ("reconcile", "1% changed re-sync: artifacts/s", "changed_artifacts_per_s", "{:,}"),
    ("reconcile", "1% changed re-sync: rows written", "phases.changed.rows_written", "{:,}"),
    (
        "reconcile",
        "change events written (first, no-change, 1% changed)",
        "change_events_written",
        "{}",
    ),
    ("reconcile", "peak RSS of any phase (MB)", "peak_rss_mb", "{:.0f}"),
    ("pages", "pages measured", "pages_measured", "{}"),
    ("pages", "worst p95 of any page (ms)", "worst_p95_ms", "{:.1f}"),
    ("pages", "most queries of any page", "worst_queries", "{}"),
    ("pages", "pages served by the page cache", "pages_cached", "{}"),
    ("pages", "worst p95 of any page, page cache warm (ms)", "worst_warm_p95_ms", "{:.1f}"),
    ("pages", "most queries of any page, page cache warm", "worst_warm_queries", "{}"),
    ("leaderboard", "models", "models", "{}"),
    (
        "leaderboard",
        "catalogue /metrics/ rendered (page cache off), all pages (s)",
        "catalogue_s",
        "{:.4f}",
    ),
    ("leaderboard", "live MLflow, per model (s)", "live_per_model_s", "{:.3f}"),
    ("leaderboard", "live MLflow, batched (s)", "live_batched_s", "{:.3f}"),
    ("leaderboard", "speedup vs per model", "speedup", "{:.1f}"),
    ("leaderboard", "speedup vs batched", "speedup_vs_batched", "{:.1f}"),
    (
        "leaderboard",
        "catalogue as served (page cache), all pages (s)",
        "catalogue_cached_s",
        "{:.4f}",
    ),
    ("leaderboard", "as served: speedup vs per model", "speedup_cached", "{:.1f}"),
    ("leaderboard", "as served: speedup vs batched", "speedup_cached_vs_batched", "{:.1f}"),
    ("leaderboard", "models shown by the catalogue", "catalogue_models_shown", "{}"),
    ("load", "trivial view (req/s)", "phases.trivial.rps", "{:.1f}"),
    ("load", "trivial view, with a sync running (req/s)", "phases.trivial.with_sync.rps", "{}"),
    ("load", "experiment page (req/s)", "phases.page.rps", "{:.1f}"),
    ("load", "experiment page, with a sync running (req/s)", "phases.page.with_sync.rps", "{}"),
    ("load", "page / trivial", "page_over_trivial", "{:.2f}"),
    ("load", "errors", "errors", "{}"),
    ("load", '"database is locked"', "locked", "{}"),
    ("load", "syncs during load exited 0", "syncs_ok", "{}"),
)
ITEM_TITLES = {
    "e2e": "1. End to end against real stand-ins",
    "reconcile": "2. The catalogue's own cost (in-memory streams)",
    "pages": "3. Pages at scale",
    "leaderboard": "4. Leaderboard versus live MLflow",
    "load": "5. Under load",
}


def lookup(result: dict | None, path: str):
    value = result
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def _fmt(value, pattern: str = "{}") -> str:
    if value is None:
        return "-"
    try:
        return pattern.format(value)
    except (ValueError, TypeError):
        return str(value)


def machine() -> dict:
    def run(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=False).stdout
        except OSError:
            return ""

    memory = run("free", "-m").splitlines()
    versions = {}
    for package in ("django", "mlflow", "boto3", "moto", "gunicorn", "psycopg", "django-tables2"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    postgres = run("psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version")
    return {
        "cores": os.cpu_count(),
        "memory_mb": int(memory[1].split()[1]) if len(memory) > 1 else None,
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in run("cat", "/proc/cpuinfo").splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres.strip() or None,
        "wrk": bool(run("sh", "-c", "command -v wrk").strip()),
        "git_commit": run("git", "rev-parse", "--short", "HEAD").strip(),
        **versions,
    }


def render(summary: dict) -> str:
    results = summary["results"]
    sqlite, postgres = results.get("sqlite", {}), results.get("postgres", {})
    lines = [
        f"# Benchmark ({summary['plan']} plan, {summary['stamp']}, {summary['wall_s']:.0f}s)",
        "",
        "## Targets",
        "",
        "| target | SQLite | verdict | PostgreSQL | verdict |",
        "|---|---|---|---|---|",
    ]
    for target in TARGETS:
        item, _, path = target.figure.partition(".")
        value = lookup(sqlite.get(item), path)
        pg_value = lookup(postgres.get(item), path) if item in postgres else None
        lines.append(
            f"| {target.text} | {_fmt(value)} | {target.judge(value)} | "
            f"{_fmt(pg_value)} | {target.judge(pg_value) if item in postgres else ''} |"
        )
    for item, title in ITEM_TITLES.items():
        if item not in sqlite:
            continue
        lines += ["", f"## {title}", ""]
        has_pg = item in postgres
        lines.append("| figure | SQLite |" + (" PostgreSQL |" if has_pg else ""))
        lines.append("|---|---|" + ("---|" if has_pg else ""))
        if sqlite[item].get("failed"):
            lines.append(f"| FAILED (exit {sqlite[item].get('exit_code')}) | |")
        for figure_item, label, path, pattern in FIGURES:
            if figure_item != item:
                continue
            row = f"| {label} | {_fmt(lookup(sqlite[item], path), pattern)} |"
            if has_pg:
                row += f" {_fmt(lookup(postgres[item], path), pattern)} |"
            lines.append(row)
        if item == "pages":
            lines += ["", *_pages_table(sqlite[item], postgres.get(item))]
    return "\n".join(lines) + "\n"


# Per-page columns: cold (the render, page cache emptied before each request), then
# warm (served by the page cache; "-" for pages it does not keep).
PAGE_COLUMNS = (
    ("median ms", "median_ms"),
    ("p95 ms", "p95_ms"),
    ("queries", "queries"),
    ("warm median ms", "warm_median_ms"),
    ("warm p95 ms", "warm_p95_ms"),
    ("warm queries", "warm_queries"),
)


def _pages_table(sqlite: dict, postgres: dict | None) -> list[str]:
    header = "| page | status |" + "".join(f" {label} |" for label, _ in PAGE_COLUMNS)
    rule = "|---|---|" + "---|" * len(PAGE_COLUMNS)
    if postgres:
        header += "".join(f" PG {label} |" for label, _ in PAGE_COLUMNS)
        rule += "---|" * len(PAGE_COLUMNS)
    lines = [header, rule]
    pg_pages = {p["page"]: p for p in (postgres or {}).get("pages", [])}
    for page in sqlite.get("pages", []):
        row = f"| {page['page']} | {page.get('status')} |"
        row += "".join(f" {_fmt(page.get(key))} |" for _, key in PAGE_COLUMNS)
        if postgres:
            other = pg_pages.get(page["page"], {})
            row += "".join(f" {_fmt(other.get(key))} |" for _, key in PAGE_COLUMNS)
        lines.append(row)
    return lines


def missing_figures(summary: dict, *, items: list[str]) -> list[str]:
    """Figures a target needs that some measurement did not produce."""
    missing = []
    for backend, by_item in summary["results"].items():
        for item, result in by_item.items():
            if result.get("failed"):
                missing.append(f"{item} ({backend}) failed")
                continue
            for target in TARGETS:
                target_item, _, path = target.figure.partition(".")
                undefined = path in result.get("undefined_figures", ())
                if target_item == item and lookup(result, path) is None and not undefined:
                    missing.append(f"{target.figure} ({backend})")
    return missing
