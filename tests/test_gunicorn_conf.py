"""``gunicorn.conf.py``: what the README, ``make run`` and the load benchmark serve with."""

from __future__ import annotations

import runpy
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"


def settings_with(monkeypatch, **environment) -> dict:
    for name in ("GUNICORN_BIND", "WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "GUNICORN_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_the_site_is_preloaded_and_served_on_loopback_by_default(monkeypatch):
    config = settings_with(monkeypatch)

    assert config["wsgi_app"] == "smartmaint_site.wsgi:application"
    assert config["preload_app"] is True
    assert config["bind"] == "127.0.0.1:8000"
    assert config["workers"] >= 2
    assert "%(M)s" in config["access_log_format"]


def test_the_environment_sets_the_usual_knobs(monkeypatch):
    config = settings_with(
        monkeypatch, GUNICORN_BIND="0.0.0.0:9000", WEB_CONCURRENCY="5", GUNICORN_TIMEOUT="30"
    )

    assert (config["bind"], config["workers"], config["timeout"]) == ("0.0.0.0:9000", 5, 30)


def test_gunicorn_accepts_every_setting(monkeypatch):
    from gunicorn.config import Config

    known = set(Config().settings)
    config = settings_with(monkeypatch)

    assert {name for name in config if not name.startswith("_") and name != "os"} <= known
