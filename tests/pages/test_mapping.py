"""``manage.py export_mapping`` and /export/mapping.md: the seed page, regenerated."""

from __future__ import annotations

import gc
import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import selectors
from catalog.mapping import RUNS_PER_FOLDER, _first_runs, _first_runs_by_rank, gather_mapping_data
from catalog.models import Experiment
from tests.factories import (
    NOW,
    make_experiment,
    make_model_version,
    make_registered_model,
    make_run,
)
from tests.pages.conftest import SEED_WORLD


def _export(**options) -> str:
    out = io.StringIO()
    call_command("export_mapping", stdout=out, **options)
    return out.getvalue()


def test_quick_reference_table_with_correct_counts(seed_world):
    markdown = _export()
    rows = re.findall(r"^\| (\d+)/ \| ([^|]+) \| [^|]* \| (\d+) \| ([^|]+) \|$", markdown, re.M)
    assert [(folder, name.strip(), int(count)) for folder, name, count, _ in rows] == [
        (folder, name, count)
        for (folder, (name, _, _)), count in zip(
            SEED_WORLD.items(), [2, 1, 2, 6, 2, 2, 2], strict=True
        )
    ]
    key_models_of_four = rows[3][3]
    assert "(+3 more)" in key_models_of_four


def test_sections_in_the_seeds_structure(seed_world):
    markdown = _export()
    headings = re.findall(r"^(#{1,3}) (.+)$", markdown, re.M)
    titles = [title for _, title in headings]
    for title in (
        "S3 Artifact Storage Mapping",
        "Quick Reference Table",
        "Overview",
        "Experiment-to-S3 Folder Mapping",
        "Folder 4/ - Classification Gauntlet (AI4I)",
        "Artifact Structure",
        "Model Categories by Type",
        "Anomaly detection Models",
        "Preprocessing / utility Models",
        "Usage Instructions",
        "Quality Metrics Summary",
        "Maintenance Notes",
    ):
        assert title in titles, title
    assert "- **Total Experiments:** 7" in markdown
    assert "- **Total Registered Models:** 17" in markdown
    assert "- **Total Runs:** 15" in markdown
    assert "`c795e657a4d147f1ac84ea0dc2bb68f1/` - randomforest_baseline - **FINISHED**" in markdown
    assert "- `xjtu_feature_scaler` (S3: 7/)" in markdown
    assert "│   ├── model/" in markdown and "MLmodel" in markdown
    assert "**Last Sync:** 2026-11-01 12:00 UTC" in markdown
    assert "Orphaned storage:** 1 objects, 4.0\xa0KB" in markdown
    assert "ai4i_classifier_lightgbm_engineered` v1: accuracy = 0.985 (Folder 4/)" in markdown
    assert 'mlflow.pyfunc.load_model("models:/' in markdown
    assert "models://" not in markdown


def test_output_file_and_view_agree(seed_world, tmp_path, reader_client):
    target = tmp_path / "mapping.md"
    _export(output=str(target))
    from_file = target.read_text()
    from_view = reader_client.get(reverse("catalog:mapping_export")).content.decode()
    # Only the "Generated" minute may differ.
    strip = lambda text: re.sub(r"\*\*Generated:\*\* [^\n]+", "", text)  # noqa: E731
    assert strip(from_file) == strip(from_view)


def test_bad_output_directory_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="No such directory"):
        _export(output=str(tmp_path / "missing" / "mapping.md"))


def test_empty_catalogue(db):
    markdown = _export()
    assert "**Last Sync:** never" in markdown
    assert "- **Total Experiments:** 0" in markdown


