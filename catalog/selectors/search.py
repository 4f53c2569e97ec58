"""Reads of the search page: every word of the query, in names, ids, tags and params.

A query is split into words (a "quoted phrase" is one word). Each word must match
somewhere in a row, so ``isolation forest`` finds ``xjtu_anomaly_isolation_forest``
and a run tagged ``algo=IsolationForest``; the order of the words does not matter.
Where a word is looked for:

* experiments: name, id (exactly), tag keys and values;
* runs: name, run id (prefix), tag and param keys and values;
* registered models: name, tag keys and values, its versions' aliases and tags
  (``@champion`` looks at aliases only);
* artifacts: the key (see ``DEFAULT_ARTIFACT_FULL_SCAN_MAX`` for large catalogues).

A word ``key=value`` (or ``key:value``) matches a tag or param ``key`` whose value is
``value`` ignoring case; ``key=`` (or ``key:``) any row having that tag or param.
Matching ignores case everywhere. Tags and params are searched as the text of their
JSON (on PostgreSQL backed by trigram indexes, migration 0008), so a word is looked
for as JSON writes it: quotes and backslashes escaped, and on SQLite non-ASCII
characters as ``\\uXXXX``, which is how SQLite's rows hold them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import (
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    TextField,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from catalog.models import (
    Artifact,
    Experiment,
    ModelVersion,
    RegisteredModel,
    Run,
)
from catalog.selectors.common import (
    SEARCH_LIMIT,
)

# More words than this are not searched (each costs a condition on every kind); the
# page says which were left out.
MAX_SEARCH_TERMS = 8
_WORD = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class SearchTerm:
    """One word of a query: plain text, or a ``key=value`` pair (``value`` None: any)."""

    text: str
    key: str | None = None
    value: str | None = None

    @property
    def is_pair(self) -> bool:
        return self.key is not None

    @property
    def is_alias(self) -> bool:
        return self.key is None and self.text.startswith("@") and len(self.text) > 1


@dataclass
class SearchResults:
    query: str
    experiments: list[Experiment]
    runs: list[Run]
    models: list[RegisteredModel]
    artifacts: list[Artifact]
    artifact_mode: str = "all"
    terms: list[SearchTerm] = field(default_factory=list)
    ignored_terms: list[str] = field(default_factory=list)
    limit: int = SEARCH_LIMIT

    @property
    def total(self) -> int:
        return len(self.experiments) + len(self.runs) + len(self.models) + len(self.artifacts)

    @property
    def capped(self) -> bool:
        """Whether some kind showed its first ``limit`` rows only."""
        kinds = (self.experiments, self.runs, self.models, self.artifacts)
        return any(len(rows) >= self.limit for rows in kinds)


def parse_tag_query(query: str) -> tuple[str, str | None] | None:
    """``key=value`` or ``key:value`` -> (key, value); ``key=`` -> (key, None); else None."""
    for separator in ("=", ":"):
        if separator in query:
            key, _, value = query.partition(separator)
            key, value = key.strip(), value.strip()
            return (key, value or None) if key else None
    return None


def parse_search_terms(query: str) -> tuple[list[SearchTerm], list[str]]:
    """The query's words as terms (at most ``MAX_SEARCH_TERMS``), and the words left out."""
    words = [
        match.group(1) if match.group(1) is not None else match.group(2)
        for match in _WORD.finditer(query)
    ]
    words = [word.strip() for word in words if word.strip()]
    terms = []
    for word in words[:MAX_SEARCH_TERMS]:
        pair = parse_tag_query(word)
        if pair is None:
            terms.append(SearchTerm(text=word))
        else:
            terms.append(SearchTerm(text=word, key=pair[0], value=pair[1]))
    return terms, words[MAX_SEARCH_TERMS:]


def _json_string(text: str) -> str:
    """``text`` as a JSON string (quotes included) as this database's JSON text holds it."""
    return json.dumps(text, ensure_ascii=connection.vendor != "postgresql")


def _json_fragment(text: str) -> str:
    """``text`` as it appears inside a JSON string stored by this database."""
    return _json_string(text)[1:-1]


def _searches_json(text: str) -> bool:
    # A word of punctuation only (":", ",", "{") would match the JSON syntax of every row.
    return any(character.isalnum() for character in text)


def _json_text(field_name: str) -> Cast:
    # The exact expression the trigram indexes of migration 0008 are built on.
    return Cast(field_name, TextField())


def _json_contains(field_name: str, text: str) -> Q:
    if not _searches_json(text):
        return Q(pk__in=[])
    return Q(**{f"{field_name}_text__icontains": _json_fragment(text)})


