"""Local stand-in servers for the benchmarks: MLflow, moto's S3, gunicorn.

Each binds 127.0.0.1 on a free port, is started as its own process (so its CPU is not
charged to the measuring process's Python), and is stopped by the caller through the
context manager.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from benchmarks.config import BENCH_DIR

PROJECT_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105 - moto's fake credentials
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, *, timeout_s: float = 60.0, process=None) -> None:
    """Poll ``url`` until it answers anything below 500, or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status < 500:
                    return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return
            last_error = error
        except OSError as error:
            last_error = error
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout_s:.0f}s: {last_error}")


def stop(process: subprocess.Popen) -> None:
    """Stop a server we started (its process group), politely then firmly."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _log_file(name: str):
    logs = BENCH_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process


@contextlib.contextmanager
def mlflow_server(*, db_path: Path, artifact_root: str, s3_endpoint: str) -> Iterator[str]:
    """``mlflow server --workers 1`` on a sqlite store; yields its URL."""
    port = free_port()
    env = {**os.environ, **FAKE_AWS_ENV, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint}
    command = [
        str(VENV_BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{db_path}",
        "--default-artifact-root",
        artifact_root,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = _log_file("mlflow-server")
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health", timeout_s=120, process=process)
        yield url
    finally:
        stop(process)
        log.close()


@contextlib.contextmanager
def moto_s3_server(*, world_spec: dict) -> Iterator[str]:
    """moto's S3 in its own process, pre-filled with a world's objects; yields its URL.

    ``world_spec`` is ``{"size": WorldSize fields, "bucket": str, "run_ids": [...]}``;
    ``benchmarks.moto_world`` fills moto's backend directly (fast) and then serves it.
    """
    spec_path = BENCH_DIR / "tmp" / f"moto-spec-{os.getpid()}.json"
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(world_spec))
    env = {**os.environ, **FAKE_AWS_ENV}
    log = _log_file("moto-server")
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.moto_world", str(spec_path)],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        start_new_session=True,
    )
    try:
        line = process.stdout.readline().decode().strip()
        if not line.startswith("READY "):
            raise RuntimeError(f"moto server did not start: {line!r} (see var/bench/logs)")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        stop(process)
        log.close()
        spec_path.unlink(missing_ok=True)


@contextlib.contextmanager
def gunicorn_server(*, env: dict[str, str], workers: int = 2, name: str = "gunicorn"):
    """The catalogue under gunicorn with ``env``, as deployed (``gunicorn.conf.py``, sync
    workers), with ``workers`` workers and no access log; yields its URL.
    """
    port = free_port()
    command = [
        str(VENV_BIN / "gunicorn"),
        "--config",
        str(PROJECT_DIR / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "/dev/null",
    ]
    log = _log_file(name)
    process = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz", timeout_s=60, process=process)
        yield url
    finally:
        stop(process)
        log.close()
