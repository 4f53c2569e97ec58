"""Turn ``DATABASE_URL`` into Django's ``DATABASES["default"]``.

dj-database-url does the URL parsing; this module adds what the catalogue needs on top:
SQLite tuned so that a cron sync (one writer) and web readers don't trip over
"database is locked", and a way to name the test database.
"""

from __future__ import annotations

import os
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

# Seconds a SQLite connection waits for another writer before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30

# WAL lets readers go on while the sync writes; NORMAL is durable enough with WAL.
SQLITE_INIT_COMMAND = (
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA foreign_keys=ON;"
    "PRAGMA cache_size=-64000;"
)


def database_config_from_url(url: str) -> dict[str, Any]:
    """Return a Django database configuration for a ``sqlite:///`` or ``postgres://`` URL."""
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL I know: {exc}") from exc
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        options = config.setdefault("OPTIONS", {})
        # IMMEDIATE takes the write lock when a transaction starts, so two writers queue
        # on the busy timeout instead of failing mid-transaction on a lock upgrade.
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
        options.setdefault("init_command", SQLITE_INIT_COMMAND)
    elif engine == "django.db.backends.postgresql":
        config["CONN_MAX_AGE"] = int(os.environ.get("DATABASE_CONN_MAX_AGE", 60))
        config["CONN_HEALTH_CHECKS"] = True
    else:
        raise ImproperlyConfigured(
            f"DATABASE_URL engine {engine!r} is not supported: use sqlite:/// or postgres://"
        )
    test_name = os.environ.get("DATABASE_TEST_NAME")
    if test_name:
        config["TEST"] = {"NAME": test_name}
    return config