def test_first_runs_of_each_folder(db):
    """The first runs of each present folder, in start time order across folders."""
    crowded, small = make_experiment(), make_experiment()
    make_run(experiment=make_experiment(lifecycle_stage="deleted"))  # not on the page
    minutes = [7, 3, 3, 11, 0, 5, 9, 2, 8, 1, 4, 6]  # a tie at 3
    runs = [make_run(experiment=crowded, start_time=NOW + timedelta(minutes=m)) for m in minutes]
    make_run(experiment=crowded, start_time=NOW - timedelta(days=1), missing_since=NOW)
    undated = make_run(experiment=small, start_time=None)
    dated = make_run(experiment=small, start_time=NOW)
    folders = Experiment.objects.filter(missing_since=None, lifecycle_stage="active")

    rows = list(_first_runs(folders))

    first = sorted(runs, key=lambda run: (run.start_time, run.pk))[:RUNS_PER_FOLDER]
    expected = [(run.run_id, run.name, run.status, crowded.pk) for run in first]
    # In start time order across folders, a NULL start time last.
    expected.insert(1, (dated.run_id, dated.name, dated.status, small.pk))
    expected.append((undated.run_id, undated.name, undated.status, small.pk))
    assert rows == expected


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="PostgreSQL plans by statistics; the test tables have none",
)
def test_first_runs_are_found_by_index_never_by_scanning_the_runs(db):
    # SQLite plans without statistics unless ANALYZE ran, as in production: this plan is
    # the one a 100,000-run catalogue gets. Scanning the runs cost 0.5 s there.
    plan = _first_runs_by_rank(Experiment.objects.filter(missing_since=None)).explain()

    assert "SEARCH catalog_run USING INTEGER PRIMARY KEY" in plan
    assert "SCAN catalog_run" not in plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan (ADR 0014)")
def test_first_runs_walk_each_folder_once_on_postgresql(db):
    # One correlated lookup per (folder, rank) re-walked each folder's index entries
    # from the start for every rank: 10 scans of the runs and 55 steps per folder, 55 ms
    # at 200 folders. LATERAL: one scan, 10 steps per folder.
    for _ in range(3):
        experiment = make_experiment()
        for minute in range(RUNS_PER_FOLDER + 2):
            make_run(experiment=experiment, start_time=NOW + timedelta(minutes=minute))
    folders = Experiment.objects.filter(missing_since=None, lifecycle_stage="active")
    with CaptureQueriesContext(connection) as queries:
        rows = list(_first_runs(folders))
    assert len(rows) == 3 * RUNS_PER_FOLDER
    (query,) = queries
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + query["sql"])
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert plan.count(" on catalog_run ") == 1, plan
    assert "SubPlan" not in plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan (ADR 0014)")
def test_quality_summary_joins_no_run_on_postgresql(seed_world):
    # Its folder comes from a lookup by the run's pk; a join there would bring back the
    # plan the leaderboard avoids (selectors._source_run_value_by_pk).
    with CaptureQueriesContext(connection) as queries:
        data = gather_mapping_data()
    assert len(data.quality.rows) == 6
    # The ranking above the threshold, then the forecasters' (on RMSE).
    rankings = [query["sql"] for query in queries if '"metric_value"' in query["sql"]]
    assert len(rankings) == 2
    assert not any('JOIN "catalog_run"' in ranking for ranking in rankings)


def test_rows_are_tuples_the_gc_stops_tracking(seed_world):
    # Thousands of rows live through a big export: a tracked object per row (a dataclass)
    # is promoted to the oldest generation and brings the next full collection closer,
    # a ~60 ms pause on a big process (see catalog.mapping.RunRow).
    data = gather_mapping_data()
    runs = [run for folder_runs in data.runs_by_experiment.values() for run in folder_runs]
    gc.collect()
    assert data.models and runs
    assert not any(gc.is_tracked(row) for row in [*data.models, *runs])


def test_quality_summary_uses_the_first_metric_without_accuracy(db):
    for value in [0.97, 0.42]:
        model = make_registered_model(latest_version=1)
        make_model_version(registered_model=model, run=make_run(metrics={"f1": value, "zeta": 1}))
    assert not selectors.leaderboard_has_metric(metric="accuracy")
    assert selectors.leaderboard_has_metric(metric="f1")

    markdown = _export()

    assert "### High-Performing Models (f1 >= 0.9)" in markdown
    assert re.findall(r"^- `.+` v1: f1 = ([\d.]+) ", markdown, re.M) == ["0.97"]


