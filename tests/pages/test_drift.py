"""Counts and drift where people look: home, folder pages, lists, the audit and its listings."""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
import shlex
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import selectors
from catalog.cleanup import prefix_upper_bound, s3_rm_command
from catalog.models import Artifact, Experiment
from tests.factories import (
    BUCKET,
    NOW,
    make_artifact,
    make_experiment,
    make_logged_model,
    make_model_version,
    make_registered_model,
    make_run,
    make_sync_run,
)
from tests.moto_s3 import web_s3_with_bucket

pytestmark = pytest.mark.django_db

MAX_QUERIES = 15
# The seed world's orphan (tests/pages/conftest.py): a run folder MLflow does not know.
SEED_ORPHAN_GROUP = "1/deadbeefdeadbeefdeadbeefdeadbeef/"


def _text(response) -> str:
    """The page as a reader sees it: tags and <wbr> gone, entities decoded, spaces squeezed."""
    body = response.content.decode()
    body = re.sub(r"<[^>]+>", " ", body.replace("<wbr>", ""))
    return re.sub(r"\s+", " ", html_lib.unescape(body))


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def _delete(run) -> None:
    run.lifecycle_stage = "deleted"
    run.save()


def _orphan(key: str, group: str, *, size: int = 100, bucket: str = BUCKET) -> Artifact:
    return make_artifact(key=key, orphan_folder=group, size=size, bucket=bucket)


def _copies(html: str) -> list[str]:
    return [html_lib.unescape(text) for text in re.findall(r'data-copy="([^"]*)"', html)]


# --- runs: active and deleted apart ------------------------------------------------------


def test_home_counts_active_runs_and_says_the_deleted_apart(seed_world, reader_client):
    _delete(seed_world["runs"]["prophet"])
    response = reader_client.get(reverse("catalog:home"))
    overview = response.context["overview"]
    # The sync's run_count counts every present run, deleted ones too (15 in the seed).
    assert (overview.run_count, overview.deleted_run_count) == (14, 1)
    assert "14 runs, 1 deleted" in _text(response)


def test_home_says_nothing_of_deleted_runs_when_there_are_none(seed_world, reader_client):
    text = _text(reader_client.get(reverse("catalog:home")))
    assert "15 runs" in text
    assert "deleted" not in text.split("15 runs", 1)[1][:20]


def test_folder_page_and_list_count_active_runs_with_the_deleted_apart(seed_world, reader_client):
    _delete(seed_world["runs"]["prophet"])
    response = reader_client.get(reverse("catalog:experiment_detail", args=["3"]))
    experiment = response.context["experiment"]
    assert (experiment.active_run_count, experiment.deleted_run_count) == (1, 1)
    assert "Runs 1, 1 deleted" in _text(response)

    response = reader_client.get(reverse("catalog:experiment_list"))
    rows = {row.record.experiment_id: row for row in response.context["table"].rows}
    assert rows["3"].get_cell_value("run_count") == 1
    assert "(1 deleted)" in str(rows["3"].get_cell("run_count"))
    assert "deleted" not in str(rows["4"].get_cell("run_count"))
    exported = _csv(reader_client.get(reverse("catalog:experiment_list") + "?_export=csv"))
    three = next(row for row in exported if row["ID"] == "3")
    assert (three["Runs"], three["Deleted runs"]) == ("1", "1")


def test_gone_runs_are_not_counted_as_deleted(seed_world, reader_client):
    run = seed_world["runs"]["prophet"]
    run.lifecycle_stage = "deleted"
    run.missing_since = NOW
    run.save()
    experiment = selectors.experiment_detail(experiment_id="3")
    assert experiment.deleted_run_count == 0


# --- the folder page: its orphans and its logged models' objects -------------------------