def _pair_condition(queryset: QuerySet, term: SearchTerm, fields: tuple[str, ...], index: int):
    """(queryset with aliases, Q): a ``key=value`` term against the JSON ``fields``.

    Each field's condition is the exact test (the key's value, ignoring case) AND the
    JSON text holding ``"value"`` (or ``"key"``), which implies nothing more but is what
    the trigram indexes can answer: the exact test then runs on those rows only.
    """
    condition = Q(pk__in=[])
    needle = _json_string(term.key if term.value is None else term.value)
    for field_name in fields:
        # KeyTextTransform takes the key literally (a tag key may hold "__" or dots).
        alias = f"{field_name}_pair_{index}"
        queryset = queryset.alias(
            **{alias: Cast(KeyTextTransform(term.key, field_name), TextField())}
        )
        if term.value is None:
            exact = Q(**{f"{alias}__isnull": False})
        else:
            exact = Q(**{f"{alias}__iexact": term.value})
        condition |= Q(**{f"{field_name}_text__icontains": needle}) & exact
    return queryset, condition


def _experiments(terms: list[SearchTerm]) -> QuerySet[Experiment]:
    rows = Experiment.objects.alias(tags_text=_json_text("tags"))
    for index, term in enumerate(terms):
        if term.is_pair:
            rows, condition = _pair_condition(rows, term, ("tags",), index)
        elif term.is_alias:
            condition = Q(pk__in=[])  # only models have aliases
        else:
            text = term.text
            condition = (
                Q(name__icontains=text) | Q(experiment_id=text) | _json_contains("tags", text)
            )
        rows = rows.filter(condition)
    return rows


_HEX = re.compile(r"[0-9a-f]+")


def _run_id_prefix(text: str) -> Q:
    """Runs whose id starts with ``text``, as a range of the run id's unique index.

    ``startswith`` is a ``LIKE 'abc%'``, which PostgreSQL serves from a b-tree only under
    the C collation; a range is served under any. Run ids are lowercase hex, so every id
    starting with ``abc`` lies in [``abc``, ``abcg``) and no other id does.
    """
    prefix = text.lower()
    if not _HEX.fullmatch(prefix):
        return Q(pk__in=[])
    return Q(run_id__gte=prefix, run_id__lt=prefix + "g")


def _runs(terms: list[SearchTerm]) -> QuerySet[Run]:
    rows = Run.objects.select_related("experiment").alias(
        tags_text=_json_text("tags"), params_text=_json_text("params")
    )
    for index, term in enumerate(terms):
        if term.is_pair:
            rows, condition = _pair_condition(rows, term, ("tags", "params"), index)
        elif term.is_alias:
            condition = Q(pk__in=[])  # only models have aliases
        else:
            text = term.text
            condition = (
                Q(name__icontains=text)
                | _run_id_prefix(text)
                | _json_contains("tags", text)
                | _json_contains("params", text)
            )
        rows = rows.filter(condition)
    return rows


def _first_runs(rows: QuerySet[Run], *, limit: int) -> list[Run]:
    """The first ``limit`` matching runs the database finds, newest first among them.

    Unordered on purpose: ordered, a word in the tags of 10,000 of 100,000 runs made
    PostgreSQL test every run and sort the matches (0.5 s under load); unordered it
    stops at the ``limit``-th match (under 1 ms), and a rare word is still answered by
    the trigram indexes. The page says when a kind shows only its first rows.
    """
    runs = list(rows.order_by()[:limit])
    runs.sort(key=lambda run: run.start_time.timestamp() if run.start_time else 0, reverse=True)
    return runs


def _version_match(term: SearchTerm) -> Exists:
    """Whether a version of the model has an alias (or, unless ``@alias``, a tag) matching."""
    versions = ModelVersion.objects.filter(registered_model=OuterRef("pk")).alias(
        aliases_text=_json_text("aliases"), tags_text=_json_text("tags")
    )
    if term.is_pair:
        versions, condition = _pair_condition(versions, term, ("tags",), 0)
    elif term.is_alias:
        condition = _json_contains("aliases", term.text[1:])
    else:
        condition = _json_contains("aliases", term.text) | _json_contains("tags", term.text)
    return Exists(versions.filter(condition))


def _models(terms: list[SearchTerm]) -> QuerySet[RegisteredModel]:
    rows = RegisteredModel.objects.select_related("experiment").alias(tags_text=_json_text("tags"))
    for index, term in enumerate(terms):
        if term.is_pair:
            rows, condition = _pair_condition(rows, term, ("tags",), index)
            condition |= _version_match(term)
        elif term.is_alias:
            condition = _version_match(term)
        else:
            condition = (
                Q(name__icontains=term.text)
                | _json_contains("tags", term.text)
                | _version_match(term)
            )
        rows = rows.filter(condition)
    return rows


