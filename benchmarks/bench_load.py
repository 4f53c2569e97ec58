"""5. Under load: gunicorn (2 sync workers) serving the experiment page and a trivial view.

The catalogue is first synced (``manage.py sync_registry``, as cron runs it) from the
end-to-end world: an MLflow tracking database and moto's S3. Then each URL is driven by
the loader on loopback for ``load_seconds``: the first half alone, the second half with
a real sync running beside it in its own process. Before each of those syncs the
sources change (new metric values on 10% of the runs, new objects in S3), so the sync
writes while the pages read. Reported: requests per second of each, their ratio, the
errors, and every "database is locked" in the server's or the sync's output. The
loader is an ordinary logged-in reader, so the experiment page comes from the page cache
between syncs, as for real users; ``page_cache_answers`` records what the cache said.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time

from benchmarks import common
from benchmarks.config import BENCH_DIR, BUCKET
from benchmarks.djangoenv import django_env, fresh_database_url, setup_django
from benchmarks.fill import create_reader
from benchmarks.http import Session
from benchmarks.loader import load
from benchmarks.mlflow_world import mlflow_world
from benchmarks.servers import FAKE_AWS_ENV, PROJECT_DIR, gunicorn_server, moto_s3_server
from benchmarks.world import World

TRIVIAL_PATH = "/healthz"
LOCKED = "database is locked"


def start_sync(env: dict[str, str], *, label: str) -> tuple[subprocess.Popen, object]:
    log_path = BENCH_DIR / "logs" / f"load-sync-{label}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb")  # noqa: SIM115 - closed in finish_sync
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sync_registry", "--json"],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, log


def finish_sync(process: subprocess.Popen, log, *, started: float, label: str) -> dict:
    try:
        process.wait(timeout=600)
    finally:
        log.close()
    output = (BENCH_DIR / "logs" / f"load-sync-{label}.log").read_text(errors="replace")
    summary = {}
    for line in output.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                summary = json.loads(line)
    return {
        "exit_code": process.returncode,
        "seconds": round(time.monotonic() - started, 2),
        "status": summary.get("status"),
        "counts": summary.get("counts"),
        "locked": output.count(LOCKED),
        "output_tail": output[-400:] if process.returncode else "",
    }


def change_sources(*, world: World, mlflow_db, s3_endpoint: str, generation: int) -> dict:
    """New metric values on 10% of the runs and 500 new objects: work for the next sync."""
    import boto3
    from mlflow.entities import Metric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{mlflow_db}", f"s3://{BUCKET}")
    changed_runs = 0
    now_ms = int(time.time() * 1000)
    for index in range(generation, world.size.runs, 10):
        run_id = world.run_id(index)
        metrics = [Metric("accuracy", 0.5 + generation / 100, now_ms, 10 + generation)]
        store.log_batch(run_id, metrics=metrics, params=[], tags=[])
        changed_runs += 1
    store.engine.dispose()
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    objects = 0
    for index in range(0, min(500, world.size.runs)):
        run = world.run(index)
        client.put_object(
            Bucket=BUCKET,
            Key=f"{run.prefix}plots/extra-{generation}.png",
            Body=b"not really a png " * 8,
        )
        objects += 1
    return {"changed_runs": changed_runs, "new_objects": objects}


def drive(
    *, url: str, path: str, seconds: float, connections: int, cookie: str, sync_env, label: str
) -> dict:
    half = seconds / 2
    alone = load(base_url=url, path=path, seconds=half, connections=connections, cookie=cookie)
    started = time.monotonic()
    process, log = start_sync(sync_env, label=label)
    with_sync = load(base_url=url, path=path, seconds=half, connections=connections, cookie=cookie)
    still_running = process.poll() is None
    sync = finish_sync(process, log, started=started, label=label)
    requests = alone["requests"] + with_sync["requests"]
    duration = alone["seconds"] + with_sync["seconds"]
    return {
        "path": path,
        "alone": alone,
        "with_sync": with_sync,
        "rps": round(requests / duration, 1),
        "errors": alone["errors"] + with_sync["errors"],
        "sync": {**sync, "ran_through_the_half": still_running},
    }


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    plan = common.plan_named(args.plan)
    os.environ.update(FAKE_AWS_ENV)
    db_path, world = mlflow_world(plan.e2e, bucket=BUCKET)
    mlflow_db = BENCH_DIR / f"load-{plan.name}-mlflow.db"
    shutil.copyfile(db_path, mlflow_db)
    name = f"load-{plan.name}"
    database_url = fresh_database_url(backend=args.backend, name=name)
    setup_django(database_url=database_url, name=name, migrate=True)
    create_reader()
    from catalog.pagecache import STATUS_HEADER

    web_env = django_env(database_url=database_url, name=name)
    spec = {"size": plan.e2e.as_dict(), "bucket": BUCKET, "run_ids": world._run_ids}
    result: dict = {"backend": args.backend, "seconds_each": plan.load_seconds}
    with moto_s3_server(world_spec=spec) as s3_endpoint:
        sync_env = {
            **web_env,
            **FAKE_AWS_ENV,
            "MLFLOW_TRACKING_URI": f"sqlite:///{mlflow_db}",
            "MLFLOW_S3_ENDPOINT_URL": s3_endpoint,
        }
        initial = finish_sync(
            *start_sync(sync_env, label="initial"), started=time.monotonic(), label="initial"
        )
        result["initial_sync"] = initial
        experiment_path = f"/experiments/{world.big_run().experiment_id}/"
        with gunicorn_server(env=web_env, workers=2, name=f"gunicorn-{name}") as url:
            # An ordinary (non-staff) reader logged in through the form, as real users
            # are: the page cache serves the load its pages (catalog.pagecache).
            session = Session(url)
            session.login(username="bench", password="bench-pass-123")  # noqa: S106
            status, body = session.get(experiment_path)
            result["experiment_page_status"] = status
            result["experiment_page_bytes"] = len(body)
            result["page_cache_answers"] = [
                session.request("GET", experiment_path)[1].get(STATUS_HEADER) for _ in range(4)
            ]
            cookie = session.cookie_header()
            phases = {}
            for generation, (label, path) in enumerate(
                (("trivial", TRIVIAL_PATH), ("page", experiment_path)), start=1
            ):
                result[f"changes_{label}"] = change_sources(
                    world=world, mlflow_db=mlflow_db, s3_endpoint=s3_endpoint, generation=generation
                )
                phases[label] = drive(
                    url=url,
                    path=path,
                    seconds=plan.load_seconds,
                    connections=plan.load_connections,
                    cookie=cookie,
                    sync_env=sync_env,
                    label=label,
                )
                common.log(f"load {label}: {phases[label]}")
        server_log = (BENCH_DIR / "logs" / f"gunicorn-{name}.log").read_text(errors="replace")
    result["phases"] = phases
    result["page_over_trivial"] = (
        round(phases["page"]["rps"] / phases["trivial"]["rps"], 3)
        if phases["trivial"]["rps"]
        else None
    )
    result["errors"] = sum(phase["errors"] for phase in phases.values())
    result["locked"] = server_log.count(LOCKED) + sum(
        phase["sync"]["locked"] for phase in phases.values()
    )
    result["syncs_ok"] = all(phase["sync"]["exit_code"] == 0 for phase in phases.values())
    mlflow_db.unlink(missing_ok=True)
    common.write_result(args.out, result)


if __name__ == "__main__":
    main()
