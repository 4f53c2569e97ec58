"""``make run``: build the demo world, sync it, and serve the catalogue on 127.0.0.1.

Steps: start moto's S3 server (in this process); restore the world into a fresh sqlite
MLflow store and moto from the cache under ``var/`` (:mod:`demo.world_cache`), or build
it there (:func:`demo.world.build_world`) and cache it; meanwhile migrate a fresh
catalogue database and create the ``demo``/``demo`` login; run ``manage.py
sync_registry --json`` and fill the curated fields (:mod:`demo.curated`); then serve
the site with gunicorn until Ctrl-C (SIGINT) or SIGTERM. Everything started is
stopped on the way out: gunicorn's whole process group, then moto. Each step prints
one line with its time; its own output only if it fails.

Environment: ``CATALOG_DEMO_PORT`` (default 8000), ``CATALOG_DEMO_DIR`` (default
``var/demo``, wiped each start), ``CATALOG_DEMO_CACHE_DIR`` (default
``var/demo-world-cache``), ``DATABASE_URL`` (default a fresh sqlite file in the demo
dir; when set, that database is migrated and synced but not wiped).
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
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from demo.s3 import running_s3_stand_in
from demo.site_setup import DEMO_PASSWORD, DEMO_USERNAME
from demo.world_cache import default_cache_root, world_digest
from demo.world_cache import prepare_world as cached_world

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
    *,
    directory: Path,
    s3_env: dict[str, str],
    endpoint_url: str,
    database_url: str | None = None,
    cache_root: Path | None = None,
) -> dict:
    """Build the world (or restore it from ``cache_root``), prepare the site's database
    and sync; return the sync's summary. Without ``cache_root`` the world is built.
    """
    env = site_env(directory=directory, s3_env=s3_env, database_url=database_url)
    prepare_site(env=env, directory=directory, endpoint_url=endpoint_url, cache_root=cache_root)
    return sync(env=env)


def prepare_site(
    *, env: dict[str, str], directory: Path, endpoint_url: str, cache_root: Path | None
) -> None:
    """The world in the stores, the catalogue database migrated with the demo login.

    The database is migrated by a subprocess while the world is built or restored: the
    two need nothing of each other, and the machine has a second core.
    """
    with _captured_process([sys.executable, "-m", "demo.site_setup"], env=env) as site_setup:
        _world(directory=directory, endpoint_url=endpoint_url, cache_root=cache_root)
        with _step("preparing the catalogue database (migrate, demo login)"):
            site_setup.finish()


def sync(*, env: dict[str, str]) -> dict:
    """Run ``manage.py sync_registry --json`` as cron would; return its summary."""
    with _step("syncing (manage.py sync_registry)") as step:
        synced = subprocess.run(
            [sys.executable, "manage.py", "sync_registry", "--json"],
            env=env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if synced.returncode not in (0, 3):
            step.fail(synced.stdout + synced.stderr)
            raise SystemExit(f"sync_registry failed with exit code {synced.returncode}")
        summary = json.loads(synced.stdout)
        step.detail = f"{summary['status']}, {summary['orphans']} orphan objects"
    return summary


def curate(*, env: dict[str, str]) -> None:
    """Fill the curated fields as a team lead would in the admin (``demo.curated``).

    Only for the served demo: ``fixtures/demo_world.json`` is the world as the sync
    leaves it, which curates nothing.
    """
    with _step("curating (related links, domains, releases)") as step:
        curated = subprocess.run(
            [sys.executable, "-m", "demo.curated"],
            env=env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if curated.returncode != 0:
            step.fail(curated.stdout + curated.stderr)
            raise SystemExit(f"demo.curated failed with exit code {curated.returncode}")
        step.detail = curated.stdout.strip()


def _world(*, directory: Path, endpoint_url: str, cache_root: Path | None) -> dict:
    """The world in ``directory``'s tracking store and S3: restored or built; its report."""
    tracking_db = directory / "mlflow.db"
    if cache_root is None:
        with _step("building the demo world") as step:
            from dataclasses import asdict

            from demo.world import build_world

            report = asdict(
                build_world(tracking_uri=f"sqlite:///{tracking_db}", s3_endpoint_url=endpoint_url)
            )
            step.detail = _world_counts(report)
        return report
    digest = world_digest()
    hit = (cache_root / digest / "manifest.json").is_file()
    label = "demo world from cache" if hit else "building the demo world (cached for next time)"
    with _step(label) as step:
        prepared = cached_world(
            cache_root=cache_root,
            tracking_db=tracking_db,
            s3_endpoint_url=endpoint_url,
            build=_build_world,
            digest=digest,
            on_cache_problem=lambda reason: step.note(
                f"cached world unusable ({reason}): rebuilding"
            ),
        )
        step.detail = _world_counts(prepared.report)
    return prepared.report


