"""The labelled drift cases: disagreements between MLflow and S3 the audit must show.

Each case is made the way it happens in life, with the real tools:

* an orphan run folder: files under ``2/<id>/artifacts/`` for a run id MLflow does not
  know (copied by hand from another tracking server);
* an orphan file beside the experiment folders' runs: ``4/ai4i_dataset_snapshot.csv``;
* a deleted run whose artifacts remain: ``lightgbm_tuning_leaves_63`` deleted in MLflow
  (soft delete; nothing removes its S3 folder);
* a model version whose artifacts are missing: ``lightgbm_forecaster_challenger``
  version 1, whose ``model/`` folder was removed from S3 after registration;
* a run with no artifacts: ``prophet_changepoint_tuning`` failed before logging any.
"""

from __future__ import annotations

from demo.s3 import BUCKET
from demo.seed import DRIFT, TUNING_LEAVES_15

ORPHAN_FILES = {
    "artifacts/model/model.pkl": b"\x80\x05orphaned model bytes from another tracking server",
    "artifacts/model/MLmodel": b"flavors:\n  sklearn:\n    pickled_model: model.pkl\n",
    "artifacts/notes.txt": b"Copied by hand from the old tracking server; no MLflow run.\n",
}


def apply_drift(*, client, s3) -> dict[str, object]:
    """Make the drift cases in the built world; return them as labelled for the docs."""
    for relative, content in ORPHAN_FILES.items():
        s3.put_object(Bucket=BUCKET, Key=f"{DRIFT['orphan_folder']}{relative}", Body=content)
    s3.put_object(
        Bucket=BUCKET,
        Key=DRIFT["orphan_file"],
        Body=b"air_temperature_k,process_temperature_k\n298.1,308.6\n",
    )
    client.delete_run(DRIFT["deleted_run_with_artifacts"])
    removed_model = f"3/{TUNING_LEAVES_15}/artifacts/model/"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=removed_model).get("Contents", [])
    if not listed:
        raise RuntimeError(f"nothing to remove under {removed_model}: the build changed")
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": item["Key"]} for item in listed]})
    return dict(DRIFT)