def test_folder_page_shows_its_orphans_with_links(seed_world, reader_client):
    group = "2/3b5c2e391f1efc50dd365df1c3fdea08/"
    for name, size in (("artifacts/model/MLmodel", 49), ("artifacts/notes.txt", 60)):
        _orphan(group + name, group, size=size)
    _orphan("4/ai4i_dataset_snapshot.csv", "4/", size=52)
    make_experiment(experiment_id="20", name="Twenty")
    _orphan("20/stray/x.bin", "20/stray/", size=7)  # "20/" sorts right after "2/"

    response = reader_client.get(reverse("catalog:experiment_detail", args=["2"]))
    drift = response.context["drift"]
    assert (drift.orphan_folders, drift.orphan_objects, drift.orphan_bytes) == (1, 2, 109)
    assert [row["entry"] for row in drift.orphan_rows] == [group]
    text = _text(response)
    assert "2 objects under s3://yan-smart-maintenance-artifacts/2/ belong to no run" in text
    listing = html_lib.escape(drift.orphan_rows[0]["url"])
    assert listing in response.content.decode()
    assert reader_client.get(drift.orphan_rows[0]["url"]).status_code == 200

    four = reader_client.get(reverse("catalog:experiment_detail", args=["4"])).context["drift"]
    assert [(row["entry"], row["object_count"]) for row in four.orphan_rows] == [("4/", 1)]
    one = reader_client.get(reverse("catalog:experiment_detail", args=["1"])).context["drift"]
    assert [row["entry"] for row in one.orphan_rows] == [SEED_ORPHAN_GROUP]
    five = reader_client.get(reverse("catalog:experiment_detail", args=["5"]))
    assert five.context["drift"].orphan_objects == 0
    assert "belongs to a run or a logged model" in _text(five)


def test_folder_page_shows_its_logged_models_objects(seed_world, reader_client):
    experiment = seed_world["experiments"]["6"]
    run = seed_world["runs"]["mimii_benchmark"]
    logged = make_logged_model(
        experiment=experiment,
        run=run,
        model_id="m-0d069b553a530b54fadb2c7b79002966",
        name="sk_model",
        artifact_count=5,
        artifact_bytes=3040,
    )
    response = reader_client.get(reverse("catalog:experiment_detail", args=["6"]))
    drift = response.context["drift"]
    assert (drift.logged_model_count, drift.logged_model_objects) == (1, 5)
    assert drift.logged_model_bytes == 3040
    html = response.content.decode()
    assert reverse("catalog:logged_model_artifacts", args=[logged.model_id]) in html
    assert logged.get_absolute_url() in html
    assert "1 logged model, 5 objects, 3.0 KB" in _text(response)


def test_folder_page_of_a_non_s3_location_says_where_its_objects_are(db, reader_client):
    make_experiment(experiment_id="9", artifact_location="mlflow-artifacts:/9")
    response = reader_client.get(reverse("catalog:experiment_detail", args=["9"]))
    assert response.context["drift"] is None
    assert "not an s3:// URI" in _text(response)


def test_folder_page_lists_a_bounded_number_of_orphan_folders(seed_world, reader_client):
    for index in range(selectors.FOLDER_DRIFT_ROWS + 5):
        _orphan(f"2/g{index:03d}/a.bin", f"2/g{index:03d}/", size=1000 - index)
    drift = reader_client.get(reverse("catalog:experiment_detail", args=["2"])).context["drift"]
    assert len(drift.orphan_rows) == selectors.FOLDER_DRIFT_ROWS
    assert drift.orphan_folders == selectors.FOLDER_DRIFT_ROWS + 5
    assert drift.more_orphan_folders == 5
    assert drift.orphan_rows[0]["entry"] == "2/g000/"  # biggest first


# --- the home page's drift summary -------------------------------------------------------


def test_home_summarises_the_drift_with_links_to_the_audit(seed_world, reader_client):
    _delete(seed_world["runs"]["svc_baseline"])
    make_run(experiment=seed_world["experiments"]["2"], artifact_count=0)
    version = seed_world["models"]["vibration_anomaly_oneclasssvm"].versions.get()
    version.artifacts_present = False
    version.save()
    _orphan("stray.txt", "/", size=10)
    response = reader_client.get(reverse("catalog:home"))
    drift = response.context["drift"]
    assert (drift.orphan_folders, drift.orphan_objects, drift.orphan_bytes) == (2, 2, 4106)
    assert drift.runs_without_artifacts == 1
    assert drift.versions_missing_artifacts == 1
    assert (drift.deleted_runs_with_artifacts, drift.deleted_runs_bytes) == (1, 5 * 1234)
    text = _text(response)
    assert "Orphan folders : 2 folders or stray keys, 2 objects, 4.0 KB" in text
    assert "Runs with no artifacts : 1" in text
    assert "Versions whose artifacts are missing : 1" in text
    assert "Deleted runs with leftovers in S3 : 1, 6.0 KB" in text
    html = response.content.decode()
    for section in ("orphans", "empty-runs", "missing-artifacts", "deleted-runs"):
        assert f'href="{reverse("catalog:audit")}?section={section}"' in html


