"""The README's deploying steps, run as an operator would, on the runtime install alone.

``make runtime-check`` (and CI): into a fresh virtualenv under ``var/runtime-check/``,
install the project with only its runtime dependencies and the extras a deployment picks
(``tracking-db`` for a database tracking URI, ``redis`` for a shared cache), exactly as
the README's "Deploying" section says. Then, with that venv alone: migrate, collect the
static files, sync from an ``http://`` MLflow server and again from its ``sqlite:///``
store directly, serve with gunicorn and the committed ``gunicorn.conf.py``, and fetch
``/healthz``, the main pages and the monitoring metrics over HTTP as a signed-in reader.

The stand-ins (moto's S3 server, ``mlflow server``, the demo world) run from the
project's own ``.venv``: a deployment has the real ones. Exits non-zero, with the failing
step's output, on the first thing that does not work.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))  # run as a script: the demo and benchmark helpers

import requests  # noqa: E402

from benchmarks.servers import free_port, mlflow_server, stop, wait_for_http  # noqa: E402
from demo.s3 import BUCKET, running_s3_stand_in  # noqa: E402
from demo.world import build_world  # noqa: E402
from demo.world_cache import default_cache_root, prepare_world  # noqa: E402

WORK_DIR = BASE_DIR / "var" / "runtime-check"
VENV = WORK_DIR / "venv"
EXTRAS = "tracking-db,redis"
# The README's first deploying step, with this check's venv and extras.
INSTALL_COMMANDS = [
    [sys.executable, "-m", "venv", str(VENV)],
    [str(VENV / "bin" / "pip"), "install", "-q", "-c", "constraints.txt", "uv"],
    [
        str(VENV / "bin" / "uv"),
        "pip",
        "install",
        "-q",
        "--python",
        str(VENV / "bin" / "python"),
        "-c",
        "constraints.txt",
        f".[{EXTRAS}]",
    ],
]
PAGES = [
    "/",
    "/experiments/",
    "/experiments/4/",
    "/models/",
    "/metrics/",
    "/categories/",
    "/audit/",
    "/search/?q=lightgbm",
    "/export/mapping.md",
]
READER = ("operator", "a-long-check-passphrase-42")
REDIS_URL = os.environ.get("CATALOG_RUNTIME_CHECK_REDIS_URL", "redis://127.0.0.1:6379/15")


def step(label: str, command: list[str], *, env: dict | None = None) -> str:
    """Run ``command`` from the checkout; print one line; fail loudly with its output."""
    started = time.monotonic()
    print(f"{label} ...", end="", flush=True)
    done = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True)
    took = time.monotonic() - started
    if done.returncode != 0:
        print(f" failed (exit {done.returncode}) after {took:.1f} s:\n{done.stdout}{done.stderr}")
        raise SystemExit(1)
    print(f" {took:.1f} s", flush=True)
    return done.stdout


def runtime_env(*, s3_env: dict[str, str], tracking_uri: str, database: Path) -> dict[str, str]:
    """A production-like environment: a real key, plain HTTP on loopback only."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CATALOG_"))
    }
    env.update(s3_env)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "smartmaint_site.settings",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE": "0",
            "DATABASE_URL": f"sqlite:///{database}",
            "MLFLOW_TRACKING_URI": tracking_uri,
            "CATALOG_SYNC_LOCK_PATH": str(WORK_DIR / "sync_registry.lock"),
            "CATALOG_CACHE_URL": REDIS_URL,
            "CATALOG_METRICS_TOKEN": "runtime-check-token",
            "DJANGO_SUPERUSER_USERNAME": READER[0],
            "DJANGO_SUPERUSER_PASSWORD": READER[1],
            "DJANGO_SUPERUSER_EMAIL": "operator@example.com",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def sync(label: str, env: dict[str, str]) -> dict:
    python = str(VENV / "bin" / "python")
    output = step(label, [python, "manage.py", "sync_registry", "--json"], env=env)
    summary = json.loads(output)
    if summary["status"] != "ok":
        raise SystemExit(f"sync ended {summary['status']}: {summary.get('error')}")
    return summary


def signed_in(base_url: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base_url}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    answer = session.post(
        f"{base_url}/accounts/login/",
        data={"username": READER[0], "password": READER[1], "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/accounts/login/"},
        timeout=30,
    )
    if "/accounts/login/" in answer.url:
        raise SystemExit("could not sign in through the login form")
    return session


