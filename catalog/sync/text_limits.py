"""Text from MLflow made storable on both databases, at the one door it comes in by.

PostgreSQL refuses three things SQLite takes: a character over a ``varchar(n)``
column's length, U+0000 in ``text`` or ``jsonb``, and a btree index entry over about
2,700 bytes. Python's drivers for both refuse a lone surrogate (U+D800-U+DFFF), which a
JSON answer can carry as an escape. One bad value used to fail the whole sync on
PostgreSQL; ADR 0016 (``docs/decisions/0016-mirrored-text-limits.md``) sets the rule:

* U+0000 and lone surrogates become U+FFFD, with a warning naming the item and field;
* a value longer than its column's limit (``Limit``) is cut, with a warning giving its
  full length, and ends in ``…`` and a digest of the whole value, so two long values
  that share a beginning stay two values (a natural key stays unique);
* both databases get the same cleaned values, and cleaning is a pure function of the
  value, so a re-sync fingerprints the same cleaned record and writes nothing.

``CleanMlflowSource`` wraps an MLflow source and cleans every record it yields, so the
rest of the sync sees only storable text; reconcile builds its rows from those. The
check is cheap for a clean record (a few joins and ``in`` tests); a record is rebuilt
only when something in it had to change. S3 keys are checked apart, in the listing
(``catalog.sync.s3_source``): a key is stored verbatim or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
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

REPLACEMENT = "\ufffd"
# What marks a cut value: the mark, then the digest of the whole value.
CUT_MARK = "\u2026"
DIGEST_CHARS = 16
_CUT_TAIL_CHARS = len(CUT_MARK) + DIGEST_CHARS
_CUT_TAIL_BYTES = len(CUT_MARK.encode()) + DIGEST_CHARS

# Limits of the catalogue's columns (catalog/models.py), in characters unless said.
MLFLOW_ID_MAX_CHARS = 64  # experiment, run and logged model ids: varchar(64)
SHORT_MAX_CHARS = 32  # status, lifecycle stage, stage: varchar(32)
METRIC_KEY_MAX_CHARS = 250  # MetricPoint.key: varchar(250), MLflow's own limit
# Indexed names (experiment, run, registered model: text columns with a btree index).
# PostgreSQL's btree holds entries up to ~2,700 bytes; 2,000 bytes of UTF-8 leaves room
# for the row's other index columns and headers, and is eight times MLflow's SQL
# store's 256 characters (its REST API and file store take longer).
INDEXED_NAME_MAX_BYTES = 2000
# Any other text, and each string inside a JSON mapping: ten times the longest value
# MLflow accepts anywhere (100,000 characters, a registry tag value).
TEXT_MAX_CHARS = 1_000_000

Warn = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Limit:
    """How long a value may be: characters (varchar) or UTF-8 bytes (an index entry)."""

    max_chars: int | None = None
    max_bytes: int | None = None

    def fits(self, value: str) -> bool:
        length = len(value)
        if self.max_chars is not None and length > self.max_chars:
            return False
        if self.max_bytes is not None and length * 4 > self.max_bytes:
            # Only a value that could take more bytes than allowed is encoded.
            return length <= self.max_bytes and len(_utf8(value)) <= self.max_bytes
        return True


ID = Limit(max_chars=MLFLOW_ID_MAX_CHARS)
SHORT = Limit(max_chars=SHORT_MAX_CHARS)
METRIC_KEY = Limit(max_chars=METRIC_KEY_MAX_CHARS)
INDEXED_NAME = Limit(max_bytes=INDEXED_NAME_MAX_BYTES)
TEXT = Limit(max_chars=TEXT_MAX_CHARS)


def _utf8(value: str) -> bytes:
    # Lone surrogates are replaced before any value is measured for storage; here they
    # only need to be measurable.
    return value.encode("utf-8", "surrogatepass")


def _has_unstorable(text: str) -> bool:
    """Whether ``text`` holds U+0000 or a lone surrogate (cheap for the clean case)."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _replace_unstorable(text: str) -> str:
    text = text.replace("\x00", REPLACEMENT)
    if text.isascii():
        return text
    return "".join(REPLACEMENT if "\ud800" <= char <= "\udfff" else char for char in text)


