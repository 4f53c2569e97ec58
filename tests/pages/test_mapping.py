"""``manage.py export_mapping`` and /export/mapping.md: the seed page, regenerated."""

from __future__ import annotations

import gc
import io
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import selectors
from catalog.mapping import (
    RUN_COLUMNS,
    RUNS_PER_FOLDER,
    _first_runs,
    _first_runs_by_rank,
    gather_mapping_data,
    render_mapping_markdown,
)
from catalog.models import Artifact, Experiment, RegisteredModel, Run
from tests.factories import (
    NOW,
    make_artifact,
    make_experiment,
    make_logged_model,
    make_model_version,
    make_registered_model,
    make_run,
    make_sync_run,
)
from tests.pages.conftest import SEED_CATEGORIES, SEED_WORLD


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
        "Anomaly Detection Models",
        "Classification Models",
        "Forecasting Models",
        "Preprocessing/Utility Models",
        "Usage Instructions",
        "Quality Metrics Summary",
        "Specialized Domain Models",
        "Maintenance Notes",
    ):
        assert title in titles, title
    assert "- **Total Experiments:** 7" in markdown
    assert "- **Total Registered Models:** 17" in markdown
    assert "- **Total Runs:** 15" in markdown
    assert "`c795e657a4d147f1ac84ea0dc2bb68f1/` - randomforest_baseline - **FINISHED**" in markdown
    assert "- `xjtu_feature_scaler` (S3: 7/)" in markdown
    assert "    ├── model/" in markdown and "MLmodel" in markdown
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

    def row(run):
        return (*(getattr(run, name) for name in RUN_COLUMNS), run.pk, run.experiment_id)

    first = sorted(runs, key=lambda run: (run.start_time, run.pk))[:RUNS_PER_FOLDER]
    expected = [row(run) for run in first]
    # In start time order across folders, a NULL start time last.
    expected.insert(1, row(dated))
    expected.append(row(undated))
    assert [tuple(found) for found in rows] == expected


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
        run = make_run(
            experiment=experiment, name=name, metrics={"accuracy": 0.95}, artifact_count=1
        )
        make_artifact(run=run, path=f"{name}/{name}.png")
        model = make_registered_model(
            name=f"{name} m{index}",
            experiment=experiment,
            release_label=name,
            category="other",
        )
        experiment.related_links = f"{name} https://wiki.example/{index}?q={name}"
        experiment.specialized_domain = name
        experiment.save()
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
    # No name became a link, javascript: or otherwise: the only links are the curated
    # related documents' own addresses.
    hrefs = re.findall(r"<a\b[^>]*>", lowered)
    assert len(hrefs) == 2 * len(HOSTILE_NAMES)  # at the top and in each folder
    assert all(href.startswith('<a href="https://wiki.example/') for href in hrefs), hrefs
    assert "<del>" not in lowered and "<em>star" not in lowered
    # The names still read as themselves once rendered.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "[x](javascript:alert(1))" in html
    assert "&amp;lt;already&amp;gt;" in html


def test_fenced_blocks_cannot_be_closed_by_a_name(hostile_mapping_world, monkeypatch):
    monkeypatch.setattr("catalog.mapping.LAYOUTS_SHOWN", len(HOSTILE_NAMES))  # every run's tree
    markdown = _export()
    fences = [match.group(0) for match in FENCE.finditer(markdown)]
    assert len(fences) >= 2  # the usage snippet and at least one run's tree
    assert any("<img src=x onerror=alert(2)>" in block for block in fences)
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


# --- the seed's sections, true to the sources ---------------------------------------------


