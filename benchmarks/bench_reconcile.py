"""2. The catalogue's own cost at scale: the sync fed by in-memory record streams.

Three phases on one fresh database, each in its own process so its peak RSS is its own:
a first sync, a no-change re-sync (must write nothing), and a re-sync where 1% of the
runs changed (new metrics, new content for all their files). Each phase reports the
rows it wrote per table, the change events among them (``change_events_written``: the
first sync's one initial import, none for a no-change re-sync). A fifth process
inserts the first sync's artifact rows again, bare, into a copy of the table
(``benchmarks.insert_floor``): the database's own share of a first pass. A fourth
process times the bare record streams alone, the part of each figure that is the generator, not the
catalogue: the artifact stage's rate is reported as measured and net of the bare
artifact stream (``net_rate``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from benchmarks import common
from benchmarks.config import WorldSize
from benchmarks.djangoenv import fresh_database_url, setup_django
from benchmarks.world import World

PHASES = ("first", "nochange", "changed")
CHANGE_EVENT_TABLE = "catalog_changeevent"


def child_main(phase: str, *, plan_name: str, database_url: str, name: str) -> dict:
    plan = common.plan_named(plan_name)
    size: WorldSize = plan.reconcile
    world = World(size)
    generation = 1 if phase == "changed" else 0
    from benchmarks.memory_sources import MemoryMlflowSource, MemoryS3Source

    mlflow_source = MemoryMlflowSource(
        world, generation=generation, change_share=plan.reconcile_change_share
    )
    s3_source = MemoryS3Source(
        world, generation=generation, change_share=plan.reconcile_change_share
    )
    if phase == "streams":
        return _time_streams(mlflow_source, s3_source)
    if phase == "insert_floor":
        setup_django(database_url=database_url, name=name)
        from benchmarks.insert_floor import measure
        from catalog.sync.report import SyncOptions

        return {"phase": phase, **measure(batch_size=SyncOptions().batch_size)}
    setup_django(database_url=database_url, name=name, migrate=phase == "first")
    from benchmarks.stages import StageClock
    from benchmarks.writes import count_writes
    from catalog.sync.service import SyncOptions, run_sync

    rss_before = common.peak_rss_mb()
    clock = StageClock()
    with count_writes() as writes:
        started = time.perf_counter()
        report = run_sync(
            mlflow_source=mlflow_source, s3_source=s3_source, options=SyncOptions(progress=clock)
        )
        seconds = time.perf_counter() - started
        clock.finish()
        writes.add_writer_process_rows(report)
    summary = report.as_dict()
    stages = clock.durations()
    artifact_stage_s = stages.get("artifacts")
    return {
        "phase": phase,
        "status": summary["status"],
        "error": report.error,
        "seconds": round(seconds, 2),
        "artifacts": size.artifacts,
        "runs": size.runs,
        "artifacts_per_s": round(size.artifacts / seconds),
        "records_per_s": round((size.artifacts + size.runs) / seconds),
        "stages_s": stages,
        "artifact_stage_s": artifact_stage_s,
        "artifact_stage_per_s": round(size.artifacts / artifact_stage_s)
        if artifact_stage_s
        else None,
        "rows_written": writes.catalogue_rows(),
        "rows_written_by_table": dict(writes.rows),
        "change_events_written": writes.rows.get(CHANGE_EVENT_TABLE, 0),
        "queries": writes.queries,
        "get_object_calls": s3_source.get_object_calls,
        "metric_history_calls": mlflow_source.metric_history_calls,
        "peak_rss_mb": common.peak_rss_mb(),
        "rss_before_sync_mb": rss_before,
        "counts": summary["counts"],
        "warnings": summary["warnings"][:5],
    }


def _time_streams(mlflow_source, s3_source) -> dict:
    from catalog.sync.records import S3Root

    world = mlflow_source.world
    started = time.perf_counter()
    experiments = [e.experiment_id for e in mlflow_source.iter_experiments()]
    runs = sum(1 for _ in mlflow_source.iter_runs(experiment_ids=experiments))
    artifacts_started = time.perf_counter()
    for experiment_id in experiments:
        root = S3Root(bucket=world.bucket, prefix=f"{experiment_id}/")
        for _ in s3_source.iter_root(root=root):
            pass
    artifact_seconds = time.perf_counter() - artifacts_started
    sum(1 for _ in mlflow_source.iter_model_versions())
    seconds = time.perf_counter() - started
    return {
        "phase": "streams",
        "seconds": round(seconds, 2),
        "artifact_stream_s": round(artifact_seconds, 3),
        "runs": runs,
        "listed": s3_source.listed,
    }


def net_rate(artifacts: int, stage_s: float | None, stream_s: float) -> int | None:
    """Artifacts per second of the artifact stage less the stand-in stream's own time.

    The stream is the benchmark's stand-in for a source that costs nothing; what it
    spends making records (measured alone, same roots) is not the catalogue's cost.
    """
    if not stage_s or stage_s <= stream_s:
        return None
    return round(artifacts / (stage_s - stream_s))


def run_child(phase: str, *, args, database_url: str, name: str) -> dict:
    out = args.out.with_suffix(f".{phase}.json")
    command = [
        sys.executable,
        "-m",
        "benchmarks.bench_reconcile",
        "--child",
        phase,
        "--plan",
        args.plan,
        "--backend",
        args.backend,
        "--database-url",
        database_url,
        "--out",
        str(out),
    ]
    subprocess.run(command, check=True)
    return json.loads(out.read_text())


def main() -> None:
    if "--child" in sys.argv:
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("--child", required=True)
        parser.add_argument("--plan", required=True)
        parser.add_argument("--backend", required=True)
        parser.add_argument("--database-url", required=True)
        parser.add_argument("--out", required=True)
        child = parser.parse_args()
        name = f"reconcile-{child.plan}"
        result = child_main(
            child.child, plan_name=child.plan, database_url=child.database_url, name=name
        )
        common.log(f"reconcile {child.child} ({child.backend}): {result}")
        with open(child.out, "w") as handle:
            json.dump(result, handle, indent=2, default=str)
        return
    args = common.parse_args(__doc__.splitlines()[0])
    plan = common.plan_named(args.plan)
    name = f"reconcile-{plan.name}"
    database_url = fresh_database_url(backend=args.backend, name=name)
    phases = {"streams": run_child("streams", args=args, database_url=database_url, name=name)}
    for phase in PHASES:
        phases[phase] = run_child(phase, args=args, database_url=database_url, name=name)
    phases["insert_floor"] = run_child(
        "insert_floor", args=args, database_url=database_url, name=name
    )
    floor_s = phases["insert_floor"]["seconds"]
    stream_s = phases["streams"]["artifact_stream_s"]
    result = {
        "backend": args.backend,
        "size": plan.reconcile.as_dict(),
        "change_share": plan.reconcile_change_share,
        "phases": phases,
        "first_artifacts_per_s": phases["first"]["artifacts_per_s"],
        "resync_artifacts_per_s": phases["nochange"]["artifacts_per_s"],
        "first_artifact_stage_per_s": phases["first"]["artifact_stage_per_s"],
        "resync_artifact_stage_per_s": phases["nochange"]["artifact_stage_per_s"],
        "artifact_stream_s": stream_s,
        "insert_floor_s": floor_s,
        "first_stage_over_insert_floor": round(phases["first"]["artifact_stage_s"] / floor_s, 2)
        if floor_s
        else None,
        "first_artifact_stage_net_per_s": net_rate(
            plan.reconcile.artifacts, phases["first"]["artifact_stage_s"], stream_s
        ),
        "resync_artifact_stage_net_per_s": net_rate(
            plan.reconcile.artifacts, phases["nochange"]["artifact_stage_s"], stream_s
        ),
        "changed_artifacts_per_s": phases["changed"]["artifacts_per_s"],
        "resync_rows_written": phases["nochange"]["rows_written"],
        "change_events_written": {
            phase: phases[phase]["change_events_written"] for phase in PHASES
        },
        "peak_rss_mb": max(phases[p]["peak_rss_mb"] for p in PHASES),
        "streams_s": phases["streams"]["seconds"],
    }
    # A stage no longer than the bare stream (a tiny world on a noisy machine: the two
    # are timed in separate processes) has no net rate: the catalogue's own time is
    # inside the noise. Named here, so the report says n/a instead of "missing".
    result["undefined_figures"] = [
        name
        for name, phase in (
            ("first_artifact_stage_net_per_s", "first"),
            ("resync_artifact_stage_net_per_s", "nochange"),
        )
        if result[name] is None
        and phases[phase]["artifact_stage_s"] is not None
        and phases[phase]["artifact_stage_s"] <= stream_s
    ]
    common.write_result(args.out, result)


if __name__ == "__main__":
    main()