def storable_text(text: str) -> str:
    """``text`` with U+0000 and lone surrogates replaced, silently (for the sync's own text)."""
    return _replace_unstorable(text) if _has_unstorable(text) else text


def value_digest(value: str) -> str:
    """The digest a cut value ends with: of the whole value as the source sent it."""
    return hashlib.blake2b(_utf8(value), digest_size=DIGEST_CHARS // 2).hexdigest()


def cut(value: str, limit: Limit) -> str:
    """``value`` shortened to ``limit``: its beginning, ``…`` and its digest."""
    digest = value_digest(value)
    head = value
    if limit.max_chars is not None:
        head = head[: limit.max_chars - _CUT_TAIL_CHARS]
    if limit.max_bytes is not None:
        # Cut on a character boundary: a partial character at the end is dropped.
        head = _utf8(head)[: limit.max_bytes - _CUT_TAIL_BYTES].decode("utf-8", "ignore")
    return f"{head}{CUT_MARK}{digest}"


def fit_text(value: str, limit: Limit, *, item: str, field: str, warn: Warn) -> str:
    """``value`` as it can be stored: unstorable characters replaced, cut to ``limit``.

    Warns once per change, naming ``item`` and ``field``. Pure in ``value``: the same
    input gives the same output on every sync and on both databases.
    """
    if not isinstance(value, str):
        return value
    cleaned = value
    if _has_unstorable(value):
        cleaned = _replace_unstorable(value)
        warn(f"{item}: {field}: {_unstorable_reason(value)}; replaced by U+FFFD")
    if not limit.fits(cleaned):
        original = cleaned
        cleaned = cut(original, limit)
        warn(
            f"{item}: {field}: {len(original):,} characters, over the catalogue's limit "
            f"({_describe(limit)}); stored as its first {len(cleaned) - _CUT_TAIL_CHARS:,} "
            f"characters, then {CUT_MARK}{cleaned[-DIGEST_CHARS:]} (a digest of the whole)"
        )
    return cleaned


def _unstorable_reason(value: str) -> str:
    if "\x00" in value:
        return "contains NUL (U+0000)"
    return "contains a lone surrogate"


def _describe(limit: Limit) -> str:
    if limit.max_bytes is not None:
        return f"{limit.max_bytes:,} bytes of UTF-8"
    return f"{limit.max_chars:,} characters"


def fit_mapping(mapping: dict, *, item: str, field: str, warn: Warn) -> dict:
    """A JSON mapping's string keys and values fitted to ``TEXT``; the same dict if clean.

    Values that are not strings (an alias's version number) are kept as they are.
    """
    if not mapping:
        return mapping
    try:
        text = "".join(mapping) + "".join(mapping.values())
    except TypeError:
        text = None  # some value is not a string: look at each
    if text is not None and len(text) <= TEXT_MAX_CHARS and not _has_unstorable(text):
        return mapping
    fitted = {}
    changed = False
    for key, value in mapping.items():
        new_key = fit_text(key, TEXT, item=item, field=f"{field} key {_show(key)}", warn=warn)
        new_value = fit_text(value, TEXT, item=item, field=f"{field}[{_show(key)}]", warn=warn)
        changed = changed or new_key is not key or new_value is not value
        fitted[new_key] = new_value
    return fitted if changed else mapping


def fit_json_text(text: str, *, item: str, field: str, warn: Warn) -> str:
    """A JSON document's text with unstorable characters in its strings replaced.

    For JSON made with ``json.dumps`` (ASCII escapes): PostgreSQL's jsonb refuses the
    escape of U+0000 and of a lone surrogate. Only a text holding ``\\u0000`` or a
    surrogate escape (``\\ud8..``-``\\udf..``, which also spells a valid pair) is
    parsed; the same text comes back when nothing had to change. One warning per text.
    """
    if "\\u0000" not in text and "\\ud" not in text:
        return text
    found: list[str] = []
    cleaned = _clean_json_value(json.loads(text), found)
    if not found:
        return text
    warn(f"{item}: {field}: {found[0]}; replaced by U+FFFD")
    return json.dumps(cleaned)


def _clean_json_value(value: Any, found: list[str]) -> Any:
    if isinstance(value, str):
        if _has_unstorable(value):
            found.append(_unstorable_reason(value))
            return _replace_unstorable(value)
        return value
    if isinstance(value, list):
        return [_clean_json_value(element, found) for element in value]
    if isinstance(value, dict):
        return {
            _clean_json_value(key, found): _clean_json_value(element, found)
            for key, element in value.items()
        }
    return value


def _show(text: str, limit: int = 80) -> str:
    """A value in a warning: escaped (no NUL or control character reaches a log), short."""
    shown = repr(text[:limit])
    return shown if len(text) <= limit else f"{shown}..."


# --- records -------------------------------------------------------------------------


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
        if len(text) > TEXT_MAX_CHARS or _has_unstorable(text):
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
        name_item=lambda r: f"experiment {_show(r.experiment_id)}",
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
        name_item=lambda r: f"run {_show(r.run_id)}",
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
        name_item=lambda r: f"logged model {_show(r.model_id)}",
    ),
    RegisteredModelRecord: _RecordSpec(
        texts=(("name", INDEXED_NAME), ("description", TEXT)),
        mappings=("tags", "aliases"),
        name_item=lambda r: f"registered model {_show(r.name)}",
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
        name_item=lambda r: f"model version {_show(r.model_name)} v{r.version}",
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
        if max(map(len, keys)) <= METRIC_KEY_MAX_CHARS and not _has_unstorable("".join(keys)):
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
        clean = max(map(len, metrics)) <= METRIC_KEY_MAX_CHARS and not _has_unstorable(
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
    remembered (few: MLflow's own validation keeps them clean) so ``metric_history``
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
                record.metrics, item=lambda record=record: f"run {_show(record.run_id)}", warn=warn
            )
            if fitted.run_id != record.run_id:
                self._run_ids[fitted.run_id] = record.run_id
            if metrics is not None:
                for original, metric in zip(record.metrics, metrics, strict=True):
                    if metric.key != original.key:
                        self._metric_keys[(fitted.run_id, metric.key)] = original.key
                fitted = replace(fitted, metrics=metrics)
            yield fitted

    def metric_history(self, *, run_id: str, key: str) -> list[MetricRecord]:
        points = self.source.metric_history(
            run_id=self._run_ids.get(run_id, run_id),
            key=self._metric_keys.get((run_id, key), key),
        )
        # Each key was fitted, and warned of, with the run's latest metrics.
        fitted = _fit_metric_keys(points, item=str, warn=_ignore)
        return list(points) if fitted is None else list(fitted)

    def iter_logged_models(self, *, experiment_ids: list[str]) -> Iterator[LoggedModelRecord]:
        warn = self.warn
        for record in self.source.iter_logged_models(experiment_ids=experiment_ids):
            fitted = clean_record(record, warn=warn)
            metrics = _fit_metric_names(
                fitted.metrics,
                item=lambda record=record: f"logged model {_show(record.model_id)}",
                warn=warn,
            )
            yield fitted if metrics is fitted.metrics else replace(fitted, metrics=metrics)

    def iter_registered_models(self) -> Iterator[RegisteredModelRecord]:
        seen: set[str] = set()
        for record in self._clean(self.source.iter_registered_models()):
            if record.name in seen:
                self.warn(
                    f"registered model {_show(record.name)}: listed twice (after its name "
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
                    f"model version {_show(record.model_name)} v{record.version}: listed "
                    "twice (after its model's name was fitted for storage); the second is "
                    "left out"
                )
                continue
            seen.add(natural_key)
            yield record
