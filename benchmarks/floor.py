"""The floor: a bare walk of the sources, with nothing done to what they return.

MlflowClient pages through every experiment, run (and MLflow 3 logged model), registered
model and model version, with the page sizes and batching of the sync's source, and
boto3's ``list_objects_v2`` paginator walks every S3 root, counting objects. This is
the cost no catalogue can avoid; the sync is reported as a multiple of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

MLFLOW_PAGE = 1000
S3_PAGE = 1000
# As the sync's MlflowSource: runs are searched 50 experiments at a time.
EXPERIMENTS_PER_RUN_SEARCH = 50
LOGGED_MODELS_PAGE = 100


def _paged(search: Callable, **kwargs) -> Iterator:
    token = None
    while True:
        page = search(page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def walk_mlflow(*, tracking_uri: str, run_page_size: int = MLFLOW_PAGE) -> dict[str, int]:
    """Every experiment (active and deleted), run, registered model and model version."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiments = list(
        _paged(client.search_experiments, view_type=ViewType.ALL, max_results=MLFLOW_PAGE)
    )
    ids = [experiment.experiment_id for experiment in experiments]
    runs = logged_models = 0
    for start in range(0, len(ids), EXPERIMENTS_PER_RUN_SEARCH):
        batch = ids[start : start + EXPERIMENTS_PER_RUN_SEARCH]
        for _run in _paged(
            client.search_runs,
            experiment_ids=batch,
            run_view_type=ViewType.ALL,
            max_results=run_page_size,
        ):
            runs += 1
        for _model in _paged(
            client.search_logged_models, experiment_ids=batch, max_results=LOGGED_MODELS_PAGE
        ):
            logged_models += 1
    models = sum(1 for _ in _paged(client.search_registered_models, max_results=MLFLOW_PAGE))
    versions = sum(1 for _ in _paged(client.search_model_versions, max_results=MLFLOW_PAGE))
    return {
        "experiments": len(experiments),
        "runs": runs,
        "logged_models": logged_models,
        "registered_models": models,
        "model_versions": versions,
        "experiment_locations": [e.artifact_location for e in experiments],
    }


def walk_s3(*, client, roots: list[tuple[str, str]]) -> int:
    """Objects under every (bucket, prefix) root, one paginated walk per root."""
    paginator = client.get_paginator("list_objects_v2")
    objects = 0
    for bucket, prefix in roots:
        for page in paginator.paginate(
            Bucket=bucket,
            Prefix=prefix,
            EncodingType="url",
            PaginationConfig={"PageSize": S3_PAGE},
        ):
            objects += len(page.get("Contents", ()))
    return objects


def roots_of(locations: list[str]) -> list[tuple[str, str]]:
    """(bucket, prefix/) of each ``s3://`` location, nested ones dropped."""
    roots = set()
    for location in locations:
        if not location.startswith("s3://"):
            continue
        bucket, _, prefix = location[len("s3://") :].partition("/")
        prefix = prefix.strip("/")
        roots.add((bucket, f"{prefix}/" if prefix else ""))
    ordered = sorted(roots)
    return [
        root
        for root in ordered
        if not any(o != root and o[0] == root[0] and root[1].startswith(o[1]) for o in ordered)
    ]
