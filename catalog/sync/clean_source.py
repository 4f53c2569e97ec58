"""``CleanMlflowSource``: every MLflow record fitted for both databases before reconcile reads it.

Wraps an MLflow source and passes each record it yields through ``clean_record``: its
text fields (per record type, ``_RecordSpec``) are fitted by ``catalog.sync.text_limits``
under their columns' limits (ADR 0016). A clean record costs a few joins and ``in``
tests; a record is rebuilt only when something in it had to change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

from catalog.sync.records import (
    ExperimentRecord,
    LoggedModelRecord,
    MetricRecord,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
)
from catalog.sync.text_limits import (
    ID,
    INDEXED_NAME,
    METRIC_KEY,
    METRIC_KEY_MAX_CHARS,
    SHORT,
    TEXT,
    TEXT_MAX_CHARS,
    Limit,
    Warn,
    fit_mapping,
    fit_text,
    has_unstorable,
    show_value,
)


@dataclass(frozen=True)
class _RecordSpec:
    """A record type's text fields, their limits, and how warnings name its items."""

    texts: tuple[tuple[str, Limit], ...]
    mappings: tuple[str, ...]
    name_item: Callable[[Any], str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_get", attrgetter(*(name for name, _ in self.texts)))
        # The fast check's length bounds: a value at most this long fits for sure.
        object.__setattr__(
            self, "_sure_lengths", tuple(_sure_length(limit) for _, limit in self.texts)
        )

    def clean(self, record: Any, *, warn: Warn) -> Any:
        """``record`` with every text field fitted; the same record if all were clean."""
        values = self._get(record)
        if self._is_clean(record, values):
            return record
        item = self.name_item(record)
        changes: dict[str, Any] = {}
        for (name, limit), value in zip(self.texts, values, strict=True):
            fitted = fit_text(value, limit, item=item, field=name, warn=warn)
            if fitted is not value:
                changes[name] = fitted
        for name in self.mappings:
            mapping = getattr(record, name)
            fitted_mapping = fit_mapping(mapping, item=item, field=name, warn=warn)
            if fitted_mapping is not mapping:
                changes[name] = fitted_mapping
        return replace(record, **changes) if changes else record

    def _is_clean(self, record: Any, values: tuple) -> bool:
        """The common, clean case in a few C calls: one joined text, a length per field."""
        pieces = list(values)
        for name in self.mappings:
            mapping = getattr(record, name)
            if mapping:
                pieces += mapping
                pieces += mapping.values()
        try:
            text = "".join(pieces)
        except TypeError:
            return False  # something is not a string (an alias's version): one by one
        if len(text) > TEXT_MAX_CHARS or has_unstorable(text):
            return False
        for value, sure in zip(values, self._sure_lengths, strict=True):
            if len(value) > sure:
                return False  # maybe too long: the slow path measures it
        return True


def _sure_length(limit: Limit) -> int:
    """The length up to which every value fits ``limit`` (4 bytes per character at most)."""
    if limit.max_bytes is not None:
        return limit.max_bytes // 4
    return limit.max_chars


_SPECS: dict[type, _RecordSpec] = {
    ExperimentRecord: _RecordSpec(
        texts=(
            ("experiment_id", ID),
            ("name", INDEXED_NAME),
            ("artifact_location", TEXT),
            ("lifecycle_stage", SHORT),
            ("description", TEXT),
        ),
        mappings=("tags",),
        name_item=lambda r: f"experiment {show_value(r.experiment_id)}",
    ),
    RunRecord: _RecordSpec(
        texts=(
            ("run_id", ID),
            ("experiment_id", ID),
            ("name", INDEXED_NAME),
            ("status", SHORT),
            ("lifecycle_stage", SHORT),
            ("user_id", TEXT),
            ("artifact_uri", TEXT),
        ),
        mappings=("params", "tags"),
        name_item=lambda r: f"run {show_value(r.run_id)}",
    ),
    LoggedModelRecord: _RecordSpec(
        texts=(
            ("model_id", ID),
            ("experiment_id", ID),
            ("name", TEXT),
            ("source_run_id", ID),
            ("status", SHORT),
            ("artifact_location", TEXT),
        ),
        mappings=("tags", "params"),
        name_item=lambda r: f"logged model {show_value(r.model_id)}",
    ),
    RegisteredModelRecord: _RecordSpec(
        texts=(("name", INDEXED_NAME), ("description", TEXT)),
        mappings=("tags", "aliases"),
        name_item=lambda r: f"registered model {show_value(r.name)}",
    ),
    ModelVersionRecord: _RecordSpec(
        texts=(
            ("model_name", INDEXED_NAME),
            ("source", TEXT),
            ("run_id", ID),
            ("model_id", ID),
            ("status", SHORT),
            ("stage", SHORT),
            ("description", TEXT),
        ),
        mappings=("tags",),
        name_item=lambda r: f"model version {show_value(r.model_name)} v{r.version}",
    ),
}


def clean_record(record: Any, *, warn: Warn) -> Any:
    """Any MLflow record with its text fitted for storage (see the module docstring)."""
    return _SPECS[type(record)].clean(record, warn=warn)


def _fit_metric_keys(
    metrics: Iterable[MetricRecord], *, item: Callable[[], str], warn: Warn
) -> tuple[MetricRecord, ...] | None:
    """The metrics with their keys fitted, or None when every key was clean.

    ``item`` names the metrics' owner for a warning; called only when one is given.
    """
    metrics = tuple(metrics)
    if not metrics:
        return None
    keys = [metric.key for metric in metrics]
    try:
        if max(map(len, keys)) <= METRIC_KEY_MAX_CHARS and not has_unstorable("".join(keys)):
            return None
    except TypeError:
        pass  # a key that is not a string: fit_text leaves it to the database's error
    name = item()
    return tuple(
        replace(
            metric, key=fit_text(metric.key, METRIC_KEY, item=name, field="metric key", warn=warn)
        )
        for metric in metrics
    )


def _fit_metric_names(metrics: dict, *, item: Callable[[], str], warn: Warn) -> dict:
    """A ``{metric key: value}`` mapping with its keys fitted; the same dict if clean."""
    if not metrics:
        return metrics
    try:
        clean = max(map(len, metrics)) <= METRIC_KEY_MAX_CHARS and not has_unstorable(
            "".join(metrics)
        )
    except TypeError:
        clean = False
    if clean:
        return metrics
    name = item()
    return {
        fit_text(key, METRIC_KEY, item=name, field="metric key", warn=warn): value
        for key, value in metrics.items()
    }


def _ignore(message: str) -> None:
    """A warning already given for the same value."""


class CleanMlflowSource:
    """An MLflow source whose every record is fitted for storage (``clean_record``).

    Wraps any object with ``MlflowSource``'s methods. Ids and metric keys it changed are
    remembered (few: MLflow's own validation keeps them clean) so ``metric_histories``
    asks the source by the values the source knows. A registered model or version whose
    fitted natural key repeats one already yielded is left out with a warning: two rows
    cannot share a natural key.
    """

    def __init__(self, source: Any, *, warn: Warn) -> None:
        self.source = source
        self.warn = warn
        self._run_ids: dict[str, str] = {}  # fitted run id -> the source's, where they differ
        self._metric_keys: dict[tuple[str, str], str] = {}  # (run id, fitted key) -> source's

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def _clean(self, records: Iterable[Any]) -> Iterator[Any]:
        warn = self.warn
        for record in records:
            yield clean_record(record, warn=warn)

    def iter_experiments(self) -> Iterator[ExperimentRecord]:
        return self._clean(self.source.iter_experiments())

    def iter_runs(self, *, experiment_ids: list[str]) -> Iterator[RunRecord]:
        warn = self.warn
        for record in self.source.iter_runs(experiment_ids=experiment_ids):
            fitted = clean_record(record, warn=warn)
            metrics = _fit_metric_keys(
                record.metrics,
                item=lambda record=record: f"run {show_value(record.run_id)}",
                warn=warn,
            )
            if fitted.run_id != record.run_id:
                self._run_ids[fitted.run_id] = record.run_id
            if metrics is not None:
                for original, metric in zip(record.metrics, metrics, strict=True):
                    if metric.key != original.key:
                        self._metric_keys[(fitted.run_id, metric.key)] = original.key
                fitted = replace(fitted, metrics=metrics)
            yield fitted

    def metric_histories(
        self, *, run_ids: Sequence[str], key: str
    ) -> dict[str, list[MetricRecord]]:
        """The source's histories, asked by the ids and keys it knows, under fitted ones.

        Runs whose key was fitted from different originals are asked apart, one call per
        original key. Only runs asked for are returned; each point's key is fitted.
        """
        asked: dict[str, dict[str, str]] = {}  # source's key -> {source's run id: fitted id}
        for run_id in run_ids:
            source_key = self._metric_keys.get((run_id, key), key)
            asked.setdefault(source_key, {})[self._run_ids.get(run_id, run_id)] = run_id
        histories: dict[str, list[MetricRecord]] = {}
        for source_key, runs in asked.items():
            read = self.source.metric_histories(run_ids=list(runs), key=source_key)
            for source_id, run_id in runs.items():
                points = read.get(source_id)
                if points is None:
                    continue  # the stage reports a run left out
                # Each key was fitted, and warned of, with the run's latest metrics.
                fitted = _fit_metric_keys(points, item=str, warn=_ignore)
                histories[run_id] = list(points) if fitted is None else list(fitted)
        return histories

    def iter_logged_models(self, *, experiment_ids: list[str]) -> Iterator[LoggedModelRecord]:
        warn = self.warn
        for record in self.source.iter_logged_models(experiment_ids=experiment_ids):
            fitted = clean_record(record, warn=warn)
            metrics = _fit_metric_names(
                fitted.metrics,
                item=lambda record=record: f"logged model {show_value(record.model_id)}",
                warn=warn,
            )
            yield fitted if metrics is fitted.metrics else replace(fitted, metrics=metrics)

    def iter_registered_models(self) -> Iterator[RegisteredModelRecord]:
        seen: set[str] = set()
        for record in self._clean(self.source.iter_registered_models()):
            if record.name in seen:
                self.warn(
                    f"registered model {show_value(record.name)}: listed twice (after its name "
                    "was fitted for storage); the second is left out"
                )
                continue
            seen.add(record.name)
            yield record

    def iter_model_versions(self) -> Iterator[ModelVersionRecord]:
        seen: set[tuple[str, int]] = set()
        for record in self._clean(self.source.iter_model_versions()):
            natural_key = (record.model_name, record.version)
            if natural_key in seen:
                self.warn(
                    f"model version {show_value(record.model_name)} v{record.version}: listed "
                    "twice (after its model's name was fitted for storage); the second is "
                    "left out"
                )
                continue
            seen.add(natural_key)
            yield record
