"""demo.serve's pieces: the site's environment, stopping a process group, the demo dir."""

from __future__ import annotations

import sys
import time

from demo.serve import process_group, reset_directory, site_env
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
