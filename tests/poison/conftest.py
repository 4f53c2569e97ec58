"""Fixtures of the poison tests: poison worlds, built once each, and syncs of them.

moto's S3 server, the worlds' temp dir and the sync lock in ``tmp_path`` are the sync
tests' own fixtures (``tests/sync/conftest.py``), imported here so both areas share them.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterable

import pytest
from django.core.management import call_command

from tests.poison.world import (
    POISON_BUCKET,
    POISONS,
    PoisonWorld,
    build_poison_world,
    make_templates,
)
from tests.sync.conftest import _sync_lock_in_tmp, moto_endpoint, world_dir

__all__ = ["_sync_lock_in_tmp", "moto_endpoint", "world_dir"]


@pytest.fixture(scope="session")
def world_of(moto_endpoint, world_dir) -> Callable[[Iterable[str]], PoisonWorld]:
    """A function: the world of the clean items plus ``poisons``, built once per session."""
    built: dict[tuple[str, ...], PoisonWorld] = {}
    templates = make_templates(base=world_dir / "poison-templates")

    def world(poisons: Iterable[str]) -> PoisonWorld:
        selection = tuple(label for label in POISONS if label in set(poisons))
        if selection not in built:
            if selection == tuple(POISONS):
                bucket = POISON_BUCKET
            else:
                bucket = "poison-" + ("-".join(selection) or "none").replace("_", "-")
            built[selection] = build_poison_world(
                base=world_dir / bucket,
                endpoint=moto_endpoint,
                templates=templates,
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
    from catalog.sync.s3_source import get_web_s3_client

    def sync(world: PoisonWorld) -> tuple[int, dict]:
        settings.MLFLOW_TRACKING_URI = world.tracking_uri
        settings.CATALOG_S3_ENDPOINT_URL = world.endpoint
        get_web_s3_client.cache_clear()
        stdout, stderr = io.StringIO(), io.StringIO()
        try:
            call_command("sync_registry", "--json", stdout=stdout, stderr=stderr)
            code = 0
        except SystemExit as exit_:
            code = exit_.code
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
