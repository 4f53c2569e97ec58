"""Drive a URL for a fixed time on loopback and count answers: wrk if installed, else threads.

wrk (Debian's ``wrk``) costs the server's CPU far less per request than Python does, so
the two 2-core measurements are less distorted by the loader; the bounded Python loader
(threads, each with its own keep-alive connection) is the fallback.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections import Counter

from benchmarks.http import Session


def load(*, base_url: str, path: str, seconds: float, connections: int, cookie: str = "") -> dict:
    """Requests per second, status counts and errors for ``seconds`` of load on ``path``."""
    if shutil.which("wrk"):
        return _wrk(
            base_url=base_url, path=path, seconds=seconds, connections=connections, cookie=cookie
        )
    return _threads(
        base_url=base_url, path=path, seconds=seconds, connections=connections, cookie=cookie
    )


def _wrk(*, base_url: str, path: str, seconds: float, connections: int, cookie: str) -> dict:
    command = [
        "wrk",
        "-t",
        "1",
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    command.append(base_url + path)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    duration = _wrk_seconds(re.search(r"requests in ([\d.]+)(\w+),", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(value) for value in socket_errors.groups())
    latency = {
        label: value
        for label, value in re.findall(r"^\s+(50|90|99)%\s+(\S+)", output, flags=re.MULTILINE)
    }
    return {
        "loader": "wrk",
        "requests": requests,
        "seconds": duration,
        "rps": round(requests / duration, 1),
        "errors": errors,
        "latency": latency,
    }


def _wrk_seconds(match) -> float:
    value, unit = float(match.group(1)), match.group(2)
    return value * {"s": 1, "ms": 0.001, "m": 60}.get(unit, 1)


def _threads(*, base_url: str, path: str, seconds: float, connections: int, cookie: str) -> dict:
    statuses: Counter[int | str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        session = Session(base_url, timeout=30)
        headers = {"Cookie": cookie} if cookie else {}
        local: Counter[int | str] = Counter()
        while time.monotonic() < deadline:
            try:
                status, _, _ = session.request("GET", path, headers=headers)
                local[status] += 1
            except OSError as error:
                local[type(error).__name__] += 1
        session.close()
        with lock:
            statuses.update(local)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    duration = time.monotonic() - started
    requests = sum(statuses.values())
    return {
        "loader": "python-threads",
        "requests": requests,
        "seconds": round(duration, 2),
        "rps": round(requests / duration, 1),
        "errors": sum(count for status, count in statuses.items() if status != 200),
        "statuses": {str(k): v for k, v in statuses.items()},
    }
