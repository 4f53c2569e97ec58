"""Reads of the search page."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import (
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
    RegisteredModel,
    Run,
)
from catalog.selectors.common import (
    SEARCH_LIMIT,
)


@dataclass
class SearchResults:
    query: str
    experiments: list[Experiment]
    runs: list[Run]
    models: list[RegisteredModel]
    artifacts: list[Artifact]
    artifact_mode: str = "all"

    @property
    def total(self) -> int:
        return len(self.experiments) + len(self.runs) + len(self.models) + len(self.artifacts)


def parse_tag_query(query: str) -> tuple[str, str | None] | None:
    """``key=value`` or ``key:value`` -> (key, value); ``key=`` -> (key, None); else None."""
    for separator in ("=", ":"):
        if separator in query:
            key, _, value = query.partition(separator)
            key, value = key.strip(), value.strip()
            return (key, value or None) if key else None
    return None


def _filter_by_tag(queryset: QuerySet, *, key: str, value: str | None) -> QuerySet:
    # KeyTextTransform takes the key literally (a tag key may hold "__" or dots).
    rows = queryset.annotate(tag_value=Cast(KeyTextTransform(key, "tags"), TextField()))
    return (
        rows.filter(tag_value=value) if value is not None else rows.filter(tag_value__isnull=False)
    )


# Up to this many catalogued objects, any search also scans artifact keys (fast enough);
# above it, only queries that look like a file or path ("roc_curve.pdf", "plots/") do,
# so a plain word stays a fast search on a catalogue of millions of objects.
DEFAULT_ARTIFACT_FULL_SCAN_MAX = 200_000


def _artifact_search_mode(query: str) -> str:
    """ "all", "paths" (only a path-like query scans keys) or "none", from the catalogue size."""
    if "." in query or "/" in query:
        return "all"
    limit = getattr(
        settings, "CATALOG_SEARCH_FULL_SCAN_MAX_ARTIFACTS", DEFAULT_ARTIFACT_FULL_SCAN_MAX
    )
    # The synced per-experiment totals: no COUNT over the artifact table.
    total = Experiment.objects.aggregate(total=Coalesce(Sum("artifact_count"), 0))["total"]
    return "all" if total <= limit else "paths"


def search(*, query: str, limit: int = SEARCH_LIMIT) -> SearchResults:
    """Experiments, runs, models and artifacts matching ``query`` by name, id, key or tag.

    ``key=value`` (or ``key:value``) searches tags instead of names; runs also match by
    run id prefix. Each kind is one query of at most ``limit`` rows. Artifacts match
    anywhere in their key; on a very large catalogue only for path-like queries (see
    ``DEFAULT_ARTIFACT_FULL_SCAN_MAX``), reported as ``artifact_mode``.
    """
    query = query.strip()
    if not query:
        return SearchResults(query="", experiments=[], runs=[], models=[], artifacts=[])
    experiments = Experiment.objects.all()
    runs = Run.objects.select_related("experiment")
    models = RegisteredModel.objects.select_related("experiment")
    tag = parse_tag_query(query)
    artifacts: list[Artifact] = []
    if tag is not None:
        key, value = tag
        experiments, runs, models = (
            _filter_by_tag(rows, key=key, value=value) for rows in (experiments, runs, models)
        )
        artifact_mode = "none"
    else:
        experiments = experiments.filter(Q(name__icontains=query) | Q(experiment_id=query))
        runs = runs.filter(Q(name__icontains=query) | Q(run_id__startswith=query.lower()))
        models = models.filter(name__icontains=query)
        artifact_mode = _artifact_search_mode(query)
        if artifact_mode == "all":
            artifacts = list(
                Artifact.objects.filter(missing_since=None, key__icontains=query)
                .select_related("run", "logged_model")
                .order_by()[:limit]
            )
    return SearchResults(
        query=query,
        experiments=list(experiments[:limit]),
        runs=list(runs[:limit]),
        models=list(models[:limit]),
        artifacts=artifacts,
        artifact_mode=artifact_mode,
    )