def fetch_pages(base_url: str) -> None:
    health = requests.get(f"{base_url}/healthz", timeout=30).json()
    if not (health["database"] == "ok" and health["last_sync"]["healthy"]):
        raise SystemExit(f"/healthz: {health}")
    print(f"GET /healthz: {health}")
    session = signed_in(base_url)
    for path in PAGES:
        first = session.get(f"{base_url}{path}", timeout=60)
        again = session.get(f"{base_url}{path}", timeout=60)
        if first.status_code != 200 or again.status_code != 200:
            raise SystemExit(f"GET {path}: {first.status_code}, then {again.status_code}")
        cache = again.headers.get("X-Page-Cache")
        print(f"GET {path}: 200, {len(first.content):,} bytes, then cache {cache}")
    metrics = requests.get(
        f"{base_url}/monitoring/metrics",
        headers={"Authorization": "Bearer runtime-check-token"},
        timeout=30,
    )
    if metrics.status_code != 200 or "catalog_last_sync_healthy 1.0" not in metrics.text:
        raise SystemExit(f"/monitoring/metrics: {metrics.status_code}\n{metrics.text[:500]}")
    print("GET /monitoring/metrics: 200, last sync healthy")


def serve_and_fetch(env: dict[str, str]) -> None:
    port = free_port()
    command = [str(VENV / "bin" / "gunicorn"), "--config", "gunicorn.conf.py"]
    server_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
    log_path = WORK_DIR / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout_s=60, process=server)
            fetch_pages(f"http://127.0.0.1:{port}")
        except BaseException:
            print(log_path.read_text(errors="replace")[-4000:])
            raise
        finally:
            stop(server)


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    started = time.monotonic()
    for index, command in enumerate(INSTALL_COMMANDS, start=1):
        step(f"install {index}/{len(INSTALL_COMMANDS)}: {' '.join(command[-1:])}", command)
    size = sum(f.stat().st_size for f in VENV.rglob("*") if f.is_file() and not f.is_symlink())
    took = time.monotonic() - started
    print(f"runtime venv ({EXTRAS}): {size / 1e6:.0f} MB, installed in {took:.0f} s")
    step("the full mlflow is not there", [str(VENV / "bin" / "python"), "-c", NO_FULL_MLFLOW])
    flush_redis()
    tracking_db = WORK_DIR / "mlflow.db"
    with running_s3_stand_in() as s3:
        world = prepare_world(
            cache_root=default_cache_root(),
            tracking_db=tracking_db,
            s3_endpoint_url=s3.endpoint_url,
            build=lambda **arguments: asdict(build_world(**arguments)),
        )
        print(f"demo world: {'restored' if world.from_cache else 'built'}")
        python = str(VENV / "bin" / "python")
        database = WORK_DIR / "catalog.sqlite3"
        with mlflow_server(
            db_path=tracking_db, artifact_root=f"s3://{BUCKET}", s3_endpoint=s3.endpoint_url
        ) as tracking_url:
            env = runtime_env(s3_env=s3.env(), tracking_uri=tracking_url, database=database)
            step("migrate", [python, "manage.py", "migrate", "--noinput"], env=env)
            step("collectstatic", [python, "manage.py", "collectstatic", "--noinput"], env=env)
            step("createsuperuser", [python, "manage.py", "createsuperuser", "--noinput"], env=env)
            first = sync(f"sync_registry from {tracking_url}", env)
        env = runtime_env(
            s3_env=s3.env(), tracking_uri=f"sqlite:///{tracking_db}", database=database
        )
        again = sync("sync_registry from sqlite:///.../mlflow.db", env)
        for name in ("experiments", "runs", "registered_models", "model_versions"):
            if first["counts"][name]["created"] == 0 or again["counts"][name]["created"]:
                raise SystemExit(f"{name}: {first['counts'][name]} then {again['counts'][name]}")
        print("both tracking URIs give the same catalogue")
        serve_and_fetch(env)
    flush_redis()
    print(f"runtime check passed in {time.monotonic() - started:.0f} s")
    return 0


# The runtime install carries mlflow-skinny: the full mlflow (server, UI) is a dev extra.
NO_FULL_MLFLOW = (
    "import importlib.metadata as m, sys\n"
    "names = {d.metadata['Name'].lower() for d in m.distributions()}\n"
    "sys.exit(1 if {'mlflow', 'moto', 'scikit-learn'} & names else 0)"
)


if __name__ == "__main__":
    raise SystemExit(main())
