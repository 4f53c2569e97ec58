"""demo.serve's pieces: the site's environment, stopping a process group, the demo dir, the
world step (built and cached on a first start, restored on the next)."""

from __future__ import annotations

import sqlite3
import sys
import time

from demo.s3 import BUCKET, make_boto3_client
from demo.serve import process_group, reset_directory, site_env
from demo.world import WorldReport
from demo.world_cache import world_digest
from tests.demo.processes import alive, group_members


def test_site_env_points_the_real_settings_at_the_demo_stores(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    env = site_env(directory=tmp_path, s3_env={"MLFLOW_S3_ENDPOINT_URL": "http://127.0.0.1:1"})
    assert env["DJANGO_SETTINGS_MODULE"] == "smartmaint_site.settings"
    assert (env["DJANGO_INSECURE_DEV_KEY"], env["DJANGO_SECURE"]) == ("1", "0")
    assert env["DJANGO_ALLOWED_HOSTS"] == "127.0.0.1,localhost"
    assert env["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    assert env["CATALOG_SYNC_LOCK_PATH"].startswith(str(tmp_path))
    # Whatever a developer's .env says, the demo walks only its own bucket.
    assert env["CATALOG_S3_ROOTS"] == env["CATALOG_ARTIFACTS_DESTINATION"] == ""


def test_site_env_keeps_a_configured_database(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://somewhere/catalog")
    assert site_env(directory=tmp_path, s3_env={})["DATABASE_URL"] == "postgres://somewhere/catalog"
    chosen = site_env(directory=tmp_path, s3_env={}, database_url="sqlite:///x.db")
    assert chosen["DATABASE_URL"] == "sqlite:///x.db"


def test_process_group_stops_the_process_and_its_children():
    # A parent that ignores SIGTERM and a child of it: both must go (SIGKILL after grace).
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    import demo.serve

    demo.serve.STOP_GRACE_S, grace = 1.0, demo.serve.STOP_GRACE_S
    try:
        with process_group([sys.executable, "-c", script], env={}) as process:
            time.sleep(1.0)
            group = process.pid
    finally:
        demo.serve.STOP_GRACE_S = grace
    assert process.poll() is not None
    time.sleep(0.3)
    assert [pid for pid in group_members(group) if alive(pid)] == []


def test_reset_directory_wipes_the_demo_but_keeps_a_configured_database(tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "mlflow.db").write_text("old")
    (demo / "catalog.sqlite3").write_text("old")
    (demo / "cache").mkdir()
    reset_directory(demo, keep_database=True)
    assert sorted(p.name for p in demo.iterdir()) == ["catalog.sqlite3"]
    reset_directory(demo, keep_database=False)
    assert demo.is_dir() and list(demo.iterdir()) == []


def test_a_bad_port_is_refused_with_a_clear_message(monkeypatch, capsys):
    import pytest

    from demo.serve import main

    monkeypatch.setenv("CATALOG_DEMO_PORT", "eighty")
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2
    assert "not a TCP port: 'eighty' (CATALOG_DEMO_PORT)" in capsys.readouterr().err


def test_a_first_start_builds_and_caches_the_world_the_next_restores_it(
    tmp_path, fresh_s3, monkeypatch, capsys
):
    # demo.serve's own step around the cache. The real builder's run is the test
    # session's world (tests/demo/conftest.py); a small one shows the step's two ways.
    import demo.world
    from demo.serve import _world

    builds = []

    def small_world(*, tracking_uri: str, s3_endpoint_url: str) -> WorldReport:
        builds.append(tracking_uri)
        s3 = make_boto3_client(s3_endpoint_url)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="1/run/artifacts/model/MLmodel", Body=b"flavors: {}\n")
        database = sqlite3.connect(tracking_uri.removeprefix("sqlite:///"))
        with database:
            database.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY)")
        database.close()
        return WorldReport(experiments=1, runs=1)

    monkeypatch.setattr(demo.world, "build_world", small_world)
    cache, outputs, endpoints = tmp_path / "cache", [], []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        endpoints.append(fresh_s3())
        report = _world(directory=tmp_path / name, endpoint_url=endpoints[-1], cache_root=cache)
        assert (report["experiments"], report["runs"]) == (1, 1)
        outputs.append(capsys.readouterr().out)
        assert (tmp_path / name / "mlflow.db").is_file()
    first, second = outputs
    assert first.startswith("building the demo world (cached for next time) ... "), first
    assert "(1 experiments, 1 runs, 0 registered models, 0 versions)" in first
    assert second.startswith("demo world from cache ... "), second
    assert "building" not in second
    assert builds == [f"sqlite:///{tmp_path / 'first' / 'mlflow.db'}"]  # one build
    assert [path.name for path in cache.iterdir()] == [world_digest()]
    restored = make_boto3_client(endpoints[-1]).get_object(
        Bucket=BUCKET, Key="1/run/artifacts/model/MLmodel"
    )
    assert restored["Body"].read() == b"flavors: {}\n"
