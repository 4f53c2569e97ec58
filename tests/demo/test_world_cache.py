"""demo.world_cache: a cached world is restored without a build, faithfully, and only when
whole; a changed builder, an interrupted build or a damaged entry means a new build.

The world here is small but real: a sqlite database and objects in moto's S3 server,
with keys that hold the characters S3 allows and file names would not.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from demo import world_cache
from demo.s3 import DEMO_CREDENTIALS, make_boto3_client
from demo.world_cache import (
    BUILDING_PREFIX,
    prepare_world,
    world_digest,
)

BUCKET = "cache-test-bucket"
OBJECTS = {
    "1/run/artifacts/model/MLmodel": (b"flavors:\n  sklearn: {}\n", "text/plain"),
    "1/run/artifacts/plots/roc curve #1?.png": (
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
        "image/png",
    ),
    "1/run/artifacts/\u00fcn\u00efc\u00f6d\u00e9/100%+sure & \u6f22\u5b57.txt": (b"x" * 10, ""),
    "1/run/artifacts/../escape/..": (b"dots are characters of a key", ""),
    "1/run/artifacts/empty": (b"", ""),
    "1/folder/": (b"", "application/x-directory"),
    "1/%2F/encoded%20not decoded": (b"percent", ""),
}
DIGEST = "a" * 64
REPORT = {"experiments": 1, "runs": 1, "registered_models": 0, "model_versions": 0}


class SmallWorld:
    """A builder with build_world's signature: a sqlite database and S3 objects."""

    def __init__(self, *, fail_after_objects: int | None = None) -> None:
        self.builds = 0
        self.fail_after_objects = fail_after_objects

    def __call__(self, *, tracking_uri: str, s3_endpoint_url: str) -> dict:
        self.builds += 1
        s3 = make_boto3_client(s3_endpoint_url)
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket="an-empty-bucket")
        for number, (key, (body, content_type)) in enumerate(OBJECTS.items()):
            if number == self.fail_after_objects:
                raise KeyboardInterrupt  # Ctrl-C in the middle of a build
            extra = {"ContentType": content_type} if content_type else {}
            s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
        database = sqlite3.connect(tracking_uri.removeprefix("sqlite:///"))
        with database:
            database.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, name TEXT)")
            database.execute("INSERT INTO runs VALUES ('64535d70', 'realistic_sensor')")
        database.close()
        return dict(REPORT)


def s3_contents(endpoint_url: str) -> dict[tuple[str, str], tuple[bytes, str, str]]:
    """{(bucket, key): (bytes, ETag, content type)} of every object at the endpoint."""
    s3 = make_boto3_client(endpoint_url)
    found = {}
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for item in page.get("Contents", ()):
                got = s3.get_object(Bucket=bucket["Name"], Key=item["Key"])
                found[(bucket["Name"], item["Key"])] = (
                    got["Body"].read(),
                    got["ETag"].strip('"'),
                    got["ContentType"],
                )
    return found


def bucket_names(endpoint_url: str) -> set[str]:
    return {b["Name"] for b in make_boto3_client(endpoint_url).list_buckets()["Buckets"]}


def runs_in(database: Path) -> list[tuple]:
    connection = sqlite3.connect(database)
    try:
        return connection.execute("SELECT run_id, name FROM runs").fetchall()
    finally:
        connection.close()


@pytest.fixture(autouse=True)
def demo_credentials(monkeypatch):
    for name, value in DEMO_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def prepare(tmp_path: Path, fresh_s3, name: str, builder, *, digest: str = DIGEST, problems=None):
    """prepare_world into a fresh moto server and a fresh directory ``name``."""
    directory = tmp_path / name
    directory.mkdir()
    endpoint = fresh_s3()
    prepared = prepare_world(
        cache_root=tmp_path / "cache",
        tracking_db=directory / "mlflow.db",
        s3_endpoint_url=endpoint,
        build=builder,
        digest=digest,
        on_cache_problem=(problems.append if problems is not None else lambda reason: None),
    )
    return prepared, s3_contents(endpoint), bucket_names(endpoint), directory


def test_a_cached_world_is_restored_whole_without_building(tmp_path, fresh_s3):
    builder = SmallWorld()
    built, built_objects, built_buckets, first = prepare(tmp_path, fresh_s3, "first", builder)
    assert (built.from_cache, builder.builds) == (False, 1)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [DIGEST]

    restored, restored_objects, restored_buckets, second = prepare(
        tmp_path, fresh_s3, "second", builder
    )
    assert (restored.from_cache, builder.builds) == (True, 1)  # no build the second time
    assert restored.report == built.report == REPORT
    # Every key verbatim, the same bytes, so the same ETags; content types kept.
    assert set(restored_objects) == {(BUCKET, key) for key in OBJECTS}
    assert restored_objects == built_objects
    for key, (body, content_type) in OBJECTS.items():
        restored_body, etag, restored_type = restored_objects[(BUCKET, key)]
        assert restored_body == body and etag == hashlib.md5(body).hexdigest()
        if content_type:
            assert restored_type == content_type
    assert restored_buckets == built_buckets == {BUCKET, "an-empty-bucket"}
    assert runs_in(second / "mlflow.db") == runs_in(first / "mlflow.db") != []


def test_an_interrupted_build_leaves_nothing_that_is_reused(tmp_path, fresh_s3):
    with pytest.raises(KeyboardInterrupt):
        prepare(tmp_path, fresh_s3, "interrupted", SmallWorld(fail_after_objects=3))
    cache = tmp_path / "cache"
    assert not cache.exists() or list(cache.iterdir()) == []
    builder = SmallWorld()
    prepared, objects, _, _ = prepare(tmp_path, fresh_s3, "next", builder)
    assert (prepared.from_cache, builder.builds) == (False, 1)
    assert len(objects) == len(OBJECTS)