def _build_world(**arguments):
    # Imported only when a build is needed: the builder's imports (scikit-learn,
    # LightGBM, matplotlib, mlflow) cost seconds that a cache hit saves.
    from demo.world import build_world

    return build_world(**arguments)


def _world_counts(report: dict) -> str:
    return (
        f"{report['experiments']} experiments, {report['runs']} runs, "
        f"{report['registered_models']} registered models, {report['model_versions']} versions"
    )


class _Step:
    """One progress line: ``label ... 12 s, detail``; captured output shown on failure."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.detail = ""
        self.failed = False
        self.started = time.monotonic()
        print(f"{label} ...", end="", flush=True)

    def note(self, message: str) -> None:
        print(f"\n  {message}\n{self.label} ...", end="", flush=True)

    def fail(self, output: str) -> None:
        print(" failed", flush=True)
        self.failed = True
        if output.strip():
            sys.stdout.write(output if output.endswith("\n") else output + "\n")
            sys.stdout.flush()

    def done(self) -> None:
        if self.failed:
            return
        elapsed = time.monotonic() - self.started
        detail = f" ({self.detail})" if self.detail else ""
        print(f" {elapsed:.0f} s{detail}", flush=True)


@contextmanager
def _step(label: str) -> Iterator[_Step]:
    step = _Step(label)
    try:
        yield step
    except BaseException:
        if not step.failed:
            print(" interrupted" if sys.exc_info()[0] is Stop else " failed", flush=True)
        raise
    step.done()


@dataclass
class _CapturedProcess:
    """A subprocess whose output goes to a temporary file, shown only if it fails."""

    command: list[str]
    process: subprocess.Popen
    output: IO[str]

    def finish(self) -> None:
        """Wait for the process; on a non-zero exit show its output and stop."""
        returncode = self.process.wait()
        if returncode != 0:
            self.output.seek(0)
            sys.stdout.write(f"\n{self.output.read()}")
            raise SystemExit(f"{' '.join(self.command[1:])} failed with exit code {returncode}")


@contextmanager
def _captured_process(command: list[str], *, env: dict[str, str]) -> Iterator[_CapturedProcess]:
    """Start ``command`` with its output captured; stop it if the block ends first."""
    with tempfile.TemporaryFile(mode="w+") as output:
        process = subprocess.Popen(
            command, env=env, cwd=BASE_DIR, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            yield _CapturedProcess(command=command, process=process, output=output)
        finally:
            if process.poll() is None:
                process.terminate()
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=STOP_GRACE_S)
                if process.poll() is None:
                    process.kill()
                    process.wait()


def gunicorn_command(*, port: int) -> list[str]:
    """gunicorn as deployed (``gunicorn.conf.py``: the site preloaded, then forked), with 2
    workers on 127.0.0.1:``port``, a short graceful stop and a quiet console.
    """
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(BASE_DIR / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
        "--access-logfile",
        "/dev/null",
    ]


def serve_when_synced(*, port: int, env: dict[str, str]) -> int:
    """Start gunicorn, sync meanwhile, announce the site once both are done; serve until
    asked to stop.

    The server starts during the sync because its start-up (importing Django and the
    site) needs nothing from it; the URL is printed only after the sync, so the first
    page a user opens shows the synced world.
    """
    with process_group(gunicorn_command(port=port), env=env) as server:
        sync(env=env)
        curate(env=env)
        with _step("starting the web server (gunicorn, 2 workers)") as step:
            if not wait_for_http(f"http://127.0.0.1:{port}/accounts/login/", process=server):
                step.fail(f"the server did not come up on port {port} (is the port taken?)\n")
                return 1
        print(
            f"serving on http://127.0.0.1:{port}/ ({DEMO_USERNAME} / {DEMO_PASSWORD}); "
            "Ctrl-C stops it",
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
        with ExitStack() as stack:
            with _step("starting the S3 stand-in (moto)") as step:
                s3 = stack.enter_context(running_s3_stand_in())
                step.detail = f"on {s3.endpoint_url}"
            env = site_env(directory=directory, s3_env=s3.env())
            prepare_site(
                env=env,
                directory=directory,
                endpoint_url=s3.endpoint_url,
                cache_root=default_cache_root(),
            )
            if options.no_serve:
                summary = sync(env=env)
                curate(env=env)
                print(json.dumps(summary, indent=2))
                return 0
            return serve_when_synced(port=options.port, env=env)
    except Stop as stop:
        _log(f"{stop}: stopped")
        return 0 if str(stop) == "SIGINT" else 128 + signal.SIGTERM


if __name__ == "__main__":
    sys.exit(main())
