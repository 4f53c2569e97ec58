"""Fixtures of the browser tests: Debian's chromium through Playwright, a live server
holding the demo world (fixtures/demo_world.json) and moto's S3 with real plot bytes."""

from __future__ import annotations

import functools
import io
import uuid

import pytest
from django.db.models import Q
from matplotlib.figure import Figure
from moto import mock_aws

# The run whose plots the drill-down opens: the AI4I RandomForest baseline.
PLOT_RUN_ID = "c795e657a4d147f1ac84ea0dc2bb68f1"
# A run with a CSV profile; the JSON file is added beside it (the demo logs none).
CSV_RUN_ID = "64535d709de2458396986ff9f939517a"
CSV_PATH = "additional_artifacts/data_profile.csv"
JSON_PATH = "additional_artifacts/metrics.json"
PASSWORD = "browser-pass-123"


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"browser-{uuid.uuid4().hex}",
        },
    }


@functools.cache  # the same bytes for every test: drawn once per worker
def _plot_bytes(path: str) -> bytes:
    figure = Figure(figsize=(4, 3))
    axes = figure.add_subplot()
    axes.plot([0, 1, 2, 3], [0.2, 0.5, 0.4, 0.9])
    axes.set_title(path)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="pdf" if path.endswith(".pdf") else "png")
    return buffer.getvalue()


# Small real files of each preview kind, so every file page renders its preview.
MLMODEL = b"""artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    python_version: 3.11.9
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.2
mlflow_version: 2.17.0
model_uuid: 4f1c2a9e8d7b4c3aa1f0e9d8c7b6a5f4
run_id: c795e657a4d147f1ac84ea0dc2bb68f1
utc_time_created: '2025-09-14 09:12:44.123456'
"""
ENVIRONMENT = b"""channels:
- conda-forge
dependencies:
- python=3.11.9
- pip<=24.2
- pip:
  - mlflow==2.17.0
  - scikit-learn==1.5.2
  - lightgbm_extended_feature_engineering_toolkit==0.4.1
name: mlflow-env
"""
TEXT_FILES = {
    "MLmodel": MLMODEL,
    "conda.yaml": ENVIRONMENT,
    "python_env.yaml": b"python: 3.11.9\nbuild_dependencies:\n- pip==24.2\n"
    b"dependencies:\n- -r requirements.txt\n",
    "requirements.txt": b"mlflow==2.17.0\nscikit-learn==1.5.2\nnumpy==1.26.4\n",
    "data_profile.csv": b"feature,mean,std,min,max,missing_fraction_after_imputation\n"
    b"air_temperature_k,300.0,2.0,295.3,304.5,0.0\n"
    b"rotational_speed_rpm,1538.8,179.3,1168.0,2886.0,0.0\n",
    "metrics.json": b'{"accuracy": 0.981, "per_class": {"machine_failure": {"precision": 0.82,'
    b' "recall": 0.71}}, "mlflow.note.content": "holdout of 2,000 rows"}\n',
}


def artifact_bytes(path: str) -> bytes:
    """Bytes for a demo artifact: a real plot, a real model file, or a line of text."""
    name = path.rsplit("/", 1)[-1]
    if name.endswith((".png", ".pdf")):
        return _plot_bytes(path)
    return TEXT_FILES.get(name, f"{path}: precision 0.91 recall 0.87\n".encode())


