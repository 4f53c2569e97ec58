"""``MlflowSource.metric_histories`` against real tracking stores.

A tracking database (the seed world's sqlite store) has a bulk history read; a file
store has none, so there each run is read through the client's public call. Either
way the histories are those ``MlflowClient.get_metric_history`` gives run by run.
"""

from __future__ import annotations

import pytest

from catalog.sync import mlflow_source
from catalog.sync.mlflow_source import MlflowSource, read_bulk_history
from catalog.sync.records import MetricRecord

pytestmark = pytest.mark.slow


def one_by_one(client, run_ids, key) -> dict[str, list[MetricRecord]]:
    """What the public client gives, run by run: the reference."""
    return {
        run_id: [
            MetricRecord(key=p.key, value=p.value, step=p.step, timestamp=p.timestamp)
            for p in client.get_metric_history(run_id, key)
        ]
        for run_id in run_ids
    }


def as_sets(histories: dict[str, list[MetricRecord]]) -> dict[str, set[MetricRecord]]:
    return {run_id: set(points) for run_id, points in histories.items()}


def test_a_tracking_database_serves_many_runs_in_one_call(seed_world):
    source = MlflowSource(tracking_uri=seed_world.tracking_uri)
    run_ids = sorted(seed_world.run_ids.values())
    histories = source.metric_histories(run_ids=run_ids, key="accuracy")
    assert source.metric_history_calls == 1
    assert as_sets(histories) == as_sets(one_by_one(source.client, run_ids, "accuracy"))
    assert all(len(points) == 3 for points in histories.values())
    # A key a run never logged: an empty history, not a missing entry.
    assert source.metric_histories(run_ids=run_ids[:2], key="recall") == {
        run_ids[0]: [],
        run_ids[1]: [],
    }


def test_runs_beyond_one_call_are_split_and_a_capped_call_is_read_run_by_run(
    seed_world, monkeypatch
):
    run_ids = sorted(seed_world.run_ids.values())
    monkeypatch.setattr(mlflow_source, "HISTORY_RUNS_PER_CALL", 4)
    source = MlflowSource(tracking_uri=seed_world.tracking_uri)
    split = source.metric_histories(run_ids=run_ids, key="accuracy")
    assert source.metric_history_calls == 4  # 15 runs, 4 a call
    reference = as_sets(one_by_one(source.client, run_ids, "accuracy"))
    assert as_sets(split) == reference

    # 4 runs x 3 points reach a cap of 12: the call may have been cut, so each of its
    # runs is read alone (the last call, 3 runs x 3 points, is under the cap).
    monkeypatch.setattr(mlflow_source, "HISTORY_POINTS_PER_CALL", 12)
    capped = MlflowSource(tracking_uri=seed_world.tracking_uri)
    assert as_sets(capped.metric_histories(run_ids=run_ids, key="accuracy")) == reference
    assert capped.metric_history_calls == 4 + 12


def test_a_store_without_bulk_reads_is_read_through_the_public_client(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    # MLflow 3 keeps the file store for those who ask for it; it has no bulk read.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("e")
    run_ids = []
    for index in range(3):
        run_id = client.create_run(experiment_id).info.run_id
        for step in range(index + 1):
            client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step, timestamp=10 + step)
        run_ids.append(run_id)
    source = MlflowSource(tracking_uri=uri)
    assert read_bulk_history(source.client, run_ids=run_ids, key="loss") is None
    histories = source.metric_histories(run_ids=run_ids, key="loss")
    assert source.metric_history_calls == 3
    assert as_sets(histories) == as_sets(one_by_one(client, run_ids, "loss"))
    assert [len(histories[run_id]) for run_id in run_ids] == [1, 2, 3]
