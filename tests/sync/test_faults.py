"""Fail-safe: errors, short answers and throttling never mark anything missing."""

from __future__ import annotations

import io
import socket

import pytest
from botocore.awsrequest import AWSResponse
from django.core.management import CommandError, call_command

from catalog.models import Artifact, Experiment, ModelVersion, RegisteredModel, Run, SyncRun
from catalog.s3 import make_s3_client
from catalog.sync.lock import sync_lock
from catalog.sync.mlflow_source import MlflowSource
from catalog.sync.s3_source import S3Source
from tests.sync.conftest import SEED_OBJECTS_PER_RUN

pytestmark = pytest.mark.slow

CATALOGUE = (Experiment, Run, RegisteredModel, ModelVersion, Artifact)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs):
        yield self.data


def _s3_error(code: str, status: int) -> AWSResponse:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>injected</Message></Error>"
    ).encode()
    return AWSResponse("http://injected", status, {"Content-Type": "application/xml"}, _Body(body))


def _fail_listing_pages(client, failures: dict[int, list[tuple[str, int]]]) -> list[int]:
    """Make ListObjectsV2 request number N answer the queued errors, one per attempt.

    Returns the list of request numbers seen (a retry repeats its number)."""
    calls: list[int] = []
    state = {"page": 0, "retry": False}

    def before_send(request, **kwargs):
        if not state["retry"]:
            state["page"] += 1
        page = state["page"]
        calls.append(page)
        queue = failures.get(page)
        if queue:
            state["retry"] = True
            return _s3_error(*queue.pop(0))
        state["retry"] = False
        return None

    client.meta.events.register("before-send.s3.ListObjectsV2", before_send)
    return calls


def _state():
    return {
        model.__name__: sorted(
            model.objects.values_list("pk", "fingerprint", "missing_since", "last_seen")
        )
        for model in CATALOGUE
    }


def test_s3_error_on_page_3_of_5_is_partial_and_marks_nothing(seed_world, sync_world):
    assert sync_world(seed_world).status == "ok"
    snapshot = seed_world.snapshot()
    try:
        removed_run = seed_world.run_ids["r7a"]
        for key in [a.key for a in Artifact.objects.filter(key__startswith=f"7/{removed_run}/")]:
            seed_world.s3().delete_object(Bucket=seed_world.bucket, Key=key)
        client = make_s3_client(endpoint_url=seed_world.endpoint)
        page_size = -(-(seed_world.object_count - SEED_OBJECTS_PER_RUN) // 5)
        calls = _fail_listing_pages(client, {3: [("AccessDenied", 403)]})
        report = sync_world(seed_world, s3_source=S3Source(client=client, page_size=page_size))
        assert calls == [1, 2, 3]
        assert report.status == "partial"
        assert any("AccessDenied" in w for w in report.all_warnings())
        assert any("nothing marked missing" in w for w in report.all_warnings())
        assert not Artifact.objects.filter(missing_since__isnull=False).exists()
        assert all(c["missing"] == 0 for c in report.as_dict()["counts"].values())
        assert Run.objects.get(run_id=removed_run).artifact_count == SEED_OBJECTS_PER_RUN
        assert SyncRun.objects.latest("started_at").status == "partial"
    finally:
        seed_world.restore(snapshot)


def test_s3_throttling_is_retried(seed_world, sync_world):
    client = make_s3_client(endpoint_url=seed_world.endpoint)
    calls = _fail_listing_pages(client, {2: [("SlowDown", 503), ("SlowDown", 503)]})
    report = sync_world(seed_world, s3_source=S3Source(client=client, page_size=60))
    assert report.status == "ok", report.all_warnings()
    assert calls == [1, 2, 2, 2, 3]
    assert Artifact.objects.count() == seed_world.object_count


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_mlflow_unreachable_fails_and_leaves_the_catalogue_untouched(
    seed_world, sync_world, settings, monkeypatch
):
    sync_world(seed_world)
    before = _state()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    settings.MLFLOW_TRACKING_URI = f"http://127.0.0.1:{_closed_port()}"
    settings.CATALOG_S3_ENDPOINT_URL = seed_world.endpoint
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="sync failed") as exit_info:
        call_command("sync_registry", "--json", stdout=stdout, stderr=stderr)
    assert exit_info.value.returncode == 1
    assert _state() == before
    failed = SyncRun.objects.latest("started_at")
    assert failed.status == "failed" and "experiments" in failed.error
    import json

    assert json.loads(stdout.getvalue())["status"] == "failed"


def test_bad_configuration_fails(settings, db):
    settings.MLFLOW_TRACKING_URI = ""
    with pytest.raises(CommandError) as exit_info:
        call_command("sync_registry", "--quiet", stdout=io.StringIO(), stderr=io.StringIO())
    assert exit_info.value.returncode == 1


class _NoExperiments(MlflowSource):
    """A server that answers every listing with an empty page."""

    def iter_experiments(self):
        return iter(())


def test_mlflow_answering_nothing_trips_the_fail_safe(seed_world, sync_world):
    sync_world(seed_world)
    before = _state()
    report = sync_world(
        seed_world, mlflow_source=_NoExperiments(tracking_uri=seed_world.tracking_uri)
    )
    assert report.status == "partial"
    assert any("fail-safe" in w for w in report.all_warnings())
    assert _state() == before


def test_an_empty_tracking_store_trips_the_fail_safe(seed_world, sync_world, empty_tracking_uri):
    sync_world(seed_world)
    before = _state()
    empty = MlflowSource(tracking_uri=empty_tracking_uri)
    report = sync_world(seed_world, mlflow_source=empty)
    assert report.status == "partial"
    assert any("fail-safe" in w for w in report.all_warnings())
    assert not Run.objects.filter(missing_since__isnull=False).exists()
    assert not Artifact.objects.filter(missing_since__isnull=False).exists()
    assert {k: v for k, v in _state().items() if k != "Experiment"} == {
        k: v for k, v in before.items() if k != "Experiment"
    }


def test_a_second_sync_exits_75(seed_world, settings, db):
    settings.MLFLOW_TRACKING_URI = seed_world.tracking_uri
    settings.CATALOG_S3_ENDPOINT_URL = seed_world.endpoint
    stderr = io.StringIO()
    with sync_lock(), pytest.raises(CommandError, match="another sync is running") as exit_info:
        call_command("sync_registry", stdout=io.StringIO(), stderr=stderr)
    assert exit_info.value.returncode == 75
    assert not stderr.getvalue()
    assert not SyncRun.objects.exists()
    assert not Experiment.objects.exists()
