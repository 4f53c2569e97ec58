"""``make run`` end to end: ``python -m demo.serve`` restores, syncs and serves; Ctrl-C stops all.

The Makefile's ``run`` target is ``$(BIN)/python -m demo.serve``; this runs that command
on a free port, a temporary demo directory and a temporary world cache, logs in as
demo/demo through the real login form (with its CSRF token), reads the home page, sends
SIGINT to the command's process group as a terminal's Ctrl-C does, and checks that no
process it started and no port it opened is left.

The world cache starts with a copy of this test run's one build of the world
(``demo_world``, tests/demo/conftest.py), as on a machine that ran ``make run`` before:
the start restores it into a fresh moto and tracking store without training. That a
build is cached and restored whole is shown by the session's world itself (built once,
restored by the other worker), by ``tests/demo/test_world_cache.py``, and for
``demo.serve``'s own build step by ``tests/demo/test_serve.py``; training the world once
more here would cost a build's CPU again and prove nothing new.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.utils.html import escape

from demo.seed import EXPERIMENTS
from tests.demo.processes import alive, children, group_members

BASE_DIR = Path(__file__).resolve().parents[2]
SEED_EXPERIMENT_NAMES = [spec.name for spec in EXPERIMENTS]
START_TIMEOUT_S = 300  # the world restored and synced, on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class OutputReader:
    """Collects a process's output lines on a thread; waits for a pattern."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_for(self, pattern: str, *, process: subprocess.Popen, timeout_s: float) -> str:
        """The first line matching ``pattern``, as soon as it is printed."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
                left = deadline - time.monotonic()
                if self._ended or left <= 0 or process.poll() is not None:
                    break
                # Woken by each new line; a process that dies silently is seen within 1 s.
                self._changed.wait(min(left, 1.0))
        raise AssertionError(f"no {pattern!r} in the output:\n{''.join(self.lines)}")

    @property
    def text(self) -> str:
        return "".join(self.lines)


def wait_until_gone(pids: set[int], *, timeout_s: float = 0.5) -> list[int]:
    """The pids of ``pids`` still alive once all are gone or ``timeout_s`` has passed.

    Orphaned workers are reaped by init, not by us: a moment after their parent.
    """
    deadline = time.monotonic() + timeout_s
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.slow
def test_make_run_serves_the_demo_and_ctrl_c_stops_everything(tmp_path, demo_world):
    cache = tmp_path / "world-cache"
    entry = demo_world.cache_entry
    shutil.copytree(entry, cache / entry.name)
    output = serve_check_and_stop(demo_dir=tmp_path / "demo", cache_dir=cache)
    # The start takes the world from the cache (no training), into a fresh moto and
    # tracking store, and still migrates and syncs a fresh catalogue.
    assert "demo world from cache ..." in output
    assert "building the demo world" not in output
    assert "cached world unusable" not in output
    assert re.search(r"syncing \(manage\.py sync_registry\) \.\.\. \d+ s \(ok, 4 orphan", output)
    assert [path.name for path in cache.iterdir()] == [entry.name]  # kept, nothing added


def serve_check_and_stop(*, demo_dir: Path, cache_dir: Path) -> str:
    """Run ``python -m demo.serve``, use the site as a person would, Ctrl-C it; its output.

    Checks that every process it started and every port it opened is gone afterwards.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_"))}
    env.update(
        CATALOG_DEMO_PORT=str(port),
        CATALOG_DEMO_DIR=str(demo_dir),
        CATALOG_DEMO_CACHE_DIR=str(cache_dir),
        MLFLOW_LOGGING_LEVEL="ERROR",
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "demo.serve"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group, so SIGINT to the group is Ctrl-C
    )
    output = OutputReader(process.stdout)
    started: set[int] = set()
    moto_port = None
    try:
        output.wait_for(
            rf"serving on http://127\.0\.0\.1:{port}/ \(demo / demo\)",
            process=process,
            timeout_s=START_TIMEOUT_S,
        )
        moto = re.search(
            r"S3 stand-in \(moto\) \.\.\. \d+ s \(on http://127\.0\.0\.1:(\d+)", output.text
        )
        moto_port = int(moto.group(1))
        started = group_members(process.pid) | {process.pid}
        for child in children(process.pid):
            started |= group_members(child) | {child}
        assert len(started) >= 4, started  # demo.serve, gunicorn's master and 2 workers

        session = requests.Session()
        login_url = f"http://127.0.0.1:{port}/accounts/login/"
        form = session.get(login_url, timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        response = session.post(
            login_url,
            data={"username": "demo", "password": "demo", "csrfmiddlewaretoken": token},
            headers={"Referer": login_url},
            timeout=30,
        )
        assert response.status_code == 200, response.text[:500]
        assert response.url == f"http://127.0.0.1:{port}/", response.url
        home = response.text
        for name in SEED_EXPERIMENT_NAMES:  # the home page's quick-reference table
            assert f">{escape(name)}<" in home, name
        # Artifact bytes come from the S3 stand-in, through the site.
        plot = session.get(
            f"http://127.0.0.1:{port}/runs/027b7fe9d28443fdb51051ccfdbaeb52/raw/"
            "plots/confusion_matrix.png",
            timeout=30,
        )
        assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG"), plot.status_code
        admin = session.get(f"http://127.0.0.1:{port}/admin/", timeout=30)
        assert admin.status_code == 200 and "/admin/logout/" in admin.text  # a staff login
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            returncode = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            for pid in started | {process.pid}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            raise
    assert returncode == 0, output.text
    assert "SIGINT: stopped" in output.text
    assert wait_until_gone(started) == []
    assert not port_is_open(port)
    assert moto_port and not port_is_open(moto_port)
    return output.text