def test_an_interrupted_save_leaves_nothing_that_is_reused(tmp_path, fresh_s3, monkeypatch):
    real_download = world_cache._download
    downloads = []

    def download_then_interrupt(**arguments):
        downloads.append(arguments["item"][0])
        if len(downloads) == 4:
            raise KeyboardInterrupt
        return real_download(**arguments)

    monkeypatch.setattr(world_cache, "_download", download_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        prepare(tmp_path, fresh_s3, "interrupted", SmallWorld())
    assert downloads  # the save had begun
    assert list((tmp_path / "cache").iterdir()) == []  # no entry, no half-written one
    monkeypatch.setattr(world_cache, "_download", real_download)
    builder = SmallWorld()
    prepared, _, _, _ = prepare(tmp_path, fresh_s3, "next", builder)
    assert (prepared.from_cache, builder.builds) == (False, 1)


def test_a_changed_digest_rebuilds_and_drops_the_old_entry(tmp_path, fresh_s3):
    builder = SmallWorld()
    prepare(tmp_path, fresh_s3, "first", builder, digest="a" * 64)
    prepared, _, _, _ = prepare(tmp_path, fresh_s3, "second", builder, digest="b" * 64)
    assert (prepared.from_cache, builder.builds) == (False, 2)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["b" * 64]


def test_a_damaged_entry_is_rebuilt_not_half_restored(tmp_path, fresh_s3):
    builder = SmallWorld()
    prepare(tmp_path, fresh_s3, "first", builder)
    blob = tmp_path / "cache" / DIGEST / "objects" / "000001"
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")  # same size, other bytes
    problems: list[str] = []
    prepared, objects, buckets, directory = prepare(
        tmp_path, fresh_s3, "second", builder, problems=problems
    )
    assert (prepared.from_cache, builder.builds) == (False, 2)
    assert len(problems) == 1 and "missing or damaged" in problems[0], problems
    assert set(objects) == {(BUCKET, key) for key in OBJECTS}
    assert runs_in(directory / "mlflow.db") == [("64535d70", "realistic_sensor")]
    # The rebuilt world was cached again, whole.
    third, _, _, _ = prepare(tmp_path, fresh_s3, "third", builder)
    assert (third.from_cache, builder.builds) == (True, 2)


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: (entry / "manifest.json").write_text("{not json"),
        lambda entry: (entry / "manifest.json").write_text('{"format": 999}'),
        lambda entry: (entry / "mlflow.db").unlink(),
        lambda entry: shutil.rmtree(entry / "objects"),
    ],
    ids=["unreadable-manifest", "other-format", "no-tracking-store", "no-objects"],
)
def test_any_damage_is_a_clear_rebuild(tmp_path, fresh_s3, damage):
    builder = SmallWorld()
    prepare(tmp_path, fresh_s3, "first", builder)
    damage(tmp_path / "cache" / DIGEST)
    problems: list[str] = []
    prepared, objects, _, _ = prepare(tmp_path, fresh_s3, "second", builder, problems=problems)
    assert (prepared.from_cache, builder.builds, len(problems)) == (False, 2, 1)
    assert len(objects) == len(OBJECTS)


def test_leftovers_of_dead_builds_are_removed_live_ones_kept(tmp_path, fresh_s3):
    cache = tmp_path / "cache"
    dead = cache / f"{BUILDING_PREFIX}{'c' * 16}-999999999"
    live = cache / f"{BUILDING_PREFIX}{'d' * 16}-1"  # pid 1 is always alive
    unknown = cache / "notes"
    for path in (dead, live, unknown):
        path.mkdir(parents=True)
    prepare(tmp_path, fresh_s3, "first", SmallWorld())
    assert sorted(p.name for p in cache.iterdir()) == sorted([DIGEST, live.name, "notes"])


def copy_of_demo_package(tmp_path: Path) -> Path:
    package = tmp_path / "demo"
    shutil.copytree(world_cache.DEMO_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    return package


def test_the_digest_follows_the_builder_not_the_server(tmp_path):
    package = copy_of_demo_package(tmp_path)
    original = world_digest(demo_package=package)
    assert original == world_digest(demo_package=package)  # stable
    assert original == world_digest(demo_package=world_cache.DEMO_PACKAGE)  # path-free
    # serve.py, fixture.py, site_setup.py don't shape the world: no rebuild for them.
    for name in ("serve.py", "fixture.py", "site_setup.py"):
        (package / name).write_text((package / name).read_text() + "\n# edited\n")
    assert world_digest(demo_package=package) == original
    # The seed data and the builder's modules do.
    for name in ("seed.py", "training.py", "world.py", "world_cache.py"):
        path = package / name
        saved = path.read_bytes()
        path.write_bytes(saved + b"\n# edited\n")
        assert world_digest(demo_package=package) != original, name
        path.write_bytes(saved)
    (package / "new_builder_module.py").write_text("VALUE = 1\n")
    assert world_digest(demo_package=package) != original


def test_the_digest_follows_the_library_versions(tmp_path, monkeypatch):
    package = copy_of_demo_package(tmp_path)
    original = world_digest(demo_package=package)
    real_version = world_cache.metadata.version

    def other_sklearn(name):
        return "0.0.1" if name == "scikit-learn" else real_version(name)

    monkeypatch.setattr(world_cache.metadata, "version", other_sklearn)
    assert world_digest(demo_package=package) != original
