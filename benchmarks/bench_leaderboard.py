"""4. The /metrics/ leaderboard from the catalogue versus the same table live from MLflow.

The same generated registry (``leaderboard_models`` models, two versions each, every
version's run with five metrics) lives in a real MLflow store served by
``mlflow server --workers 1`` and, filled directly, in the catalogue served by gunicorn
(one worker). Both are timed end to end over HTTP on loopback, median of a few rounds:

* catalogue: every page of ``/metrics/`` (following ``?page=N``) as a logged-in reader;
* live, per model (what a script or the MLflow UI does): search the registered models,
  then for each its newest version and that version's run;
* live, batched (the fastest honest client): registered models with their
  ``latest_versions``, then the runs 100 at a time with ``run_id IN (...)``.
"""

from __future__ import annotations

import re
import shutil
import statistics
import time

from benchmarks import common
from benchmarks.config import WorldSize
from benchmarks.djangoenv import django_env, fresh_database_url, setup_django
from benchmarks.floor import _paged
from benchmarks.http import Session
from benchmarks.mlflow_world import mlflow_world
from benchmarks.servers import gunicorn_server, mlflow_server

BUCKET = "bench-leaderboard"


def leaderboard_size(models: int) -> WorldSize:
    return WorldSize(
        experiments=5, runs=models, files_per_run=0, registered_models=models, versions_per_model=2
    )


def live_per_model(client) -> dict[str, dict]:
    """Latest version and its run's metrics, one model at a time."""
    table = {}
    for model in _paged(client.search_registered_models, max_results=1000):
        versions = client.search_model_versions(
            filter_string=f"name='{model.name}'", order_by=["version_number DESC"], max_results=1
        )
        if not versions:
            continue
        latest = versions[0]
        run = client.get_run(latest.run_id)
        table[model.name] = {"version": int(latest.version), "metrics": run.data.metrics}
    return table


def live_batched(client) -> dict[str, dict]:
    """The same table with as few requests as MLflow's API allows."""
    from mlflow.entities import ViewType

    latest = {}
    for model in _paged(client.search_registered_models, max_results=1000):
        versions = model.latest_versions or []
        if versions:
            newest = max(versions, key=lambda v: int(v.version))
            latest[model.name] = newest
    experiment_ids = [
        e.experiment_id
        for e in _paged(client.search_experiments, view_type=ViewType.ALL, max_results=1000)
    ]
    run_ids = sorted({v.run_id for v in latest.values() if v.run_id})
    metrics = {}
    for start in range(0, len(run_ids), 100):
        chunk = run_ids[start : start + 100]
        quoted = ", ".join(f"'{run_id}'" for run_id in chunk)
        for run in _paged(
            client.search_runs,
            experiment_ids=experiment_ids,
            filter_string=f"attributes.run_id IN ({quoted})",
            run_view_type=ViewType.ALL,
            max_results=1000,
        ):
            metrics[run.info.run_id] = run.data.metrics
    return {
        name: {"version": int(v.version), "metrics": metrics.get(v.run_id, {})}
        for name, v in latest.items()
    }


def catalogue_pages(session: Session, path: str = "/metrics/") -> tuple[int, list[bytes]]:
    """Every page of the leaderboard; returns the status of the first and the bodies."""
    status, body = session.get(path)
    bodies = [body]
    page = 1
    while status == 200 and f"page={page + 1}".encode() in bodies[-1] and page < 1000:
        page += 1
        next_status, body = session.get(f"{path}?page={page}")
        if next_status != 200:
            break
        bodies.append(body)
    return status, bodies


def time_catalogue(env: dict, *, cache_seconds: int | None, plan) -> tuple[float, tuple]:
    """Median seconds to fetch every leaderboard page from gunicorn (1 worker), and the
    (status, bodies) of the last round; ``cache_seconds`` 0 turns the page cache off."""
    if cache_seconds is not None:
        env = {**env, "CATALOG_PAGE_CACHE_SECONDS": str(cache_seconds)}
    with gunicorn_server(env=env, workers=1, name="gunicorn-leaderboard") as catalogue_url:
        session = Session(catalogue_url)
        session.login(username="bench", password="bench-pass-123")  # noqa: S106
        catalogue_pages(session)  # warm-up (and, with the cache on, its fill)
        return _median_time(
            lambda: catalogue_pages(session), repeats=max(3, plan.leaderboard_repeats)
        )


def _median_time(function, *, repeats: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    plan = common.plan_named(args.plan)
    size = leaderboard_size(plan.leaderboard_models)
    db_path, world = mlflow_world(size, bucket=BUCKET)
    name = f"leaderboard-{plan.name}"
    database_url = fresh_database_url(backend=args.backend, name=name)
    setup_django(database_url=database_url, name=name, migrate=True)
    from benchmarks.fill import CatalogueFiller, create_reader

    CatalogueFiller(world).fill()
    create_reader()
    serving = db_path.with_name(f"{db_path.stem}.serving.db")
    shutil.copyfile(db_path, serving)

    from mlflow import MlflowClient

    result: dict = {"backend": args.backend, "models": size.registered_models}
    env = django_env(database_url=database_url, name=name)
    with mlflow_server(
        db_path=serving, artifact_root=f"s3://{BUCKET}", s3_endpoint="http://127.0.0.1:9"
    ) as mlflow_url:
        client = MlflowClient(tracking_uri=mlflow_url, registry_uri=mlflow_url)
        live_batched(client)  # warm-up: imports, connections, the server's caches
        batched_s, batched_table = _median_time(
            lambda: live_batched(client), repeats=plan.leaderboard_repeats
        )
        # Hundreds of requests at ~70 ms each: one round is plenty and takes a minute.
        live_s, live_table = _median_time(lambda: live_per_model(client), repeats=1)
    # The catalogue twice: every page rendered (the page cache off), and as served,
    # where the page cache answers until the next sync.
    cold_s, (status, bodies) = time_catalogue(env, cache_seconds=0, plan=plan)
    warm_s, _ = time_catalogue(env, cache_seconds=None, plan=plan)
    html = b"".join(bodies).decode("utf-8", "replace")
    shown = sum(1 for i in range(size.registered_models) if world.model_name(i) in html)
    ok = status == 200
    result.update(
        {
            "catalogue_status": status,
            "catalogue_pages": len(bodies),
            "catalogue_models_shown": shown,
            "catalogue_s": round(cold_s, 4),
            "catalogue_cached_s": round(warm_s, 4),
            "live_per_model_s": round(live_s, 3),
            "live_batched_s": round(batched_s, 3),
            "live_rows": len(live_table),
            "live_rows_agree": live_table == batched_table,
            "speedup": round(live_s / cold_s, 1) if ok else None,
            "speedup_vs_batched": round(batched_s / cold_s, 1) if ok else None,
            "speedup_cached": round(live_s / warm_s, 1) if ok else None,
            "speedup_cached_vs_batched": round(batched_s / warm_s, 1) if ok else None,
            "sample_metric_shown": _sample_metric_shown(html, live_table),
        }
    )
    serving.unlink(missing_ok=True)
    common.log(f"leaderboard: {result}")
    common.write_result(args.out, result)


def _sample_metric_shown(html: str, table: dict[str, dict]) -> bool | None:
    """Whether one live metric value appears in the catalogue's page (3 decimals)."""
    for row in table.values():
        for value in row["metrics"].values():
            return bool(re.search(re.escape(f"{value:.3f}"), html))
    return None


if __name__ == "__main__":
    main()