@pytest.fixture
def s3_world(transactional_db, settings, monkeypatch):
    """The demo world in the database; the files of PLOT_RUN_ID and CSV_RUN_ID in moto S3."""
    from catalog.models import Artifact
    from catalog.s3 import get_web_s3_client
    from tests.factories import load_demo_world, make_sync_run

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings.CATALOG_S3_ENDPOINT_URL = ""
    load_demo_world()
    make_sync_run()
    get_web_s3_client.cache_clear()
    with mock_aws():
        client = get_web_s3_client()
        json_file = Artifact.objects.get(run__run_id=CSV_RUN_ID, path=CSV_PATH)
        json_file.pk = None
        json_file.path = JSON_PATH
        json_file.key = json_file.key.replace(CSV_PATH, JSON_PATH)
        json_file.save()
        stored = Artifact.objects.filter(
            Q(run__run_id=PLOT_RUN_ID) | Q(run__run_id=CSV_RUN_ID)
        ).exclude(path__endswith=".pkl")
        buckets = set()
        for artifact in stored:
            if artifact.bucket not in buckets:
                client.create_bucket(Bucket=artifact.bucket)
                buckets.add(artifact.bucket)
            body = artifact_bytes(artifact.path)
            client.put_object(Bucket=artifact.bucket, Key=artifact.key, Body=body)
            head = client.head_object(Bucket=artifact.bucket, Key=artifact.key)
            artifact.size = len(body)
            artifact.etag = head["ETag"].strip('"')
            artifact.save(update_fields=["size", "etag"])
        yield client
    get_web_s3_client.cache_clear()


@pytest.fixture
def logged_in_page(browser, live_server, s3_world, client):
    """A chromium page of the home page, logged in as a reader, with clipboard access and
    downloads.

    The session is made by the test client's ``force_login`` and handed to chromium as
    its cookie: the login form's two page loads would cost every test half a second.
    Chromium logs in through the form in test_layout.py.
    """
    from django.conf import settings
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("browser", password=PASSWORD))
    context = browser.new_context(
        base_url=live_server.url,
        accept_downloads=True,
        viewport={"width": 1400, "height": 900},
    )
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.goto("/")
    yield page
    context.close()


# The model whose alias history the browser tests and screenshots show.
HISTORY_MODEL = "ai4i_classifier_lightgbm_engineered"


@pytest.fixture
def change_history(s3_world):
    """Three syncs of change events over the demo world, as the sync records them: the
    history model's @production alias moving v1 -> v2 -> v3 (and back), a metric, an
    artifacts summary, a run gone from MLflow, a new orphan folder."""
    from datetime import timedelta

    from catalog.models import ChangeEvent, RegisteredModel, Run
    from tests.factories import NOW, make_change_event, make_sync_run

    Kind = ChangeEvent.Kind
    model = RegisteredModel.objects.get(name=HISTORY_MODEL)
    runs = list(Run.objects.filter(experiment=model.experiment).order_by("run_id")[:3])
    syncs = [make_sync_run(started_at=NOW - timedelta(days=3 - day)) for day in range(3)]
    # (sync, event): written sync by sync, as the sync writes them (ids grow with syncs).
    planned = [
        (
            min(index, 2),
            {
                "entity": model,
                "kind": Kind.ALIAS_MOVED,
                "changes": {"@production": [old, new]},
                "summary": f"@production moved from v{old} to v{new}" if old else "@production set",
            },
        )
        for index, (old, new) in enumerate([(None, 1), (1, 2), (2, 3), (3, 2)])
    ]
    planned += [
        (
            1,
            {
                "entity": runs[0],
                "changes": {
                    "metrics.accuracy": [0.9712345, 0.981],
                    "status": ["RUNNING", "FINISHED"],
                },
            },
        ),
        (
            2,
            {
                "entity": runs[1],
                "kind": Kind.ARTIFACTS,
                "changes": {"added": 3, "changed": 1, "gone": 0, "bytes_added": 48213},
                "summary": "3 files added, 1 changed (47.1 KB)",
            },
        ),
        (2, {"entity": runs[2], "kind": Kind.MISSING}),
        (
            2,
            {
                "kind": Kind.ORPHANS,
                "entity_type": ChangeEvent.Entity.ORPHAN_FOLDER,
                "entity_key": "s3://yan-smart-maintenance-artifacts/"
                "2/3b5c2e391f1efc50dd365df1c3fdea08/",
                "entity_name": "2/3b5c2e391f1efc50dd365df1c3fdea08/",
                "changes": {"objects": 4, "bytes": 81920},
            },
        ),
    ]
    for sync_index, fields in sorted(planned, key=lambda item: item[0]):
        make_change_event(sync_run=syncs[sync_index], **fields)
    return model
