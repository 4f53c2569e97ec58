"""A fresh database per measurement, and Django set up against it.

SQLite files live under ``var/bench/`` (never the dev database); PostgreSQL gets a
database of its own (``bench_<name>`` on 127.0.0.1:5432), dropped and recreated.
Call ``fresh_database_url`` then ``setup_django`` before importing any model.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.config import BENCH_DIR

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def sqlite_path(name: str) -> Path:
    return BENCH_DIR / f"{name}.sqlite3"


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def postgres_url(name: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/bench_{name}"


def recreate_postgres_database(name: str) -> str:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "bench_{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "bench_{name}"')
    return postgres_url(name)


def fresh_database_url(*, backend: str, name: str) -> str:
    """An empty database for measurement ``name`` on ``backend`` ("sqlite"/"postgres")."""
    if backend == "sqlite":
        path = sqlite_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_sqlite(path)
        return f"sqlite:///{path}"
    if backend == "postgres":
        return recreate_postgres_database(name)
    raise ValueError(f"unknown database backend {backend!r}")


def existing_database_url(*, backend: str, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{sqlite_path(name)}"
    return postgres_url(name)


def django_env(*, database_url: str, name: str) -> dict[str, str]:
    """Environment for a Django process (this one or a server) on ``database_url``."""
    cache_dir = BENCH_DIR / "cache" / name
    cache_dir.mkdir(parents=True, exist_ok=True)
    return {
        "DJANGO_SETTINGS_MODULE": "smartmaint_site.settings",
        "DJANGO_INSECURE_DEV_KEY": "1",
        "DJANGO_SECURE": "0",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": database_url,
        "CATALOG_CACHE_DIR": str(cache_dir),
        "CATALOG_SYNC_LOCK_PATH": str(BENCH_DIR / f"{name}.lock"),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    }


def setup_django(*, database_url: str, name: str, migrate: bool = False) -> None:
    """Point this process's Django at ``database_url`` and set it up."""
    os.environ.update(django_env(database_url=database_url, name=name))
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def database_vendor() -> str:
    from django.db import connection

    return connection.vendor