def test_home_says_when_there_is_no_drift(db, reader_client):
    run = make_run(artifact_count=1)
    make_artifact(run=run, path="model/MLmodel")
    drift = reader_client.get(reverse("catalog:home"))
    assert not drift.context["drift"].has_drift
    assert "Drift between MLflow and S3 None" in _text(drift)


# --- key models ---------------------------------------------------------------------------


def test_key_models_lead_with_aliases_then_quality_then_name(db, reader_client):
    experiment = make_experiment(experiment_id="8")

    def model(name, *, aliases=None, metrics=None):
        run = make_run(experiment=experiment, metrics=metrics or {})
        registered = make_registered_model(
            name=name, experiment=experiment, latest_version=1, aliases=aliases or {}
        )
        make_model_version(registered_model=registered, run=run, version=1)

    model("a_plain_best", metrics={"accuracy": 0.99})
    model("b_staging", aliases={"staging": 1}, metrics={"accuracy": 0.5})
    model("c_champion", aliases={"champion": 1}, metrics={"accuracy": 0.7})
    model("d_production", aliases={"production": 1}, metrics={"accuracy": 0.8})
    model("e_plain_good", metrics={"accuracy": 0.9})
    model("f_plain_no_metric")
    rows = selectors.attach_key_models(selectors.experiment_rows().filter(experiment_id="8"))
    # @production and @champion first (the better first), then any alias.
    assert selectors.key_model_names(rows[0]) == ["d_production", "c_champion", "b_staging"]

    for name in ("b_staging", "c_champion", "d_production"):
        experiment.registered_models.filter(name=name).update(aliases={})
    rows = selectors.attach_key_models(selectors.experiment_rows().filter(experiment_id="8"))
    assert selectors.key_model_names(rows[0]) == ["a_plain_best", "e_plain_good", "d_production"]
    html = reader_client.get(reverse("catalog:home")).content.decode()
    assert html.index("a_plain_best") < html.index("e_plain_good") < html.index("d_production")


def test_key_models_rank_error_metrics_lowest_first(db):
    experiment = make_experiment(experiment_id="8")
    for name, rmse in (("high_error", 9.0), ("low_error", 1.0), ("mid_error", 4.0)):
        run = make_run(experiment=experiment, metrics={"rmse": rmse})
        registered = make_registered_model(name=name, experiment=experiment, latest_version=1)
        make_model_version(registered_model=registered, run=run, version=1)
    names = selectors.key_models_by_experiment([experiment.pk])
    assert names == {experiment.pk: ["low_error", "mid_error", "high_error"]}


# --- the audit: orphan rows open listings; stray keys by name ------------------------------


def test_every_orphan_row_opens_a_listing_of_its_objects(seed_world, reader_client):
    group = "2/3b5c2e391f1efc50dd365df1c3fdea08/"
    _orphan(group + "artifacts/model/MLmodel", group, size=49)
    _orphan(group + "artifacts/notes.txt", group, size=60)
    response = reader_client.get(reverse("catalog:audit") + "?section=orphans")
    rows = [row.record for row in response.context["table"].rows]
    html = response.content.decode()
    for row in rows:
        assert html_lib.escape(row_url(row)) in html
    listing = reader_client.get(row_url(next(row for row in rows if row["entry"] == group)))
    assert listing.status_code == 200
    objects = [row.record.key for row in listing.context["table"].rows]
    assert objects == [group + "artifacts/model/MLmodel", group + "artifacts/notes.txt"]
    text = _text(listing)
    assert "49 bytes" in text and "60 bytes" in text
    assert "2026-11-01 12:00" in text
    for artifact in Artifact.objects.filter(orphan_folder=group):
        assert reverse("catalog:orphan_download", args=[artifact.pk]) in listing.content.decode()


def row_url(row: dict) -> str:
    from catalog.tables import orphan_row_url

    return orphan_row_url(row)


