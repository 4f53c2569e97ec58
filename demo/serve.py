"""``make run``: build the demo world, sync it, and serve the catalogue on 127.0.0.1.

Steps: start moto's S3 server (in this process), build the world into a fresh sqlite
MLflow store (:func:`demo.world.build_world`), migrate a fresh catalogue database and
create the ``demo``/``demo`` login, run ``manage.py sync_registry --json``, then serve
the site with gunicorn until Ctrl-C (SIGINT) or SIGTERM. Everything started is stopped
on the way out: gunicorn's whole process group, then moto.

Environment: ``CATALOG_DEMO_PORT`` (default 8000), ``CATALOG_DEMO_DIR`` (default
``var/demo``, wiped each start), ``DATABASE_URL`` (default a fresh sqlite file in the
demo dir; when set, that database is migrated and synced but not wiped).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from demo.s3 import running_s3_stand_in
from demo.site_setup import DEMO_PASSWORD, DEMO_USERNAME

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8000
STOP_GRACE_S = 10.0


class Stop(Exception):
    """SIGINT or SIGTERM arrived: unwind and stop everything started."""


def demo_dir() -> Path:
    return Path(os.environ.get("CATALOG_DEMO_DIR", BASE_DIR / "var" / "demo")).resolve()


def site_env(
    *, directory: Path, s3_env: dict[str, str], database_url: str | None = None
) -> dict[str, str]:
    """The environment of every Django process the demo starts (real site settings).

    The catalogue database: ``database_url``, else ``DATABASE_URL``, else a sqlite file
    in ``directory``.
    """
    env = dict(os.environ)
    env.update(s3_env)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "smartmaint_site.settings",
            "DJANGO_INSECURE_DEV_KEY": "1",  # demo only
            "DJANGO_SECURE": "0",  # plain HTTP on loopback
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "MLFLOW_TRACKING_URI": f"sqlite:///{directory / 'mlflow.db'}",
            "CATALOG_SYNC_LOCK_PATH": str(directory / "sync_registry.lock"),
            "CATALOG_CACHE_DIR": str(directory / "cache"),
            # A developer's .env may point these at the real store; the demo has none.
            "CATALOG_S3_ROOTS": "",
            "CATALOG_ARTIFACTS_DESTINATION": "",
            "CATALOG_MLFLOW_UI_URL": "",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    env.setdefault("DATABASE_URL", f"sqlite:///{directory / 'catalog.sqlite3'}")
    return env


def prepare_world(
    *, directory: Path, s3_env: dict[str, str], endpoint_url: str, database_url: str | None = None
) -> dict:
    """Build the world, prepare the site's database and sync; return the sync's summary."""
    from demo.world import build_world

    env = site_env(directory=directory, s3_env=s3_env, database_url=database_url)
    started = time.monotonic()
    report = build_world(tracking_uri=env["MLFLOW_TRACKING_URI"], s3_endpoint_url=endpoint_url)
    built = time.monotonic()
    _log(
        f"world built in {built - started:.1f}s: {report.experiments} experiments, "
        f"{report.runs} runs, {report.registered_models} registered models, "
        f"{report.model_versions} versions"
    )
    _run([sys.executable, "-m", "demo.site_setup"], env=env)
    synced = subprocess.run(
        [sys.executable, "manage.py", "sync_registry", "--json"],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if synced.returncode not in (0, 3):
        sys.stderr.write(synced.stderr)
        raise SystemExit(f"sync_registry failed with exit code {synced.returncode}")
    summary = json.loads(synced.stdout)
    _log(
        f"sync_registry: {summary['status']}, {summary['orphans']} orphan objects; "
        f"world build + migrate + sync took {time.monotonic() - started:.1f}s"
    )
    return summary


def serve(*, port: int, env: dict[str, str]) -> int:
    """Serve with gunicorn (2 workers) in its own process group until asked to stop."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "smartmaint_site.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
    ]
    with process_group(command, env=env) as server:
        if not wait_for_http(f"http://127.0.0.1:{port}/accounts/login/", process=server):
            _log(f"the server did not come up on port {port} (is the port taken?)")
            return 1
        print(
            f"\nSmartMaint catalogue demo: http://127.0.0.1:{port}/\n"
            f"Log in as {DEMO_USERNAME} / {DEMO_PASSWORD} (demo only). Ctrl-C stops it.\n",
            flush=True,
        )
        return server.wait()


@contextmanager
def process_group(command: list[str], *, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """Run ``command`` as a new process group; on exit, stop the whole group."""
    process = subprocess.Popen(command, env=env, cwd=BASE_DIR, start_new_session=True)
    try:
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group, wait, then SIGKILL whatever is left of it."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_S)
    # Workers may outlive the master for a moment; the group goes in any case.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_for_http(url: str, *, process: subprocess.Popen, timeout_s: float = 60.0) -> bool:
    """Poll ``url`` until the server answers at all; False if it died or time ran out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our loopback server
                return True
        except urllib.error.HTTPError:
            return True  # an answer, even an error page: the server is up
        except OSError:
            time.sleep(0.3)
    return False


def reset_directory(directory: Path, *, keep_database: bool) -> None:
    """Empty the demo dir (the MLflow store, the catalogue database, caches)."""
    if directory.exists() and not keep_database:
        shutil.rmtree(directory)
    elif directory.exists():
        for name in ("mlflow.db", "cache"):
            target = directory / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    directory.mkdir(parents=True, exist_ok=True)


def _run(command: list[str], *, env: dict[str, str]) -> None:
    subprocess.run(command, env=env, cwd=BASE_DIR, check=True)


def _log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r} (CATALOG_DEMO_PORT)")
    return port


def _raise_stop(signum, frame) -> None:
    raise Stop(signal.Signals(signum).name)


def _quiet_libraries() -> None:
    # moto's request log and MLflow's per-model notices drown the lines that matter.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    for name, level in (("werkzeug", logging.ERROR), ("alembic", logging.WARNING)):
        logging.getLogger(name).setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Build, sync and serve the demo world; ``--no-serve`` stops after the sync."""
    parser = argparse.ArgumentParser(prog="python -m demo.serve", description=__doc__)
    parser.add_argument(
        "--port",
        type=_port,
        default=os.environ.get("CATALOG_DEMO_PORT", str(DEFAULT_PORT)),
        help="port on 127.0.0.1 (env CATALOG_DEMO_PORT, default 8000)",
    )
    parser.add_argument(
        "--no-serve",
        action="store_true",
        help="build and sync the world, then exit (prints the sync summary)",
    )
    options = parser.parse_args(argv)
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    _quiet_libraries()
    directory = demo_dir()
    reset_directory(directory, keep_database="DATABASE_URL" in os.environ)
    try:
        with running_s3_stand_in() as s3:
            _log(f"S3 stand-in (moto) on {s3.endpoint_url}; MLflow store {directory}/mlflow.db")
            summary = prepare_world(
                directory=directory, s3_env=s3.env(), endpoint_url=s3.endpoint_url
            )
            if options.no_serve:
                print(json.dumps(summary, indent=2))
                return 0
            return serve(port=options.port, env=site_env(directory=directory, s3_env=s3.env()))
    except Stop as stop:
        _log(f"{stop}: stopped")
        return 0 if str(stop) == "SIGINT" else 128 + signal.SIGTERM


if __name__ == "__main__":
    sys.exit(main())
