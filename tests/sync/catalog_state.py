"""The synced state of the catalogue as JSON-ready lists, to compare two databases.

Imported by the tests and by ``manage.py shell`` in their subprocesses (Django set up):
it imports the models only when called.
"""

from __future__ import annotations

import json

SYNCED = ("fingerprint", "missing_since")


def _rows(model, *fields) -> list[list]:
    def value(obj, field):
        value = getattr(obj, field)
        return str(value) if field.endswith(("_since", "experiment", "run")) else value

    return sorted(
        ([value(obj, field) for field in fields] for obj in model.objects.all()), key=json.dumps
    )


def catalog_state() -> dict:
    """Every synced field of every mirrored row, without ids and first/last-seen times."""
    from catalog import models as m

    state = {
        "experiments": _rows(
            m.Experiment, "experiment_id", "run_count", "artifact_count", "artifact_bytes", *SYNCED
        ),
        "runs": _rows(m.Run, "run_id", "experiment", "metrics", "metrics_signature", "params",
                      "artifact_count", "artifact_bytes", *SYNCED),
        "points": _rows(m.MetricPoint, "run", "key", "step", "timestamp", "value"),
        "models": _rows(m.RegisteredModel, "name", "category", "latest_version", "aliases",
                        "experiment", *SYNCED),
        "versions": _rows(m.ModelVersion, "version", "artifact_prefix", "artifacts_present",
                          "aliases", "run", *SYNCED),
        "artifacts": _rows(m.Artifact, "bucket", "key", "run", "path", "folder", "orphan_folder",
                           "size", "etag", "meta", "meta_etag", *SYNCED),
    }  # fmt: skip
    # Through JSON, as it comes from a subprocess: tuples become lists.
    return json.loads(json.dumps(state, sort_keys=True))