def _section(markdown: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = (
        markdown.index(heading + "\n") if heading + "\n" in markdown else markdown.index(heading)
    )
    end = re.compile(rf"^#{{1,{len(level)}}} ", re.M).search(markdown, start + len(heading))
    return markdown[start : end.start() if end else len(markdown)]


def test_folder_sections_show_deleted_and_empty_runs_orphans_and_logged_models(seed_world):
    three, six = seed_world["experiments"]["3"], seed_world["experiments"]["6"]
    deleted = make_run(
        experiment=three,
        run_id="d" * 32,
        name="tuning_63",
        lifecycle_stage="deleted",
        artifact_count=11,
        artifact_bytes=538_000,
        start_time=NOW + timedelta(hours=5),
    )
    make_run(
        experiment=three,
        run_id="e" * 32,
        name="failed_tuning",
        status="FAILED",
        start_time=NOW + timedelta(hours=6),
    )
    make_run(
        experiment=three,
        run_id="c" * 32,
        name="deleted_empty",
        lifecycle_stage="deleted",
        start_time=NOW + timedelta(hours=7),
    )
    Experiment.objects.filter(pk=three.pk).update(run_count=5)
    make_artifact(key=f"2/{'f' * 32}/artifacts/notes.txt", orphan_folder=f"2/{'f' * 32}/", size=60)
    make_artifact(key=f"2/{'f' * 32}/artifacts/model.pkl", orphan_folder=f"2/{'f' * 32}/", size=40)
    make_artifact(key="4/ai4i_dataset_snapshot.csv", orphan_folder="4/", size=52)
    make_logged_model(experiment=six, artifact_count=5, artifact_bytes=3_000)

    markdown = _export()

    # The folders count 18 runs: the two deleted ones are said apart, as on the home page.
    assert "- **Total Runs:** 16 (plus 2 deleted)" in markdown
    folder_three = _section(markdown, "### Folder 3/")
    assert (
        f"  - `{deleted.run_id}/` - tuning_63 - **DELETED** in MLflow (status FINISHED); "
        "its 11 objects (525.4\xa0KB) remain in S3\n" in folder_three
    )
    assert f"  - `{'e' * 32}` - failed_tuning - **FAILED** - no artifacts (no S3 folder)\n" in (
        folder_three
    )
    assert (
        f"  - `{'c' * 32}` - deleted_empty - **DELETED** in MLflow (status FINISHED) - "
        "no artifacts (no S3 folder)\n" in folder_three
    )
    assert folder_three.count("**FINISHED**") == 2  # prophet and lightgbm_challenger only
    folder_two = _section(markdown, "### Folder 2/")
    assert f"  - `{'f' * 32}/` - **ORPHAN**: no MLflow run; 2 objects, 100\xa0bytes" in folder_two
    assert "(loose objects in 4/) - **ORPHAN**: no run; 1 object, 52\xa0bytes" in _section(
        markdown, "### Folder 4/"
    )
    assert "`deadbeefdeadbeefdeadbeefdeadbeef/` - **ORPHAN**" in _section(markdown, "### Folder 1/")
    assert "ORPHAN" not in _section(markdown, "### Folder 5/")
    assert "  - `models/` - MLflow 3 logged models: 1 model, 5 objects, 2.9\xa0KB" in _section(
        markdown, "### Folder 6/"
    )
    notes = _section(markdown, "## Maintenance Notes")
    assert "- **Deleted runs still holding storage:** 1 run, 525.4\xa0KB" in notes
    assert "- **Runs without artifacts:** 2 (no S3 folder)" in notes


def _trees(markdown: str) -> list[tuple[int, str, set[str]]]:
    """``(runs sharing it, example run id, its paths)`` of each tree of the structure."""
    section = _section(markdown, "## Artifact Structure")
    found = []
    for match in re.finditer(
        r"^\*\*(\d+) runs?\*\* in [^\n]*, e\.g\. `(\w+)/`[^\n]*:\n```\n(.*?)\n```$",
        section,
        re.M | re.S,
    ):
        paths, top = set(), None
        for line in match.group(3).splitlines()[2:]:  # after "{run_id}/" and "artifacts/"
            name = line.split("── ", 1)[1]
            if line.startswith("    │") or line.startswith("        "):
                paths.add(f"{top}{name}")
                paths.discard(top)
            else:
                top = name
                paths.add(name)
        found.append((int(match.group(1)), match.group(2), paths))
    return found


def _paths_of(run_id: str) -> set[str]:
    return set(Artifact.objects.filter(run__run_id=run_id).values_list("path", flat=True))


def test_artifact_structure_shows_real_runs_grouped_by_layout(seed_world):
    # The seed world's 15 runs share one layout; two runs differ from it.
    xjtu = make_run(experiment=seed_world["experiments"]["7"], name="xjtu_2", artifact_count=4)
    for path in ("model/MLmodel", "scaler/MLmodel", "plots/only_here.png", "feature_names.txt"):
        make_artifact(run=xjtu, path=path)
    bare = make_run(experiment=seed_world["experiments"]["3"], name="no_model", artifact_count=1)
    make_artifact(run=bare, path="feature_names.txt")

    markdown = _export()

    trees = _trees(markdown)
    assert sorted(runs for runs, _, _ in trees) == [1, 1, 15]
    for _, run_id, paths in trees:
        assert paths == _paths_of(run_id), run_id  # every tree is one run's files exactly
    assert "from 17 runs sampled" in markdown
    shared = next(paths for runs, _, paths in trees if runs == 15)
    assert not any("scaler" in path or "only_here" in path for path in shared)
    # A folder's Artifacts line names what its sampled runs hold at their top level.
    assert (
        "- **Artifacts:** 5 objects, 6.0\xa0KB; its runs hold model/, plots/, scaler/, "
        "feature_names.txt\n" in _section(markdown, "### Folder 7/")
    )


def test_artifact_structure_reads_whole_runs_only(seed_world, monkeypatch):
    monkeypatch.setattr("catalog.mapping.STRUCTURE_SAMPLE", 12)
    big = make_run(
        experiment=seed_world["experiments"]["1"],
        start_time=NOW - timedelta(days=1),
        artifact_count=13,
    )
    for index in range(13):
        make_artifact(run=big, path=f"chunks/{index}.bin")
    # A stale count (a file went since the sync counted): read short, left out.
    stale = seed_world["runs"]["refined_v2"]
    Run.objects.filter(pk=stale.pk).update(artifact_count=6)

    data = gather_mapping_data()

    sampled = {run_id for run_id, _, _ in data.structure.runs.values()}
    # Folder 1's first run is too big; then folder 2's (stale) and 3's first runs fit
    # the 12 objects with nothing to spare for another run of 5.
    assert big.run_id not in sampled and stale.run_id not in sampled
    assert data.structure.too_large == 1
    read = Counter(pk for pk, _ in data.structure.paths)
    assert set(read) == set(data.structure.runs)
    assert all(count == 5 for count in read.values())
    markdown = _export()
    assert "1 run with more than 12 objects not sampled." in markdown


def test_curated_facts_fill_the_seeds_status_related_and_domains(seed_world):
    checklist = (
        "[V1_UNIFIED_DEPLOYMENT_CHECKLIST.md](./V1_UNIFIED_DEPLOYMENT_CHECKLIST.md)"
        " - Current deployment procedures"
    )
    changelog = "Sprint 4 Changelog ./legacy/sprint_4_changelog.md - S3 integration achievements"
    Experiment.objects.update(related_links=checklist)
    Experiment.objects.filter(experiment_id="1").update(
        related_links=f"{checklist}\n{changelog}\n[x](javascript:alert(1))"
    )
    for folders, domain in [
        (["5", "7"], "Vibration Analysis"),
        (["6"], "Audio Analysis"),
        (["3"], "Time-Series Forecasting"),
    ]:
        Experiment.objects.filter(experiment_id__in=folders).update(specialized_domain=domain)
    RegisteredModel.objects.update(release_label="V1.0 Production")
    RegisteredModel.objects.filter(name="xjtu_feature_scaler").update(release_label="")
    RegisteredModel.objects.filter(name="MIMII_Audio_Scaler").update(release_label="V1.1 *beta*")

    markdown = _export()

    assert (
        "**Status:** V1.0 Production (15 models), V1.1 \\*beta\\* (1 model), 1 model without "
        "a release label; 17 registered models in 7 experiments" in markdown
    )
    assert (
        "**Related:**\n"
        f"- {checklist}\n"
        "- [Sprint 4 Changelog](./legacy/sprint_4_changelog.md) - S3 integration achievements"
        " — Folder 1/\n" in markdown
    )
    assert "javascript" not in markdown
    folder_one = _section(markdown, "### Folder 1/")
    # The checklist every folder lists is said once, at the top.
    assert "- **Related:**\n  - [Sprint 4 Changelog](./legacy/sprint_4_changelog.md)" in folder_one
    assert "CHECKLIST" not in folder_one
    assert "- **Related:**" not in _section(markdown, "### Folder 2/")
    assert (
        "`xjtu_anomaly_isolation_forest` (Run: 56453d8fa3af43b987c67553b0985872; "
        "release: V1.0 Production)" in markdown
    )
    assert "`xjtu_feature_scaler` (Run: 56453d8fa3af43b987c67553b0985872)\n" in markdown
    assert _section(markdown, "### Specialized Domain Models").splitlines()[1:4] == [
        "- **Vibration Analysis:** Folders 5/ and 7/ (4 models)",
        "- **Audio Analysis:** Folder 6/ (2 models)",
        "- **Time-Series Forecasting:** Folder 3/ (2 models)",
    ]


def test_without_curated_facts_the_sections_say_how_to_fill_them(seed_world):
    markdown = _export()
    assert "**Status:** 17 registered models in 7 experiments" in markdown
    assert "**Related:**" not in markdown
    assert "- (none: a folder's specialized domain is set in the admin)" in markdown


def test_curated_description_first_then_mlflows_when_they_differ(seed_world):
    Experiment.objects.filter(experiment_id="2").update(description="Sensor anomalies, curated")
    Experiment.objects.filter(experiment_id="4").update(
        description="Machine failure prediction using AI4I dataset"  # the same as MLflow's
    )
    Experiment.objects.filter(experiment_id="5").update(
        description="Bearings, curated", mlflow_description=""
    )

    markdown = _export()

    assert (
        "- **Purpose:** Sensor anomalies, curated\n"
        "  - From MLflow: Enhanced anomaly detection using real sensor data\n"
        in _section(markdown, "### Folder 2/")
    )
    assert "From MLflow" not in _section(markdown, "### Folder 4/")
    assert "- **Purpose:** Bearings, curated\n- **S3 prefix:**" in _section(
        markdown, "### Folder 5/"
    )
    assert "| 2/ | Anomaly Detection | Sensor anomalies, curated |" in markdown


def _more_folders(count: int, start: int) -> None:
    for number in range(start, start + count):
        experiment = make_experiment(
            experiment_id=str(number),
            specialized_domain=f"Domain {number % 2}",
            related_links=f"Doc https://wiki.example/{number}",
        )
        for index in range(3):
            run = make_run(
                experiment=experiment,
                artifact_count=2,
                lifecycle_stage="deleted" if index == 2 else "active",
            )
            make_artifact(run=run, path="model/MLmodel")
            make_artifact(run=run, path=f"plots/{index}.png")
        make_artifact(key=f"{number}/stray/a.bin", orphan_folder=f"{number}/stray/")
        make_logged_model(experiment=experiment, artifact_count=1)
        model = make_registered_model(experiment=experiment, release_label="R1")
        make_model_version(registered_model=model, run=run)


def test_the_export_runs_the_same_queries_for_more_folders(seed_world):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            markdown = render_mapping_markdown()
        assert markdown
        return len(captured)

    _more_folders(2, start=100)
    few = queries()
    _more_folders(6, start=200)
    assert queries() == few


def test_the_demo_world_export_matches_the_seed_page(db):
    """The seed page's facts, section by section, on the synced demo world."""
    from demo.curated import apply_curated_facts
    from demo.seed import DRIFT

    call_command("loaddata", "fixtures/demo_world.json", verbosity=0)
    make_sync_run()
    assert apply_curated_facts() == {"experiments": 7, "registered_models": 17}

    markdown = _export()

    assert "**Status:** V1.0 Production (17 models); " in markdown
    # Said once in the header, not on each of the 17 models.
    assert "release:" not in _section(markdown, "## Experiment-to-S3 Folder Mapping")
    related = _section(markdown, "# S3 Artifact Storage Mapping").split("**Related:**\n")[1]
    assert related.splitlines()[:2] == [
        "- [V1_UNIFIED_DEPLOYMENT_CHECKLIST.md](./V1_UNIFIED_DEPLOYMENT_CHECKLIST.md)"
        " - Current deployment procedures",
        "- [Sprint 4 Changelog](./legacy/sprint_4_changelog.md)"
        " - S3 integration achievements (archived) — Folder 1/",
    ]
    rows = re.findall(r"^\| (\d+)/ \| ([^|]+) \| [^|]* \| (\d+) \|", markdown, re.M)
    assert [(folder, name.strip(), int(count)) for folder, name, count in rows] == [
        (folder, name, count)
        for (folder, (name, _, _)), count in zip(
            SEED_WORLD.items(), [2, 1, 2, 6, 2, 2, 2], strict=True
        )
    ]
    for folder, (name, _, runs) in SEED_WORLD.items():
        section = _section(markdown, f"### Folder {folder}/ - {name}")
        for run_id, _, models in runs:
            assert f"`{run_id}/`" in section, (folder, run_id)
            for model in models:
                assert f"`{model}` (Run: " in section, (folder, model)
    folder_three = _section(markdown, "### Folder 3/")
    deleted = DRIFT["deleted_run_with_artifacts"]
    assert re.search(rf"`{deleted}/` - \w+ - \*\*DELETED\*\* in MLflow", folder_three)
    assert f"`{DRIFT['run_without_artifacts']}` - " in folder_three
    assert "no artifacts (no S3 folder)" in folder_three
    assert f"`{DRIFT['orphan_folder'][2:]}` - **ORPHAN**" in _section(markdown, "### Folder 2/")
    assert "(loose objects in 4/) - **ORPHAN**" in _section(markdown, "### Folder 4/")
    categories = _section(markdown, "## Model Categories by Type")
    for category, heading in [
        ("anomaly_detection", "### Anomaly Detection Models"),
        ("forecasting", "### Forecasting Models"),
        ("preprocessing", "### Preprocessing/Utility Models"),
    ]:
        for model in SEED_CATEGORIES[category]:
            assert f"- `{model}` (S3: " in _section(categories, heading), model
    for _, run_id, paths in _trees(markdown):
        assert paths == _paths_of(run_id)
    assert [
        line.split(" (")[0]
        for line in _section(markdown, "### Specialized Domain Models").splitlines()[1:4]
    ] == [
        "- **Vibration Analysis:** Folders 5/ and 7/",
        "- **Audio Analysis:** Folder 6/",
        "- **Time-Series Forecasting:** Folder 3/",
    ]
    notes = _section(markdown, "## Maintenance Notes")
    assert re.search(r"Deleted runs still holding storage:\*\* 1 run, [\d.]+\xa0KB", notes)
    assert "- **Runs without artifacts:** 1 (no S3 folder)" in notes
    assert "- **Versions with missing artifacts:** 1" in notes
