"""Fixtures of the poison tests: poison worlds, built once each, and syncs of them.

The worlds' temp dir, the migrated empty store and saved model they start from, and the
sync lock in ``tmp_path`` are the sync tests' own fixtures (``tests/sync/conftest.py``),
imported here. The worlds live in the worker's moto server of session worlds
(``worlds_s3_endpoint``, ``tests/conftest.py``), in buckets of their own.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterable

import pytest
from django.core.management import CommandError, call_command

from tests.environment import environment
from tests.poison.world import (
    POISON_BUCKET,
    POISONS,
    PoisonWorld,
    build_poison_world,
)
from tests.sync.conftest import _sync_lock_in_tmp, mlflow_templates, world_dir

__all__ = ["_sync_lock_in_tmp", "mlflow_templates", "world_dir"]

MOTO_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # No pooled connections to the tracking databases (MLflow caches an engine per URI).
    "MLFLOW_SQLALCHEMYSTORE_POOLCLASS": "NullPool",
}


@pytest.fixture(autouse=True)
def _moto_credentials(worlds_s3_endpoint):
    """moto's credentials while a poison test runs (the sync and the pages use boto3)."""
    with environment(MOTO_ENVIRONMENT):
        yield


@pytest.fixture(scope="session")
def world_of(
    worlds_s3_endpoint, world_dir, mlflow_templates
) -> Callable[[Iterable[str]], PoisonWorld]:
    """A function: the world of the clean items plus ``poisons``, built once per session."""
    built: dict[tuple[str, ...], PoisonWorld] = {}
    endpoint = worlds_s3_endpoint
    building = {**MOTO_ENVIRONMENT, "MLFLOW_S3_ENDPOINT_URL": endpoint}

    def world(poisons: Iterable[str]) -> PoisonWorld:
        selection = tuple(label for label in POISONS if label in set(poisons))
        if selection not in built:
            if selection == tuple(POISONS):
                bucket = POISON_BUCKET
            elif len(selection) <= 1:
                bucket = "poison-" + "".join(selection or ["none"]).replace("_", "-")
            else:  # bucket names stop at 63 characters
                digest = hashlib.sha1("/".join(selection).encode()).hexdigest()[:10]  # noqa: S324
                bucket = f"poison-mix-{digest}"
            with environment(building):  # MLflow uploads to the endpoint this names
                built[selection] = build_poison_world(
                    base=world_dir / bucket,
                    endpoint=endpoint,
                    templates=mlflow_templates,
                    bucket=bucket,
                    poisons=selection,
                )
        return built[selection]

    return world


@pytest.fixture(scope="session")
def poison_world(world_of) -> PoisonWorld:
    """The full poison world: the clean items and every poison."""
    return world_of(POISONS)


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Each test gets an empty in-memory cache (charts and thumbnails are cached)."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"poison-{uuid.uuid4().hex}",
        },
    }


@pytest.fixture
def sync_world(db, settings):
    """A function that runs ``sync_registry --json`` over a world: (exit code, summary).

    It also aims the pages' S3 client at the world's endpoint. The summary gains the
    recorded SyncRun's ``error`` (the JSON line leaves it out), for failure messages.
    """
    from catalog.models import SyncRun
    from catalog.s3 import get_web_s3_client

    def sync(world: PoisonWorld) -> tuple[int, dict]:
        settings.MLFLOW_TRACKING_URI = world.tracking_uri
        settings.CATALOG_S3_ENDPOINT_URL = world.endpoint
        get_web_s3_client.cache_clear()
        stdout, stderr = io.StringIO(), io.StringIO()
        try:
            call_command("sync_registry", "--json", stdout=stdout, stderr=stderr)
            code = 0
        except CommandError as error:
            code = error.returncode
        try:
            summary = json.loads(stdout.getvalue())
        except ValueError:
            summary = {"status": "unparsable", "warnings": [], "output": stdout.getvalue()}
        summary["stderr"] = stderr.getvalue()[-2000:]
        last = SyncRun.objects.order_by("-pk").first()
        summary["error"] = last.error if last is not None else ""
        return code, summary

    yield sync
    get_web_s3_client.cache_clear()
