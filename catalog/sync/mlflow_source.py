"""MLflow, through ``MlflowClient``: the only module that imports mlflow.

``MlflowSource`` follows every page token and yields ``catalog.sync.records`` values.
Any client or transport error becomes ``MlflowSourceError`` with what was being read.
No database here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from catalog.sync.records import (
    ExperimentRecord,
    LoggedModelRecord,
    MetricRecord,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
    SourceError,
)

T = TypeVar("T")
EXPERIMENTS_PAGE = 1000
RUNS_PAGE = 1000
REGISTERED_MODELS_PAGE = 1000
MODEL_VERSIONS_PAGE = 1000
LOGGED_MODELS_PAGE = 100
# search_runs takes a list of experiments; a bounded batch keeps each query small.
EXPERIMENTS_PER_RUN_SEARCH = 50
# MLflow's bulk metric history serves at most 100 runs and 25,000 points per call.
HISTORY_RUNS_PER_CALL = 100
HISTORY_POINTS_PER_CALL = 25_000
HISTORY_BULK_ENDPOINT = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"


class MlflowSourceError(SourceError):
    """MLflow could not be read; the message says what was being read."""


class MlflowSource:
    """Reads one tracking server (or tracking database) for the sync.

    ``tracking_uri`` is ``MLFLOW_TRACKING_URI``; ``registry_uri`` defaults to it.
    ``metric_history_calls`` counts metric-history requests (bulk or one run's), so a
    no-change sync can prove it fetched none.
    """

    def __init__(self, *, tracking_uri: str, registry_uri: str | None = None) -> None:
        if not tracking_uri:
            raise MlflowSourceError("MLFLOW_TRACKING_URI is not set")
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        try:
            # The registry lives with the tracking store unless told otherwise; left to
            # itself MLflow would fall back to a process-wide default.
            self.client = MlflowClient(
                tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri
            )
        except Exception as error:  # noqa: BLE001 - any failure to build the client
            raise MlflowSourceError(f"cannot open MLflow at {tracking_uri}: {error}") from error
        self.metric_history_calls = 0
        # Set once a tracking server answers that it has no bulk history endpoint.
        self._bulk_unsupported = False

    # --- experiments and runs ----------------------------------------------------------

    def iter_experiments(self) -> Iterator[ExperimentRecord]:
        """Every experiment, active and deleted."""
        from mlflow.entities import ViewType

        def page(token: str | None):
            return self.client.search_experiments(
                view_type=ViewType.ALL, max_results=EXPERIMENTS_PAGE, page_token=token
            )

        for experiment in self._pages(page, what="experiments"):
            yield ExperimentRecord(
                experiment_id=str(experiment.experiment_id),
                name=experiment.name or "",
                artifact_location=experiment.artifact_location or "",
                lifecycle_stage=experiment.lifecycle_stage or "active",
                description=experiment.tags.get("mlflow.note.content", "") or "",
                tags=dict(experiment.tags or {}),
                creation_time=experiment.creation_time,
                last_update_time=experiment.last_update_time,
            )

    def iter_runs(self, *, experiment_ids: Iterable[str]) -> Iterator[RunRecord]:
        """Every run (any lifecycle stage) of the given experiments."""
        from mlflow.entities import ViewType

        ids = list(experiment_ids)
        for start in range(0, len(ids), EXPERIMENTS_PER_RUN_SEARCH):
            batch = ids[start : start + EXPERIMENTS_PER_RUN_SEARCH]

            def page(token: str | None, batch=batch):
                return self.client.search_runs(
                    experiment_ids=batch,
                    run_view_type=ViewType.ALL,
                    max_results=RUNS_PAGE,
                    page_token=token,
                )

            for run in self._pages(page, what=f"runs of experiments {batch[0]}..{batch[-1]}"):
                yield _run_record(run)

    # --- metric histories --------------------------------------------------------------

    def metric_histories(
        self, *, run_ids: Sequence[str], key: str
    ) -> dict[str, list[MetricRecord]]:
        """Every logged point of metric ``key`` of each run, by run id.

        Up to 100 runs are read in one bulk call (``read_bulk_history``); where the
        store has none, or a call came back at its point cap, each run is read with
        the client's public ``get_metric_history``. A first sync thus makes one call
        per key and 100 changed runs instead of one per run and key.
        """
        wanted = list(dict.fromkeys(run_ids))
        histories: dict[str, list[MetricRecord]] = {}
        for start in range(0, len(wanted), HISTORY_RUNS_PER_CALL):
            chunk = wanted[start : start + HISTORY_RUNS_PER_CALL]
            read = None if self._bulk_unsupported else self._bulk_histories(chunk, key=key)
            if read is None:
                read = {run_id: self._single_history(run_id=run_id, key=key) for run_id in chunk}
            histories.update(read)
        return histories

    def _bulk_histories(
        self, run_ids: list[str], *, key: str
    ) -> dict[str, list[MetricRecord]] | None:
        """One bulk call's histories, or None when they must be read run by run."""
        try:
            rows = read_bulk_history(self.client, run_ids=run_ids, key=key)
        except Exception as error:  # noqa: BLE001 - wrap every client/transport error
            raise MlflowSourceError(
                f"metric history of {key} for {len(run_ids)} runs: {_short(error)}"
            ) from error
        if rows is None:
            self._bulk_unsupported = True
            return None
        self.metric_history_calls += 1
        # A result at the cap may have been cut: those runs are read one by one.
        if len(rows) >= HISTORY_POINTS_PER_CALL:
            return None
        histories: dict[str, list[MetricRecord]] = {run_id: [] for run_id in run_ids}
        for run_id, point in rows:
            if run_id in histories:  # a run not asked for is not trusted to be whole
                histories[run_id].append(point)
        return histories

    def _single_history(self, *, run_id: str, key: str) -> list[MetricRecord]:
        self.metric_history_calls += 1
        try:
            points = self.client.get_metric_history(run_id, key)
        except Exception as error:  # noqa: BLE001 - wrap every client error
            raise MlflowSourceError(f"metric history {run_id}/{key}: {_short(error)}") from error
        return [
            MetricRecord(key=p.key, value=p.value, step=p.step or 0, timestamp=p.timestamp or 0)
            for p in points
        ]

    # --- MLflow 3 logged models --------------------------------------------------------

    def iter_logged_models(self, *, experiment_ids: Iterable[str]) -> Iterator[LoggedModelRecord]:
        """Every MLflow 3 logged model of the given experiments."""
        ids = list(experiment_ids)
        if not hasattr(self.client, "search_logged_models"):
            return
        for start in range(0, len(ids), EXPERIMENTS_PER_RUN_SEARCH):
            batch = ids[start : start + EXPERIMENTS_PER_RUN_SEARCH]

            def page(token: str | None, batch=batch):
                return self.client.search_logged_models(
                    experiment_ids=batch, max_results=LOGGED_MODELS_PAGE, page_token=token
                )

            for model in self._pages(page, what="logged models"):
                yield LoggedModelRecord(
                    model_id=model.model_id,
                    experiment_id=str(model.experiment_id),
                    name=model.name or "",
                    source_run_id=model.source_run_id or "",
                    status=_enum_name(model.status),
                    artifact_location=model.artifact_location or "",
                    tags=dict(model.tags or {}),
                    params=dict(model.params or {}),
                    metrics={m.key: m.value for m in (model.metrics or [])},
                    creation_time=model.creation_timestamp,
                    last_updated_time=model.last_updated_timestamp,
                )

    # --- the registry ------------------------------------------------------------------

    def iter_registered_models(self) -> Iterator[RegisteredModelRecord]:
        """Every registered model with its tags and aliases."""

        def page(token: str | None):
            return self.client.search_registered_models(
                max_results=REGISTERED_MODELS_PAGE, page_token=token
            )

        for model in self._pages(page, what="registered models"):
            yield RegisteredModelRecord(
                name=model.name,
                description=model.description or "",
                tags=dict(model.tags or {}),
                aliases={str(k): int(v) for k, v in (model.aliases or {}).items()},
                creation_time=model.creation_timestamp,
                last_updated_time=model.last_updated_timestamp,
            )

    def iter_model_versions(self) -> Iterator[ModelVersionRecord]:
        """Every version of every registered model (aliases come from the model)."""

        def page(token: str | None):
            return self.client.search_model_versions(
                max_results=MODEL_VERSIONS_PAGE, page_token=token
            )

        for version in self._pages(page, what="model versions"):
            yield ModelVersionRecord(
                model_name=version.name,
                version=int(version.version),
                source=version.source or "",
                run_id=version.run_id or "",
                model_id=getattr(version, "model_id", None) or "",
                status=_enum_name(version.status),
                stage=version.current_stage or "",
                tags=dict(version.tags or {}),
                description=version.description or "",
                creation_time=version.creation_timestamp,
                last_updated_time=version.last_updated_timestamp,
            )

    # --- paging ------------------------------------------------------------------------

    def _pages(self, fetch: Callable[[str | None], Any], *, what: str) -> Iterator[Any]:
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            try:
                page = fetch(token)
            except Exception as error:  # noqa: BLE001 - wrap every client/transport error
                raise MlflowSourceError(f"reading {what}: {_short(error)}") from error
            yield from page
            token = getattr(page, "token", None)
            if not token:
                return
            if token in seen_tokens:  # a server that loops would never end the sync
                raise MlflowSourceError(f"reading {what}: page token repeated")
            seen_tokens.add(token)


def read_bulk_history(client: Any, *, run_ids: list[str], key: str) -> list | None:
    """[(run id, point)] of metric ``key`` of up to 100 runs in one call; None when the
    store offers no bulk read.

    MLflow's client has no public bulk history: its UI reads one from a tracking
    server's ``get-history-bulk`` endpoint, and a tracking database's store has
    ``get_metric_history_bulk``. Both are reached through the client's store, a private
    attribute, and only here; the public ``get-history-bulk-interval`` endpoint is no
    substitute, as it samples long histories and drops negative steps. A caller that gets
    None reads each run with ``MlflowClient.get_metric_history``.
    """
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    get_host_creds = getattr(store, "get_host_creds", None)
    if callable(get_host_creds):
        from mlflow.utils.rest_utils import http_request

        params = [("run_id", run_id) for run_id in run_ids]
        params += [("metric_key", key), ("max_results", str(HISTORY_POINTS_PER_CALL))]
        response = http_request(
            get_host_creds(), HISTORY_BULK_ENDPOINT, "GET", params=params, raise_on_status=False
        )
        if response.status_code == 404:  # a server without the endpoint
            return None
        response.raise_for_status()
        return [
            (
                m["run_id"],
                MetricRecord(
                    key=m["key"],
                    value=m.get("value"),
                    step=int(m.get("step") or 0),
                    timestamp=int(m.get("timestamp") or 0),
                ),
            )
            for m in response.json().get("metrics", [])
        ]
    bulk = getattr(store, "get_metric_history_bulk", None)
    if callable(bulk):
        points = bulk(run_ids=run_ids, metric_key=key, max_results=HISTORY_POINTS_PER_CALL)
        return [
            (
                m.run_id,
                MetricRecord(
                    key=m.key, value=m.value, step=m.step or 0, timestamp=m.timestamp or 0
                ),
            )
            for m in points
        ]
    return None


def _run_record(run: Any) -> RunRecord:
    info, data = run.info, run.data
    metric_objects = getattr(data, "_metric_objs", None)
    if metric_objects:
        metrics = tuple(
            MetricRecord(key=m.key, value=m.value, step=m.step or 0, timestamp=m.timestamp or 0)
            for m in metric_objects
        )
    else:
        metrics = tuple(MetricRecord(key=k, value=v) for k, v in (data.metrics or {}).items())
    return RunRecord(
        run_id=info.run_id,
        experiment_id=str(info.experiment_id),
        name=info.run_name or "",
        status=info.status or "",
        lifecycle_stage=info.lifecycle_stage or "active",
        user_id=info.user_id or "",
        start_time=info.start_time,
        end_time=info.end_time,
        artifact_uri=info.artifact_uri or "",
        params=dict(data.params or {}),
        metrics=tuple(sorted(metrics, key=lambda m: m.key)),
        tags=dict(data.tags or {}),
    )


def _enum_name(value: Any) -> str:
    if value is None:
        return ""
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return name
    return str(value)


def _short(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text[:400]}"
