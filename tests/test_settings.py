"""DATABASE_URL parsing and the SQLite tuning that lets cron and web readers coexist."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from smartmaint_site.database import database_config_from_url


def test_sqlite_url_gets_wal_immediate_transactions_and_a_busy_timeout(tmp_path):
    config = database_config_from_url(f"sqlite:///{tmp_path}/catalog.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == f"{tmp_path}/catalog.sqlite3"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["OPTIONS"]["timeout"] >= 5
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_postgres_url_is_parsed():
    config = database_config_from_url("postgres://cat:s3cret@db.internal:5433/catalog")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("catalog", "cat", "s3cret")
    assert (config["HOST"], config["PORT"]) == ("db.internal", 5433)
    assert "OPTIONS" not in config or "init_command" not in config["OPTIONS"]


def test_an_unsupported_url_is_a_clear_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_config_from_url("mysql://root@localhost/catalog")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_config_from_url("not a url")


def test_test_database_name_can_be_set(monkeypatch):
    monkeypatch.setenv("DATABASE_TEST_NAME", "test_mine")
    config = database_config_from_url("postgres://postgres@127.0.0.1:5432/test")
    assert config["TEST"] == {"NAME": "test_mine"}


@pytest.mark.django_db
def test_a_sqlite_file_database_really_runs_in_wal_mode(tmp_path):
    """Open a real connection through Django's backend with the parsed settings."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    config = database_config_from_url(f"sqlite:///{tmp_path}/wal.sqlite3")
    config.update(
        {
            "ATOMIC_REQUESTS": False,
            "AUTOCOMMIT": True,
            "TIME_ZONE": None,
            "CONN_HEALTH_CHECKS": False,
        }
    )
    wrapper = DatabaseWrapper(config, alias="wal_check")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] >= 5000
    finally:
        wrapper.close()
    # And the mode is persistent in the file, as another process would see it.
    with sqlite3.connect(tmp_path / "wal.sqlite3") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.django_db
def test_the_test_database_is_the_configured_engine():
    assert connection.vendor in {"sqlite", "postgresql"}


def test_check_deploy_is_clean_with_production_like_settings(tmp_path):
    """`manage.py check --deploy` with a real key, DEBUG off and TLS settings on."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_"))
    }
    env.update(
        {
            "DJANGO_SECRET_KEY": "x7$" + "k" * 60 + "q9!z",
            "DJANGO_ALLOWED_HOSTS": "catalog.example.com",
            "DJANGO_SETTINGS_MODULE": "smartmaint_site.settings",
            "CATALOG_VAR_DIR": str(tmp_path),
        }
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _run_without_django_env(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        {"DJANGO_SETTINGS_MODULE": "smartmaint_site.settings", "CATALOG_VAR_DIR": str(tmp_path)}
    )
    return subprocess.run(
        [sys.executable, *args],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_a_secret_key_the_web_server_refuses_to_start(tmp_path):
    result = _run_without_django_env(tmp_path, "-c", "import smartmaint_site.wsgi")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_without_a_secret_key_check_deploy_fails(tmp_path):
    result = _run_without_django_env(
        tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_management_commands_need_no_secret_key(tmp_path):
    """The cron sync and makemigrations sign nothing: they run without a key."""
    result = _run_without_django_env(
        tmp_path, "manage.py", "makemigrations", "--check", "--dry-run"
    )
    assert result.returncode == 0, result.stderr


SETTINGS_PROBE = (
    "from django.conf import settings; import django; django.setup(); "
    "print(settings.CACHES['pages']['BACKEND']); "
    "print('ProxyRemoteUserMiddleware' in ' '.join(settings.MIDDLEWARE)); "
    "print(settings.AUTHENTICATION_BACKENDS[1])"
)


def _settings_seen_with(**environment) -> list[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CATALOG_CACHE_URL", "CATALOG_REMOTE_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="smartmaint_site.settings", DJANGO_INSECURE_DEV_KEY="1")
    env.update(environment)
    probe = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        check=True,
    )
    return probe.stdout.split()


def test_by_default_pages_are_cached_in_process_and_no_proxy_header_is_read():
    assert _settings_seen_with() == [
        "catalog.bounded_cache.BytesBoundedLocMemCache",
        "False",
        "django.contrib.auth.backends.ModelBackend",
    ]


def test_the_environment_turns_on_the_shared_cache_and_single_sign_on():
    assert _settings_seen_with(
        CATALOG_CACHE_URL="redis://127.0.0.1:6379/3", CATALOG_REMOTE_USER_HEADER="X-Forwarded-User"
    ) == [
        "django.core.cache.backends.redis.RedisCache",
        "True",
        "smartmaint_site.remote_user.ProxyRemoteUserBackend",
    ]


def test_only_the_test_settings_use_a_fast_password_hasher():
    import smartmaint_site.settings as site_settings

    # The site keeps Django's default (PBKDF2); the suite's MD5 is for its speed only.
    assert "PASSWORD_HASHERS" not in vars(site_settings)
    from django.conf import settings

    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]
