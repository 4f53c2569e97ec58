"""moto's S3 server in its own process, filled with a world.

Run as ``python -m benchmarks.moto_world SPEC_JSON_PATH``.

Filling moto's backend directly takes seconds where 20,000 HTTP PUTs would take
minutes; the benchmark then only ever talks to it over HTTP, like to real S3. Prints
``READY <port>`` on stdout once serving, and serves until terminated.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from benchmarks.config import WorldSize
from benchmarks.world import World

MOTO_ACCOUNT = "123456789012"


def fill_backend(world: World) -> int:
    from moto.s3.models import s3_backends

    backend = s3_backends[MOTO_ACCOUNT]["global"]
    backend.create_bucket(world.bucket, "us-east-1")
    count = 0
    for key, content in world.iter_objects():
        backend.put_object(world.bucket, key, content)
        count += 1
    return count


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    size = WorldSize(**{k: v for k, v in spec["size"].items() if k != "artifacts"})
    world = World(size, bucket=spec["bucket"], run_ids=spec.get("run_ids"))
    count = fill_backend(world)
    host, port = server.get_host_and_port()
    print(f"READY {port} {count}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    server.stop()


if __name__ == "__main__":
    main()