def test_stray_keys_at_the_bucket_top_appear_by_name(db, reader_client):
    _orphan("stray.txt", "/", size=10)
    _orphan("notes.md", "/", size=20)
    response = reader_client.get(reverse("catalog:audit") + "?section=orphans")
    text = _text(response)
    assert "s3://yan-smart-maintenance-artifacts//" not in text
    assert "s3://yan-smart-maintenance-artifacts/stray.txt (stray key)" in text
    assert "s3://yan-smart-maintenance-artifacts/notes.md (stray key)" in text
    rows = [row.record for row in response.context["table"].rows]
    assert sorted((row["entry"], row["object_count"]) for row in rows) == [
        ("notes.md", 1),
        ("stray.txt", 1),
    ]
    listing = reader_client.get(row_url(rows[0]))
    assert [row.record.key for row in listing.context["table"].rows] == [rows[0]["entry"]]
    assert response.context["summary"].orphan_folders == 2
    text = _text(listing)
    assert "Stray key" in text and f"aws s3 rm s3://{BUCKET}/{rows[0]['entry']} --dryrun" in text


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?bucket=" + BUCKET,
        "?bucket=" + BUCKET + "&group=nowhere/",
        "?bucket=" + "b" * 64 + "&group=x/",
        "?bucket=" + BUCKET + "&group=a%00b/",
        "?bucket=" + BUCKET + "&group=" + SEED_ORPHAN_GROUP + "&key=other",
        "?bucket=" + BUCKET + "&group=" + "x" * 1100,
        "?bucket=" + BUCKET + "&group=/",  # the bucket's top: by key only
    ],
)
def test_orphan_listing_of_nothing_is_404(seed_world, reader_client, query):
    response = reader_client.get(reverse("catalog:orphan_objects") + query)
    assert response.status_code == 404


def test_orphan_listing_is_paginated_and_bounded(db, reader_client, settings):
    settings.CATALOG_PAGE_CACHE_SECONDS = 0
    Artifact.objects.bulk_create(
        Artifact(
            bucket=BUCKET,
            key=f"old/{index:04d}.bin",
            path=f"old/{index:04d}.bin",
            folder="old",
            orphan_folder="old/",
            size=index,
            first_seen=NOW,
            last_seen=NOW,
        )
        for index in range(120)
    )
    url = reverse("catalog:orphan_objects") + f"?bucket={BUCKET}&group=old/"
    table = reader_client.get(url).context["table"]
    assert (len(table.page.object_list), table.paginator.count) == (50, 120)
    table = reader_client.get(url + "&per_page=1000000&page=9").context["table"]
    assert len(table.page.object_list) == 120
    with CaptureQueriesContext(connection) as few:
        reader_client.get(url)
    Artifact.objects.bulk_create(
        Artifact(
            bucket=BUCKET,
            key=f"old/more{index:04d}.bin",
            path=f"old/more{index:04d}.bin",
            folder="old",
            orphan_folder="old/",
            first_seen=NOW,
            last_seen=NOW,
        )
        for index in range(300)
    )
    with CaptureQueriesContext(connection) as many:
        reader_client.get(url)
    assert len(many) == len(few) <= MAX_QUERIES


def test_orphan_listings_are_cached_apart(seed_world, reader_client):
    _orphan("9/a/x.bin", "9/a/")
    _orphan("9/b/y.bin", "9/b/")
    url = reverse("catalog:orphan_objects") + f"?bucket={BUCKET}&group="
    first = reader_client.get(url + "9/a/")
    second = reader_client.get(url + "9/b/")
    assert "9/a/x.bin" in _text(first) and "9/a/x.bin" not in _text(second)
    assert "9/b/y.bin" in _text(reader_client.get(url + "9/b/"))


@pytest.fixture
def s3(settings, monkeypatch):
    """moto's in-process S3 with a bucket of this module's own (one store per process)."""
    yield from web_s3_with_bucket(settings, monkeypatch, "drift-orphans")


