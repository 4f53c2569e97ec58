"""Hostile MLmodel files in a real world (an MLflow store in a temp dir, moto's S3):
each is a warning naming its key, never a failed sync."""

from __future__ import annotations

import boto3
import pytest

from catalog.models import Artifact
from tests.hostile_files import CLEAN_MLMODEL, alias_bomb_mlmodel, deep_json_mlmodel
from tests.sync.conftest import World

pytestmark = pytest.mark.slow

BUCKET = "poisoned-world"
MLMODELS = {
    "clean": CLEAN_MLMODEL,
    "deep-json": deep_json_mlmodel(depth=5_000),
    "alias-bomb": alias_bomb_mlmodel(levels=9),
}


@pytest.fixture(scope="module")
def poisoned_world(moto_endpoint, world_dir, mlflow_templates) -> World:
    """One experiment, one run per MLmodel above, logged by the real MLflow client."""
    from mlflow import MlflowClient

    base = world_dir / "poisoned"
    base.mkdir(parents=True, exist_ok=True)
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=BUCKET)
    uri = mlflow_templates.new_store(base / "mlflow.db")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    world = World(
        tracking_uri=uri, db_path=base / "mlflow.db", bucket=BUCKET, endpoint=moto_endpoint
    )
    experiment_id = client.create_experiment("Poisoned", artifact_location=f"s3://{BUCKET}/1")
    for label, mlmodel in MLMODELS.items():
        run_id = client.create_run(experiment_id, run_name=label).info.run_id
        client.log_text(run_id, mlmodel.decode(), "model/MLmodel")
        # NUL is valid UTF-8 but PostgreSQL's jsonb refuses it: stored replaced.
        features = "temp\x00erature\npressure\n" if label == "clean" else "temperature\n"
        client.log_text(run_id, features, "feature_names.txt")
        client.set_terminated(run_id)
        world.run_ids[label] = run_id
    return world


def _mlmodel_key(world: World, label: str) -> str:
    return f"1/{world.run_ids[label]}/artifacts/model/MLmodel"


@pytest.mark.parametrize("parse_process_min_batch", [0, 1])
def test_poisoned_mlmodels_are_warnings_and_the_sync_goes_on(
    poisoned_world, sync_world, parse_process_min_batch
):
    report = sync_world(poisoned_world, parse_process_min_batch=parse_process_min_batch)
    assert report.status == "ok", report.all_warnings()
    for label in ("deep-json", "alias-bomb"):
        location = f"s3://{BUCKET}/{_mlmodel_key(poisoned_world, label)}: "
        naming = [warning for warning in report.all_warnings() if warning.startswith(location)]
        assert len(naming) == 1, report.all_warnings()
        meta = Artifact.objects.get(key=_mlmodel_key(poisoned_world, label)).meta
        assert set(meta) == {"kind", "error"} and meta["kind"] == "mlmodel"
        assert len(meta["error"]) <= 300
    assert (
        "JSON nested deeper"
        in Artifact.objects.get(key=_mlmodel_key(poisoned_world, "deep-json")).meta["error"]
    )
    clean = Artifact.objects.get(key=_mlmodel_key(poisoned_world, "clean")).meta
    assert clean["mlflow_version"] == "2.16.0"
    assert clean["signature"]["inputs"] == [{"name": "temperature", "type": "double"}]
    features = {
        row.key.split("/")[1]: row.meta["features"]
        for row in Artifact.objects.filter(key__endswith="/feature_names.txt")
    }
    ids = poisoned_world.run_ids
    assert features == {
        ids["clean"]: ["temp\ufffderature", "pressure"],
        ids["deep-json"]: ["temperature"],
        ids["alias-bomb"]: ["temperature"],
    }

    again = sync_world(poisoned_world, parse_process_min_batch=parse_process_min_batch)
    assert again.status == "ok", again.all_warnings()
    assert Artifact.objects.get(key=_mlmodel_key(poisoned_world, "clean")).meta == clean