# Up to this many catalogued objects, any search also scans artifact keys (fast enough);
# above it, only queries that look like a file or path ("roc_curve.pdf", "plots/") do,
# so a plain word stays a fast search on a catalogue of millions of objects.
DEFAULT_ARTIFACT_FULL_SCAN_MAX = 200_000


def _artifact_search_mode(words: list[str]) -> str:
    """ "all", "paths" (only a path-like query scans keys) or "none", from the catalogue size."""
    if not words:
        return "none"
    if any("." in word or "/" in word for word in words):
        return "all"
    limit = getattr(
        settings, "CATALOG_SEARCH_FULL_SCAN_MAX_ARTIFACTS", DEFAULT_ARTIFACT_FULL_SCAN_MAX
    )
    # The synced per-experiment totals: no COUNT over the artifact table.
    total = Experiment.objects.aggregate(total=Coalesce(Sum("artifact_count"), 0))["total"]
    return "all" if total <= limit else "paths"


def _artifacts(words: list[str], *, limit: int) -> list[Artifact]:
    rows = Artifact.objects.filter(missing_since=None)
    for word in words:
        rows = rows.filter(key__icontains=word)
    return list(rows.select_related("run", "logged_model").order_by()[:limit])


def search(*, query: str, limit: int = SEARCH_LIMIT) -> SearchResults:
    """Experiments, runs, models and artifacts matching every word of ``query``.

    See the module doc for where each word is looked for. Each kind is one query of at
    most ``limit`` rows. Artifacts match by key, for plain words only; on a very large
    catalogue only for path-like queries, reported as ``artifact_mode``.
    """
    query = query.strip()
    terms, ignored = parse_search_terms(query)
    if not terms:
        return SearchResults(query="", experiments=[], runs=[], models=[], artifacts=[])
    key_words = [term.text for term in terms if not term.is_pair]
    artifact_mode = _artifact_search_mode(key_words)
    artifacts = _artifacts(key_words, limit=limit) if artifact_mode == "all" else []
    return SearchResults(
        query=query,
        experiments=list(_experiments(terms)[:limit]),
        runs=_first_runs(_runs(terms), limit=limit),
        models=list(_models(terms)[:limit]),
        artifacts=artifacts,
        artifact_mode=artifact_mode,
        terms=terms,
        ignored_terms=ignored,
        limit=limit,
    )


@dataclass(frozen=True)
class SearchExample:
    """A query the empty search page offers as a link, and what it shows."""

    query: str
    finds: str


def search_examples() -> list[SearchExample]:
    """Example queries for the empty search page, taken from this catalogue when possible.

    Three small queries (a run, a model with an alias, an experiment), each by an index
    or over the small tables only.
    """
    examples = [
        SearchExample("isolation forest", "every word, in any order, in names, tags or params"),
    ]
    run = Run.objects.only("run_id", "params", "tags", "artifact_uri").order_by("pk").first()
    pair = _example_pair(run)
    if pair:
        examples.append(SearchExample(pair, "a tag or param with that value, case ignored"))
    model = (
        RegisteredModel.objects.exclude(aliases={}).only("name", "aliases").order_by("name").first()
    )
    if model is not None:
        alias = sorted(model.aliases)[0]
        examples.append(SearchExample(f"@{alias}", "models with that alias"))
        examples.append(SearchExample(f"models:/{model.name}@{alias}", "the version it points at"))
    experiment = (
        Experiment.objects.filter(artifact_location__startswith="s3://")
        .only("artifact_location")
        .order_by("pk")
        .first()
    )
    if experiment is not None:
        location = experiment.artifact_location.rstrip("/") + "/"
        examples.append(SearchExample(location, "an S3 folder: its experiment"))
    if run is not None:
        if run.artifact_uri.startswith("s3://"):
            examples.append(SearchExample(run.artifact_uri, "a run's artifacts"))
        examples.append(SearchExample(run.run_id, "a full run id: that run"))
    examples.append(SearchExample("plots/", "files by path or name"))
    return examples


def _example_pair(run: Run | None) -> str:
    if run is None:
        return ""
    for values in (run.params, run.tags):
        for key, value in sorted((values or {}).items()):
            text = f"{key}={value}"
            if not key.startswith("mlflow.") and " " not in text and len(text) <= 60:
                return text
    return ""
