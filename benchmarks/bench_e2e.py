"""1. End to end against real stand-ins: the sync versus a bare walk of the same sources.

A real MLflow store (``mlflow server --workers 1`` on sqlite) and moto's S3 server hold
the same generated world (2,000 runs and 20,000 objects in the full plan). In this one
process, on a fresh catalogue database: a warm-up walk, then floor, first sync, floor,
then three times no-change re-sync, floor. The floor is the median of the five walks;
the first sync and the median re-sync are reported as multiples of it, with the rows
they wrote and the source calls they made.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import time

from benchmarks import common
from benchmarks.config import BENCH_DIR, BUCKET
from benchmarks.djangoenv import fresh_database_url, setup_django
from benchmarks.floor import roots_of, walk_mlflow, walk_s3
from benchmarks.mlflow_world import mlflow_world
from benchmarks.servers import FAKE_AWS_ENV, mlflow_server, moto_s3_server

RESYNC_REPEATS = 3


def floor_walk(*, tracking_uri: str, s3_endpoint: str) -> dict:
    import boto3

    started = time.perf_counter()
    mlflow_counts = walk_mlflow(tracking_uri=tracking_uri)
    mlflow_s = time.perf_counter() - started
    roots = roots_of(mlflow_counts.pop("experiment_locations"))
    # Its clients are built inside the timing, as the sync builds its own (a new boto3
    # session loads the S3 service model: 0.1-0.3 s here).
    s3_client = boto3.session.Session().client("s3", endpoint_url=s3_endpoint)
    objects = walk_s3(client=s3_client, roots=roots)
    total = time.perf_counter() - started
    return {
        "seconds": round(total, 3),
        "mlflow_s": round(mlflow_s, 3),
        "s3_s": round(total - mlflow_s, 3),
        "objects": objects,
        "roots": len(roots),
        **mlflow_counts,
    }


def content_reads_floor(*, s3_client, bucket: str) -> dict:
    """Bare ranged GETs of the small files a first sync must read (``MLmodel``, feature names).

    The keys are the catalogued ``MLmodel`` and ``feature_names.txt`` objects, read with
    the sync's byte cap and as many at once as the sync reads them
    (``SyncOptions.read_workers``): the cost of the reads themselves.
    """
    from concurrent.futures import ThreadPoolExecutor

    from catalog import model_files
    from catalog.models import Artifact
    from catalog.sync.report import SyncOptions

    keys = [
        key
        for key in Artifact.objects.filter(bucket=bucket).values_list("key", flat=True)
        if model_files.content_kind(key)
    ]

    def read(key: str) -> int:
        response = s3_client.get_object(
            Bucket=bucket, Key=key, Range=f"bytes=0-{model_files.MAX_FILE_BYTES}"
        )
        return len(response["Body"].read())

    workers = SyncOptions().read_workers
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(read, keys))
    return {
        "reads": len(keys),
        "workers": workers,
        "seconds": round(time.perf_counter() - started, 3),
    }


def history_reads_floor(*, tracking_uri: str) -> dict:
    """Bare bulk metric-history GETs for every run and metric key the first sync read.

    The same endpoint, runs per call and point cap as ``MlflowSource``, for the runs
    the catalogue now holds (in experiment order) and each key they logged: the cost of
    fetching the histories, without the catalogue around it.
    """
    import requests

    from catalog.models import Run
    from catalog.sync.mlflow_source import (
        HISTORY_BULK_ENDPOINT,
        HISTORY_POINTS_PER_CALL,
        HISTORY_RUNS_PER_CALL,
    )

    runs = list(Run.objects.order_by("experiment_id", "pk").values_list("run_id", "metrics"))
    windows = [
        runs[i : i + HISTORY_RUNS_PER_CALL] for i in range(0, len(runs), HISTORY_RUNS_PER_CALL)
    ]
    calls = points = 0
    started = time.perf_counter()
    with requests.Session() as session:
        for window in windows:
            for key in sorted({key for _, metrics in window for key in metrics}):
                params = [("run_id", run_id) for run_id, _ in window]
                params += [("metric_key", key), ("max_results", str(HISTORY_POINTS_PER_CALL))]
                response = session.get(f"{tracking_uri}{HISTORY_BULK_ENDPOINT}", params=params)
                response.raise_for_status()
                points += len(response.json().get("metrics", []))
                calls += 1
    return {"calls": calls, "points": points, "seconds": round(time.perf_counter() - started, 3)}


def timed_sync(*, tracking_uri: str, s3_endpoint: str, profile: str = "") -> dict:
    from benchmarks.writes import count_writes
    from catalog.s3 import make_s3_client
    from catalog.sync.mlflow_source import MlflowSource
    from catalog.sync.s3_source import S3Source
    from catalog.sync.service import SyncOptions, run_sync

    started = time.perf_counter()
    mlflow_source = MlflowSource(tracking_uri=tracking_uri)
    s3_source = S3Source(client=make_s3_client(endpoint_url=s3_endpoint))
    with count_writes() as writes, profiled(profile):
        report = run_sync(mlflow_source=mlflow_source, s3_source=s3_source, options=SyncOptions())
        writes.add_writer_process_rows(report)
    seconds = time.perf_counter() - started
    summary = report.as_dict()
    return {
        "seconds": round(seconds, 3),
        "status": summary["status"],
        "error": report.error,
        "rows_written": writes.catalogue_rows(),
        "rows_written_by_table": dict(writes.rows),
        "queries": writes.queries,
        "get_object_calls": s3_source.get_object_calls,
        "metric_history_calls": mlflow_source.metric_history_calls,
        "counts": summary["counts"],
        "warnings": summary["warnings"][:5],
    }


@contextlib.contextmanager
def profiled(name: str):
    """With BENCH_PROFILE=1, a pyinstrument profile of the block in var/bench/profiles/."""
    if not name or os.environ.get("BENCH_PROFILE") != "1":
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.005)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        out = BENCH_DIR / "profiles" / f"{name}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(profiler.output_text(unicode=True, show_all=False))
        common.log(f"profile written to {out}")


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    plan = common.plan_named(args.plan)
    size = plan.e2e
    os.environ.update(FAKE_AWS_ENV)
    db_path, world = mlflow_world(size, bucket=BUCKET)
    serving = db_path.with_name(f"{db_path.stem}.serving.db")
    shutil.copyfile(db_path, serving)
    name = f"e2e-{plan.name}"
    setup_django(
        database_url=fresh_database_url(backend=args.backend, name=name), name=name, migrate=True
    )
    import boto3

    spec = {"size": size.as_dict(), "bucket": BUCKET, "run_ids": world._run_ids}
    with (
        moto_s3_server(world_spec=spec) as s3_endpoint,
        mlflow_server(
            db_path=serving, artifact_root=f"s3://{BUCKET}", s3_endpoint=s3_endpoint
        ) as tracking_uri,
    ):
        s3_client = boto3.client("s3", endpoint_url=s3_endpoint)
        floor_walk(tracking_uri=tracking_uri, s3_endpoint=s3_endpoint)  # warm-up
        floors = [floor_walk(tracking_uri=tracking_uri, s3_endpoint=s3_endpoint)]
        first = timed_sync(
            tracking_uri=tracking_uri, s3_endpoint=s3_endpoint, profile=f"e2e-first-{plan.name}"
        )
        common.log(f"e2e first sync: {first}")
        floors.append(floor_walk(tracking_uri=tracking_uri, s3_endpoint=s3_endpoint))
        # The re-sync is within noise of the floor, so both are repeated, interleaved,
        # and compared by their medians.
        resyncs = []
        for attempt in range(RESYNC_REPEATS):
            resyncs.append(
                timed_sync(
                    tracking_uri=tracking_uri,
                    s3_endpoint=s3_endpoint,
                    profile=f"e2e-resync-{plan.name}" if attempt == 0 else "",
                )
            )
            common.log(f"e2e re-sync: {resyncs[-1]}")
            floors.append(floor_walk(tracking_uri=tracking_uri, s3_endpoint=s3_endpoint))
        resync = resyncs[0] | {
            "seconds": statistics.median(r["seconds"] for r in resyncs),
            "all_seconds": [r["seconds"] for r in resyncs],
            "rows_written": sum(r["rows_written"] for r in resyncs),
        }
        reads = content_reads_floor(s3_client=s3_client, bucket=BUCKET)
        histories = history_reads_floor(tracking_uri=tracking_uri)
    serving.unlink(missing_ok=True)
    floor_s = statistics.median(f["seconds"] for f in floors)
    result = {
        "backend": args.backend,
        "size": size.as_dict(),
        "floors": floors,
        "floor_s": round(floor_s, 3),
        "first": first,
        "resync": resync,
        "first_over_floor": round(first["seconds"] / floor_s, 2),
        "content_reads": reads,
        "first_over_floor_with_reads": round(first["seconds"] / (floor_s + reads["seconds"]), 2),
        "history_reads": histories,
        # The floor of a first sync: the walk plus what a first sync must read (the small
        # files it parses into Artifact.meta, and the metric history of every run).
        "first_floor_s": round(floor_s + reads["seconds"] + histories["seconds"], 3),
        "first_over_first_floor": round(
            first["seconds"] / (floor_s + reads["seconds"] + histories["seconds"]), 2
        ),
        "resync_over_floor": round(resync["seconds"] / floor_s, 2),
        "resync_rows_written": resync["rows_written"],
    }
    common.log(
        f"e2e: floor {floor_s:.2f}s, first x{result['first_over_floor']}, "
        f"re-sync x{result['resync_over_floor']}"
    )
    common.write_result(args.out, result)


if __name__ == "__main__":
    main()
