"""Orphans and awkward keys: stored verbatim, attached to the right owner or grouped."""

from __future__ import annotations

import pytest

from catalog.models import Artifact
from catalog.s3 import make_s3_client
from catalog.sync.layout import (
    merge_roots,
    orphan_group,
    resolve_artifact_uri,
    version_source_prefix,
)
from catalog.sync.records import S3Root
from catalog.sync.s3_source import S3Source, UndecodableKey

UNKNOWN_RUN = "deadbeefdeadbeefdeadbeefdeadbeef"


def test_uri_rules():
    assert resolve_artifact_uri("s3://b/1/abc/artifacts") == ("b", "1/abc/artifacts")
    assert resolve_artifact_uri("mlflow-artifacts:/1/abc/artifacts") is None
    assert resolve_artifact_uri(
        "mlflow-artifacts:/1/abc/artifacts", artifacts_destination="s3://b/root/"
    ) == ("b", "root/1/abc/artifacts")
    assert resolve_artifact_uri(
        "mlflow-artifacts://server:5000/1/abc", artifacts_destination="s3://b"
    ) == ("b", "1/abc")
    assert resolve_artifact_uri("file:///tmp/mlruns/1") is None
    assert resolve_artifact_uri("https://evil.example/x") is None
    run_prefix = ("b", "1/abc/artifacts/")
    assert version_source_prefix(
        source="runs:/abc/model", run_prefix=run_prefix, logged_model_prefix=None
    ) == ("b", "1/abc/artifacts/model/")
    assert (
        version_source_prefix(source="runs:/abc/model", run_prefix=None, logged_model_prefix=None)
        is None
    )
    assert version_source_prefix(
        source="models:/m-1", run_prefix=None, logged_model_prefix=("b", "1/models/m-1/artifacts/")
    ) == ("b", "1/models/m-1/artifacts/")
    assert (
        version_source_prefix(source="models:/name/3", run_prefix=None, logged_model_prefix=None)
        is None
    )
    assert version_source_prefix(
        source="s3://b/x/y", run_prefix=None, logged_model_prefix=None
    ) == ("b", "x/y/")
    assert version_source_prefix(
        source="mlflow-artifacts:/2/r/artifacts/model",
        run_prefix=None,
        logged_model_prefix=None,
        artifacts_destination="s3://b/a",
    ) == ("b", "a/2/r/artifacts/model/")


def test_roots_merge_and_orphan_groups():
    roots = merge_roots(
        [
            S3Root("b", "1/"),
            S3Root("b", ""),
            S3Root("c", "x/"),
            S3Root("c", "x/y/"),
            S3Root("b", ""),
        ]
    )
    assert roots == [S3Root("b", ""), S3Root("c", "x/")]
    assert orphan_group(key=f"1/{UNKNOWN_RUN}/artifacts/m", root_prefix="") == f"1/{UNKNOWN_RUN}/"
    assert orphan_group(key="1/stray.txt", root_prefix="") == "1/"
    assert orphan_group(key="README", root_prefix="") == "/"
    assert orphan_group(key="team/README", root_prefix="team/") == "team/"


def test_the_pages_read_the_bucket_top_group_the_sync_writes():
    # Pages import nothing from the sync, so they keep their own copy of the value.
    from catalog import selectors
    from catalog.sync.layout import BUCKET_TOP_GROUP

    assert orphan_group(key="README", root_prefix="") == BUCKET_TOP_GROUP
    assert selectors.BUCKET_TOP_GROUP == BUCKET_TOP_GROUP


@pytest.mark.slow
def test_orphans_and_awkward_keys(seed_world, sync_world):
    run_id = seed_world.run_ids["r1a"]
    base = f"1/{run_id}/artifacts/"
    awkward = [
        "odd/with space.txt",
        "odd/hash#tag.txt",
        "odd/question?.txt",
        "odd/plus+sign.txt",
        "odd/percent%2F%20.txt",
        "odd/ünïcødé/日本語.txt",
        "odd/../dotdot.txt",
        "odd/./dot.txt",
    ]
    long_ascii = "L" * (1024 - len(base.encode()) - len("odd/"))
    long_unicode = "日" * ((1024 - len(base.encode()) - len("odd/")) // 3)
    awkward += [f"odd/{long_ascii}", f"odd/{long_unicode}"]
    orphans = {
        "8/unknown-experiment/file.bin": "8/unknown-experiment/",
        "README.txt": "/",
        "1/stray.txt": "1/",
        f"1/{UNKNOWN_RUN}/artifacts/model/MLmodel": f"1/{UNKNOWN_RUN}/",
        f"1/{UNKNOWN_RUN}/artifacts/model/model.pkl": f"1/{UNKNOWN_RUN}/",
    }
    snapshot = seed_world.snapshot()
    s3 = seed_world.s3()
    try:
        for path in awkward:
            assert len((base + path).encode()) <= 1024
            s3.put_object(Bucket=seed_world.bucket, Key=base + path, Body=path.encode())
        for key in orphans:
            s3.put_object(Bucket=seed_world.bucket, Key=key, Body=b"not yaml: [")
        report = sync_world(seed_world)
        assert report.status == "ok", report.all_warnings()
        assert report.orphans == len(orphans)
        for path in awkward:
            artifact = Artifact.objects.get(bucket=seed_world.bucket, key=base + path)
            assert artifact.run.run_id == run_id
            assert artifact.path == path
            assert artifact.folder == path.rpartition("/")[0]
            assert artifact.size == len(path.encode())
        for key, group in orphans.items():
            artifact = Artifact.objects.get(bucket=seed_world.bucket, key=key)
            assert artifact.is_orphan
            assert artifact.path == key
            assert artifact.orphan_folder == group
        # An unparsable MLmodel is a warning on that item, never a failed sync.
        broken = Artifact.objects.get(key=f"1/{UNKNOWN_RUN}/artifacts/model/MLmodel")
        assert broken.meta["kind"] == "mlmodel" and broken.meta["error"]
        assert any(UNKNOWN_RUN in warning for warning in report.all_warnings())
    finally:
        seed_world.restore(snapshot)


class _WithUndecodableKey(S3Source):
    """The real walk plus one key S3 returned as bytes that are not UTF-8."""

    def iter_root(self, *, root):
        yield UndecodableKey(bucket=root.bucket, raw_key=b"1/bad\xff.bin")
        yield from super().iter_root(root=root)


@pytest.mark.slow
def test_undecodable_key_is_a_warning(seed_world, sync_world):
    source = _WithUndecodableKey(client=make_s3_client(endpoint_url=seed_world.endpoint))
    report = sync_world(seed_world, s3_source=source)
    assert report.status == "ok"
    assert any("not UTF-8" in warning for warning in report.all_warnings())
    assert Artifact.objects.count() == seed_world.object_count