def test_leaderboard_has_metric_agrees_with_the_keys(seed_world):
    keys = selectors.leaderboard_metric_keys()
    assert {"accuracy", "f1_score"} <= set(keys)
    for metric in [*keys, "rmse"]:
        assert selectors.leaderboard_has_metric(metric=metric) == (metric in keys)


# --- hostile names -------------------------------------------------------------------------

HOSTILE_NAMES = [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "![img](https://evil.example/x.png)",
    "`tick`",
    "``double`` and `single`",
    "|pipe|",
    "*star* _under_ ~~strike~~",
    "a\n```\n<img src=x onerror=alert(2)>\n```",
    "&lt;already&gt; &amp;",
    "<https://evil.example/>",
]
FENCE = re.compile(r"^(`{3,})[^\n]*\n.*?^\1$", re.M | re.S)


@pytest.fixture
def hostile_mapping_world(db):
    for index, name in enumerate(HOSTILE_NAMES, start=1):
        experiment = make_experiment(
            experiment_id=str(100 + index),
            name=name,
            mlflow_description=name,
            artifact_location=f"s3://bucket/{index}{name}",
        )
        run = make_run(experiment=experiment, name=name, metrics={"accuracy": 0.95})
        model = make_registered_model(name=f"{name} m{index}", experiment=experiment)
        make_model_version(registered_model=model, run=run, version=1)
        model.latest_version = 1
        model.save()


def rendered_as_wiki(markdown: str) -> str:
    """The export as a wiki renders it: CommonMark, tables, raw HTML passed through."""
    from markdown_it import MarkdownIt

    return (
        MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(markdown)
    )


def test_hostile_names_are_inert_in_the_export(hostile_mapping_world, reader_client):
    markdown = reader_client.get(reverse("catalog:mapping_export")).content.decode()
    outside_fences = FENCE.sub("", markdown)
    assert "<script" not in outside_fences.lower()
    assert "<img" not in outside_fences.lower() and "<https" not in outside_fences
    html = rendered_as_wiki(markdown)
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered
    assert "<a " not in lowered  # no name became a link, javascript: or otherwise
    assert "<del>" not in lowered and "<em>star" not in lowered
    # The names still read as themselves once rendered.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "[x](javascript:alert(1))" in html
    assert "&amp;lt;already&amp;gt;" in html


def test_fenced_blocks_cannot_be_closed_by_a_name(hostile_mapping_world):
    markdown = _export()
    fences = [match.group(0) for match in FENCE.finditer(markdown)]
    assert len(fences) == 2  # the artifact structure and the usage snippet
    for block in fences:
        assert "\n```\n<img" not in block


def test_pipes_do_not_split_quick_reference_cells(hostile_mapping_world):
    markdown = _export()
    rows = [line for line in markdown.splitlines() if line.startswith(r"| 6\|pipe\|/ |")]
    assert len(rows) == 1
    # Five columns: the escaped pipes in the name are not separators.
    assert len(re.findall(r"(?<!\\)\|", rows[0])) == 6


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain_name", "`plain_name`"),
        ("has `tick`", "`` has `tick` ``"),
        ("`edge", "`` `edge ``"),
        ("a``b", "```a``b```"),
        ("<b>", "&lt;b&gt;"),
    ],
)
def test_md_code(value, expected):
    from catalog.mapping import md_code

    assert md_code(value) == expected


def test_md_text_keeps_ordinary_names_readable():
    from catalog.mapping import md_text

    assert md_text("Classification Gauntlet (AI4I)") == "Classification Gauntlet (AI4I)"
    assert md_text("lightgbm_forecaster_v2") == "lightgbm_forecaster_v2"
    assert md_text("_x_ *y* [z] a|b") == r"\_x\_ \*y\* \[z\] a\|b"
