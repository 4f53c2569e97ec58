"""Planned MLflow ids and the build clock: exactly the id asked for, and nothing left patched."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from mlflow.store.model_registry import sqlalchemy_store as registry_store
from mlflow.store.tracking import sqlalchemy_store as tracking_store
from mlflow.tracking import MlflowClient

from demo.determinism import (
    epoch_millis,
    frozen_mlflow_clock,
    planned_id,
    planned_ids,
    stable_hex_id,
)

PLANNED = "64535d709de2458396986ff9f939517a"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_a_run_gets_the_planned_id_and_the_clock_time(client):
    moment = datetime(2025, 9, 2, 9, 0, tzinfo=UTC)
    ticks = iter(range(epoch_millis(moment), epoch_millis(moment) + 10_000, 1000))
    with frozen_mlflow_clock(now=lambda: next(ticks)), planned_ids():
        experiment_id = client.create_experiment("determinism")
        with planned_id(PLANNED):
            run = client.create_run(experiment_id, start_time=epoch_millis(moment))
        other = client.create_run(experiment_id)  # not planned: a real uuid4
    assert run.info.run_id == PLANNED
    assert other.info.run_id != PLANNED and len(other.info.run_id) == 32
    assert client.get_experiment(experiment_id).creation_time == epoch_millis(moment)
    # Both swaps are undone.
    assert tracking_store.uuid is uuid
    assert tracking_store.get_current_time_millis.__module__ == "mlflow.utils.time"
    assert registry_store.get_current_time_millis.__module__ == "mlflow.utils.time"


def test_an_unused_planned_id_is_an_error(client):
    with (
        pytest.raises(RuntimeError, match="did not take the planned id"),
        planned_ids(),
        planned_id(stable_hex_id("never", "used")),
    ):
        pass


@pytest.mark.parametrize("bad", ["", "xyz", PLANNED.upper(), PLANNED[:-1], PLANNED + "0"])
def test_a_planned_id_must_be_32_lowercase_hex(bad):
    with pytest.raises(ValueError, match="not a 32-hex MLflow id"), planned_id(bad):
        pass


def test_stable_ids_are_stable_and_distinct():
    assert stable_hex_id("demo", "3", "a") == stable_hex_id("demo", "3", "a")
    assert stable_hex_id("demo", "3", "a") != stable_hex_id("demo", "3", "b")
    assert len(stable_hex_id("x")) == 32