def test_an_orphan_downloads_as_an_attachment(db, reader_client, s3):
    artifact = _orphan("4/ai4i_dataset_snapshot.csv", "4/", size=12, bucket="drift-orphans")
    s3.put_object(Bucket="drift-orphans", Key=artifact.key, Body=b"a,b\n1,2\n<x>\n")
    response = reader_client.get(reverse("catalog:orphan_download", args=[artifact.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"a,b\n1,2\n<x>\n"
    assert response["Content-Disposition"].startswith("attachment")
    assert "ai4i_dataset_snapshot.csv" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_only_present_orphans_download(db, reader_client, s3):
    run = make_run()
    owned = make_artifact(run=run, path="model/MLmodel", bucket="drift-orphans")
    gone = _orphan("x/gone.bin", "x/", bucket="drift-orphans")
    gone.missing_since = NOW
    gone.save()
    for artifact in (owned, gone):
        response = reader_client.get(reverse("catalog:orphan_download", args=[artifact.pk]))
        assert response.status_code == 404
    assert reader_client.get("/audit/orphans/999999/download").status_code == 404


# --- cleanup commands ----------------------------------------------------------------------


def test_cleanup_commands_are_quoted_for_a_shell():
    hostile = "x/it's; rm -rf ~ $(id)\n.txt"
    command = s3_rm_command(bucket=BUCKET, key=hostile, recursive=False)
    assert command.dry_run == command.delete + " --dryrun"
    assert shlex.split(command.delete) == ["aws", "s3", "rm", f"s3://{BUCKET}/{hostile}"]
    folder = s3_rm_command(bucket=BUCKET, key="2/abc/", recursive=True)
    assert folder.dry_run == f"aws s3 rm s3://{BUCKET}/2/abc/ --recursive --dryrun"
    assert folder.delete == f"aws s3 rm s3://{BUCKET}/2/abc/ --recursive"


def test_prefix_upper_bound_bounds_exactly_the_keys_under_a_prefix():
    assert prefix_upper_bound("2/") == "20"
    upper = prefix_upper_bound("2/")
    assert all("2/" <= key < upper for key in ("2/", "2/a", "2/\U0010ffff"))
    assert not any("2/" <= key < upper for key in ("20/x", "2", "1/z", "3/"))
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"
    with pytest.raises(ValueError):
        prefix_upper_bound("")


def test_each_orphan_row_offers_its_cleanup_command(seed_world, reader_client):
    run = seed_world["runs"]["realistic_validation"]
    # Orphans only under this folder: removed as a whole.
    _orphan("old/a b/x.bin", "old/a b/")
    _orphan("old/a b/y.bin", "old/a b/")
    # A stray file beside the run folders of experiment 1: never the folder as a whole.
    _orphan("1/README", "1/")
    _orphan("1/notes.txt", "1/")
    # Beside a known run's artifacts/: its group is the run's folder.
    _orphan(f"1/{run.run_id}/stray.log", f"1/{run.run_id}/")
    _orphan(f"1/{run.run_id}/stray2.log", f"1/{run.run_id}/")
    _orphan("top.txt", "/")
    response = reader_client.get(reverse("catalog:audit") + "?section=orphans")
    rows = {row.record["entry"]: row.record for row in response.context["table"].page.object_list}
    html = response.content.decode()
    copies = _copies(html)

    folder = rows["old/a b/"]["cleanup"]
    assert folder.dry_run == f"aws s3 rm 's3://{BUCKET}/old/a b/' --recursive --dryrun"
    assert folder.dry_run in copies and folder.delete in copies
    assert rows["1/"]["cleanup"] is None and rows["1/"]["shares_prefix"]
    assert rows[f"1/{run.run_id}/"]["cleanup"] is None
    single = rows[SEED_ORPHAN_GROUP]["cleanup"]
    assert single.delete == f"aws s3 rm s3://{BUCKET}/{SEED_ORPHAN_GROUP}artifacts/old.pkl"
    assert "--recursive" not in single.dry_run
    assert rows["top.txt"]["cleanup"].delete == f"aws s3 rm s3://{BUCKET}/top.txt"
    assert not any(
        "--recursive" in text and (f"{BUCKET}/1/'" in text or f"{BUCKET}/1/ " in text)
        for text in copies
    )
    assert "remove object by object" in _text(response)

    listing = reader_client.get(row_url(rows["1/"]))
    listed = _copies(listing.content.decode())
    assert f"aws s3 rm s3://{BUCKET}/1/README --dryrun" in listed
    assert not any("--recursive" in text for text in listed)
    assert "no command removes the folder as a whole" in _text(listing)
    whole = reader_client.get(row_url(rows["old/a b/"]))
    assert folder.delete in _copies(whole.content.decode())


def test_owned_objects_that_are_gone_do_not_block_a_folder_command(db, reader_client):
    run = make_run(experiment=make_experiment(experiment_id="12"))
    gone = make_artifact(run=run, path="model/MLmodel")
    gone.missing_since = NOW
    gone.save()
    _orphan(f"12/{run.run_id}/a.log", f"12/{run.run_id}/")
    _orphan(f"12/{run.run_id}/b.log", f"12/{run.run_id}/")
    table = reader_client.get(reverse("catalog:audit")).context["table"]
    rows = [row.record for row in table.page.object_list]
    assert rows[0]["cleanup"].recursive


def test_deleted_runs_offer_the_removal_of_their_artifact_prefix(seed_world, reader_client):
    run = seed_world["runs"]["svc_baseline"]
    _delete(run)
    response = reader_client.get(reverse("catalog:audit") + "?section=deleted-runs")
    prefix = f"s3://{BUCKET}/4/{run.run_id}/artifacts/"
    assert f"aws s3 rm {prefix} --recursive --dryrun" in _copies(response.content.decode())
    assert f"aws s3 rm {prefix} --recursive" in _copies(response.content.decode())
    exported = _csv(
        reader_client.get(reverse("catalog:audit") + "?section=deleted-runs&_export=csv")
    )
    assert "Cleanup (aws CLI)" not in exported[0]


def test_orphan_cleanup_in_an_audit_page_costs_one_query(seed_world, reader_client, settings):
    settings.CATALOG_PAGE_CACHE_SECONDS = 0
    url = reverse("catalog:audit") + "?section=orphans"
    for index in range(2):
        _orphan(f"z/{index}/a", f"z/{index}/")
        _orphan(f"z/{index}/b", f"z/{index}/")
    with CaptureQueriesContext(connection) as few:
        reader_client.get(url)
    for index in range(2, 40):
        _orphan(f"z/{index}/a", f"z/{index}/")
        _orphan(f"z/{index}/b", f"z/{index}/")
    with CaptureQueriesContext(connection) as many:
        reader_client.get(url)
    assert len(many) == len(few) <= MAX_QUERIES


# --- the gone items' CSV ---------------------------------------------------------------------


def test_gone_items_have_their_own_plain_csv(seed_world, reader_client):
    sync = make_sync_run(started_at=NOW + timedelta(days=1))
    run = seed_world["runs"]["prophet"]
    run.name = "=cmd|' /C calc'!A0"
    run.missing_since = sync.started_at
    run.save()
    version = seed_world["models"]["xjtu_feature_scaler"].versions.get()
    version.missing_since = NOW
    version.save()
    Artifact.objects.bulk_create(
        Artifact(
            bucket=BUCKET,
            key=f"gone/{index:03d}",
            path=f"gone/{index:03d}",
            first_seen=NOW,
            last_seen=NOW,
            missing_since=NOW - timedelta(minutes=index),
        )
        for index in range(selectors.GONE_ITEMS_PER_KIND + 10)
    )
    page = reader_client.get(reverse("catalog:audit") + "?section=gone")
    assert "?section=gone&amp;_export=csv" in page.content.decode()
    response = reader_client.get(reverse("catalog:audit") + "?section=gone&_export=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert list(rows[0]) == ["kind", "id", "name", "gone_since", "marked_by_latest_sync"]
    assert len(rows) == 1 + 1 + selectors.GONE_ITEMS_PER_KIND + 10  # all, not 50 a kind
    by_kind = {row["kind"]: row for row in rows}
    assert by_kind["run"]["id"] == run.run_id  # the full id
    assert by_kind["run"]["name"] == "'=cmd|' /C calc'!A0"  # text, not a formula
    assert by_kind["run"]["marked_by_latest_sync"] == "yes"
    assert by_kind["run"]["gone_since"] == sync.started_at.isoformat()
    assert by_kind["model version"]["id"] == "xjtu_feature_scaler v1"
    assert by_kind["model version"]["marked_by_latest_sync"] == "no"
    artifacts = [row["id"] for row in rows if row["kind"] == "artifact"]
    assert artifacts[0] == f"s3://{BUCKET}/gone/000"
    body = "".join(",".join(row.values()) for row in rows)
    assert "<" not in body and "&amp;" not in body


def test_the_gone_page_says_how_much_it_shows(seed_world, reader_client):
    run = seed_world["runs"]["prophet"]
    run.missing_since = NOW
    run.save()
    text = _text(reader_client.get(reverse("catalog:audit") + "?section=gone"))
    assert f"The {selectors.GONE_ITEMS_PER_KIND} most recent of each kind" in text


def test_an_unknown_audit_section_is_said(seed_world, reader_client):
    response = reader_client.get(reverse("catalog:audit") + "?section=<nope>")
    assert response.context["section"] == "orphans"
    assert "No section “<nope>”: showing the orphan folders." in _text(response)
    assert "<nope>" not in response.content.decode()


# --- bounds ------------------------------------------------------------------------------------


def test_drift_pages_stay_within_the_query_budget_and_flat(seed_world, reader_client, settings):
    settings.CATALOG_PAGE_CACHE_SECONDS = 0
    experiment = seed_world["experiments"]["6"]
    urls = [
        reverse("catalog:home"),
        reverse("catalog:experiment_list"),
        reverse("catalog:experiment_detail", args=["6"]),
        reverse("catalog:audit") + "?section=orphans",
        reverse("catalog:audit") + "?section=deleted-runs",
        reverse("catalog:audit") + "?section=gone",
        reverse("catalog:orphan_objects") + f"?bucket={BUCKET}&group=6/",
    ]

    def add(start, count):
        for index in range(start, start + count):
            run = make_run(experiment=experiment, lifecycle_stage="deleted", artifact_count=1)
            make_artifact(run=run, path=f"p{index}.png")
            make_logged_model(experiment=experiment, model_id=f"m-{index}", artifact_count=2)
            _orphan(f"6/orphan{index}/x.bin", f"6/orphan{index}/")
            _orphan(f"6/orphan{index}/y.bin", f"6/orphan{index}/")
            _orphan(f"6/stray{index}.csv", "6/")

    add(0, 2)
    reader_client.get(reverse("catalog:home"))  # the reader's visit row, written once
    before = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert reader_client.get(url).status_code == 200, url
        before[url] = len(queries)
    add(2, 30)
    after = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert reader_client.get(url).status_code == 200, url
        after[url] = len(queries)
    assert after == before
    assert max(after.values()) <= MAX_QUERIES


def test_hostile_orphan_names_are_escaped(db, reader_client):
    Experiment.objects.all().delete()
    key = '<script>alert(1)</script>/"><img src=x>.txt'
    _orphan(key, "<script>alert(1)</script>/")
    audit = reader_client.get(reverse("catalog:audit")).content.decode()
    listing = reader_client.get(
        reverse("catalog:orphan_objects"),
        {"bucket": BUCKET, "group": "<script>alert(1)</script>/"},
    )
    for html in (audit, listing.content.decode()):
        assert "<script>" not in html and "<img src=x>" not in html
    assert listing.status_code == 200


def _plan(queryset) -> str:
    """The plan of ``queryset``, sequential scans discouraged on PostgreSQL (tiny tables)."""
    from django.db import transaction

    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


def test_deleted_runs_are_counted_through_their_partial_index(seed_world):
    from catalog.models import RUN_DELETED, Run

    assert "run_deleted" in _plan(Run.objects.filter(RUN_DELETED).order_by())
    folder_rows = selectors.experiment_rows().filter(missing_since=None)
    assert "run_deleted" in _plan(folder_rows)


def test_a_folders_orphans_are_a_key_range(seed_world):
    experiment = seed_world["experiments"]["2"]
    bucket, prefix = selectors.experiment_folder(experiment)
    for plan in (
        _plan(selectors.keys_under(selectors.present_orphans(), bucket=bucket, prefix=prefix)),
        _plan(selectors.orphan_group_objects(bucket=BUCKET, group=SEED_ORPHAN_GROUP)),
    ):
        assert "artifact_natural_key" in plan or "sqlite_autoindex_catalog_artifact" in plan
