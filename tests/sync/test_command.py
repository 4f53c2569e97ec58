"""``manage.py sync_registry``: flags, output and exit codes."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Q

from catalog.models import (
    Artifact,
    Experiment,
    LoggedModel,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    Run,
    SyncRun,
)

pytestmark = pytest.mark.slow

MODELS = {
    "experiments": Experiment,
    "runs": Run,
    "registered_models": RegisteredModel,
    "model_versions": ModelVersion,
    "logged_models": LoggedModel,
    "artifacts": Artifact,
}


@pytest.fixture
def point_at(settings):
    def point(world):
        settings.MLFLOW_TRACKING_URI = world.tracking_uri
        settings.CATALOG_S3_ENDPOINT_URL = world.endpoint

    return point


def run_command(*args) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        call_command("sync_registry", *args, stdout=stdout, stderr=stderr)
        code = 0
    except CommandError as error:
        code = error.returncode
        stderr.write(f"CommandError: {error}\n")
    return code, stdout.getvalue(), stderr.getvalue()


def test_json_output_parses_and_matches_the_database(seed_world, point_at, db):
    point_at(seed_world)
    code, out, _ = run_command("--json")
    assert code == 0
    summary = json.loads(out)
    assert set(summary) == {
        "status",
        "dry_run",
        "counts",
        "orphans",
        "change_events",
        "warnings",
        "duration_s",
    }
    assert summary["status"] == "ok" and summary["dry_run"] is False
    assert set(summary["counts"]) == set(MODELS)
    for entity, model in MODELS.items():
        counts = summary["counts"][entity]
        assert set(counts) == {"created", "updated", "unchanged", "missing", "restored"}
        assert counts["created"] == model.objects.count(), entity
    assert summary["orphans"] == Artifact.objects.filter(run=None, logged_model=None).count()
    assert isinstance(summary["duration_s"], float)
    sync_run = SyncRun.objects.get()
    assert sync_run.counts == summary["counts"]
    assert sync_run.status == "ok" and sync_run.finished_at and sync_run.duration_s is not None

    code, out, _ = run_command("--json")
    again = json.loads(out)
    for entity, model in MODELS.items():
        assert again["counts"][entity]["unchanged"] == model.objects.count()


def test_dry_run_writes_nothing(seed_world, point_at, db):
    point_at(seed_world)
    code, out, _ = run_command("--dry-run", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["dry_run"] is True
    assert summary["counts"]["runs"]["created"] == 15
    assert summary["counts"]["artifacts"]["created"] == seed_world.object_count
    for model in [*MODELS.values(), MetricPoint, SyncRun]:
        assert not model.objects.exists(), model

    # After a real sync, a dry run over a change reports it and still writes nothing.
    assert run_command("--quiet")[0] == 0
    snapshot = seed_world.snapshot()
    try:
        run_id = seed_world.run_ids["r6a"]
        seed_world.s3().delete_object(
            Bucket=seed_world.bucket, Key=f"6/{run_id}/artifacts/sensor_config.txt"
        )
        code, out, _ = run_command("--dry-run", "--json")
        assert json.loads(out)["counts"]["artifacts"]["missing"] == 1
        assert not Artifact.objects.filter(missing_since__isnull=False).exists()
        assert SyncRun.objects.count() == 1
    finally:
        seed_world.restore(snapshot)


def test_quiet_prints_nothing_when_ok_and_text_summary_otherwise(seed_world, point_at, db):
    point_at(seed_world)
    level = logging.getLogger("catalog.sync").level
    code, out, err = run_command("--quiet")
    assert (code, out, err) == (0, "", "")
    # Called in a process that goes on, the command leaves its logging as it found it.
    assert logging.getLogger("catalog.sync").level == level
    code, out, _ = run_command()
    assert code == 0
    assert out.startswith("sync ok in ")
    assert "artifacts: no change" in out


def test_verbosity_zero_is_quiet_and_two_logs_each_stage(seed_world, point_at, db, caplog):
    point_at(seed_world)
    assert run_command("--verbosity", "0") == (0, "", "")

    sync_logger = logging.getLogger("catalog.sync")
    sync_logger.setLevel(logging.WARNING)  # as the LOGGING setting leaves it
    caplog.handler.setLevel(logging.DEBUG)
    try:
        code, out, _ = run_command("--verbosity", "2")
    finally:
        sync_logger.setLevel(logging.NOTSET)

    assert code == 0 and out.startswith("sync ok in ")
    stages = [r.getMessage() for r in caplog.records if r.name == "catalog.sync"]
    assert any(line.startswith("runs done in ") and "'unchanged'" in line for line in stages)
    assert any(line.startswith("artifacts done in ") for line in stages)
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "catalog.sync")


def test_a_partial_sync_ends_in_a_command_error_with_exit_code_3(
    seed_world, point_at, db, settings, empty_tracking_uri
):
    point_at(seed_world)
    assert run_command("--quiet")[0] == 0
    # A tracking store that answers nothing: the fail-safe marks nothing missing.
    settings.MLFLOW_TRACKING_URI = empty_tracking_uri

    code, _, err = run_command("--quiet")

    assert code == 3
    assert err.strip().splitlines()[-1].startswith("CommandError: sync partial: ")


def test_experiment_flag_limits_the_sync_and_its_missing_marking(seed_world, point_at, db):
    point_at(seed_world)
    code, out, _ = run_command("--experiment", "4", "--json")
    assert code == 0, out
    assert list(Experiment.objects.values_list("experiment_id", flat=True)) == ["4"]
    assert Run.objects.count() == 6
    assert not Artifact.objects.filter(~Q(key__startswith="4/")).exists()
    assert Artifact.objects.filter(run__isnull=False).count() == Artifact.objects.count()

    assert run_command("--quiet")[0] == 0
    snapshot = seed_world.snapshot()
    try:
        outside = seed_world.run_ids["r5b"]
        for key in Artifact.objects.filter(key__startswith=f"5/{outside}/").values_list(
            "key", flat=True
        ):
            seed_world.s3().delete_object(Bucket=seed_world.bucket, Key=key)
        code, out, _ = run_command("--experiment", "4", "--experiment", "4", "--json")
        summary = json.loads(out)
        assert code == 0 and summary["status"] == "ok"
        assert all(c["missing"] == 0 for c in summary["counts"].values())
        assert not Artifact.objects.filter(missing_since__isnull=False).exists()
        code, out, _ = run_command("--json")
        assert json.loads(out)["counts"]["artifacts"]["missing"] > 0
    finally:
        seed_world.restore(snapshot)


def test_unknown_experiment_is_bad_configuration(seed_world, point_at, db):
    point_at(seed_world)
    code, out, err = run_command("--experiment", "999")
    assert code == 1
    assert "999" in err
    assert not Experiment.objects.exists()


def test_partial_exits_3_and_purge_waits_for_an_ok_sync(seed_world, point_at, db, settings):
    point_at(seed_world)
    settings.CATALOG_S3_ROOTS = ["s3://no-such-bucket-anywhere/"]
    code, out, _ = run_command("--json", "--purge-missing-older-than", "0")
    summary = json.loads(out)
    assert code == 3 and summary["status"] == "partial"
    assert "purged" not in summary
    settings.CATALOG_S3_ROOTS = []
    code, out, _ = run_command("--json", "--purge-missing-older-than", "30")
    assert code == 0
    assert json.loads(out)["purged"] == dict.fromkeys(
        [
            "artifacts",
            "model_versions",
            "registered_models",
            "logged_models",
            "runs",
            "experiments",
        ],
        0,
    )


def test_bad_flag_values_are_rejected(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("sync_registry", "--max-missing-share", "1.5")
    with pytest.raises(CommandError):
        call_command("sync_registry", "--purge-missing-older-than", "-1")
