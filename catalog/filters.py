"""django-filter filter sets of the list pages: one ``<Model>FilterSet`` per list.

Filters on JSON fields (aliases, tags) use key lookups that both SQLite and PostgreSQL
support; the category filter matches the effective category (the admin's override wins).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Q, Subquery, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from catalog.models import (
    Category,
    ChangeEvent,
    Experiment,
    LoggedModel,
    ModelVersion,
    RegisteredModel,
    Run,
)
from catalog.selectors import RANKED_CATEGORIES, in_categories, parse_tag_query

PRESENCE_CHOICES = (("present", "Present"), ("missing", "Gone from MLflow"))
ARTIFACT_CHOICES = (
    ("present", "Artifacts present"),
    ("missing", "Artifacts missing"),
    ("unknown", "Unresolved source"),
)


# No honest name, id or tag filter is longer; NUL cannot be compared with a PostgreSQL
# text column (psycopg refuses the query: a 500).
MAX_FILTER_CHARS = 200
# The largest id a bigint primary key holds.
MAX_ROW_ID = 2**63 - 1


class BoundedFilterSet(django_filters.FilterSet):
    """A FilterSet whose query values are cut to ``MAX_FILTER_CHARS`` and lose NUL."""

    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            data = data.copy()
            for name in self.base_filters:
                values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
                cleaned = [
                    str(value).replace("\x00", "")[:MAX_FILTER_CHARS]
                    for value in values
                    if value is not None
                ]
                if hasattr(data, "setlist"):
                    data.setlist(name, cleaned)
                elif cleaned:
                    data[name] = cleaned[-1]
        super().__init__(data, *args, **kwargs)


def filter_by_tag(queryset, name, value):
    """``key`` (has the tag) or ``key=value`` (the tag has that value)."""
    parsed = parse_tag_query(value) if value else None
    if value and parsed is None:
        parsed = (value.strip(), None)
    if not parsed:
        return queryset
    key, tag_value = parsed
    # Cast: a bare KeyTextTransform keeps JSON lookups, which compare JSON, not text.
    rows = queryset.annotate(filter_tag_value=Cast(KeyTextTransform(key, "tags"), TextField()))
    if tag_value is None:
        return rows.filter(filter_tag_value__isnull=False)
    return rows.filter(filter_tag_value=tag_value)


class RegisteredModelFilterSet(BoundedFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name")
    category = django_filters.ChoiceFilter(
        choices=Category.choices, method="filter_category", label="Category"
    )
    # An id box rather than a select: a select would list every experiment.
    experiment = django_filters.CharFilter(
        field_name="experiment__experiment_id", label="Experiment ID"
    )
    alias = django_filters.CharFilter(method="filter_alias", label="Alias")
    tag = django_filters.CharFilter(method=filter_by_tag, label="Tag (key or key=value)")
    state = django_filters.ChoiceFilter(
        choices=PRESENCE_CHOICES, method="filter_state", label="In MLflow"
    )
    artifacts = django_filters.ChoiceFilter(
        choices=ARTIFACT_CHOICES, method="filter_artifacts", label="Artifacts"
    )

    class Meta:
        model = RegisteredModel
        fields = ("q", "category", "experiment", "alias", "tag", "state", "artifacts")

    def filter_category(self, queryset, name, value):
        return queryset.filter(Q(category_override=value) | Q(category_override="", category=value))

    def filter_alias(self, queryset, name, value):
        value = value.strip().lstrip("@")
        return queryset.filter(aliases__has_key=value) if value else queryset

    def filter_state(self, queryset, name, value):
        return queryset.filter(missing_since__isnull=(value == "present"))

    def filter_artifacts(self, queryset, name, value):
        # ``latest_artifacts_present`` is annotated by selectors.registered_model_rows.
        if value == "unknown":
            return queryset.filter(latest_artifacts_present__isnull=True)
        return queryset.filter(latest_artifacts_present=(value == "present"))


class ExperimentFilterSet(BoundedFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name")
    lifecycle_stage = django_filters.ChoiceFilter(
        choices=(("active", "Active"), ("deleted", "Deleted")), label="State"
    )

    class Meta:
        model = Experiment
        fields = ("q", "lifecycle_stage")


class RunFilterSet(BoundedFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name")
    status = django_filters.ChoiceFilter(
        choices=(
            ("FINISHED", "Finished"),
            ("RUNNING", "Running"),
            ("FAILED", "Failed"),
            ("KILLED", "Killed"),
            ("SCHEDULED", "Scheduled"),
        ),
        label="Status",
    )
    tag = django_filters.CharFilter(method=filter_by_tag, label="Tag (key or key=value)")

    class Meta:
        model = Run
        fields = ("q", "status", "tag")


# The leaderboard's category choice beyond the categories themselves: every category,
# preprocessing/utility models included (without a choice they are left out).
EVERY_CATEGORY = "all"


class LeaderboardFilterSet(BoundedFilterSet):
    """The ``/metrics/`` leaderboard's category filter (the effective category).

    No value: every category but preprocessing/utility (``selectors.RANKED_CATEGORIES``);
    ``all``: every category. The view reads the validated value from ``form`` and ranks
    with it (``categories_for``); the filter set's own queryset is not used.
    """

    category = django_filters.ChoiceFilter(
        choices=((EVERY_CATEGORY, "All, with preprocessing/utility"), *Category.choices),
        empty_label="All but preprocessing/utility",
        method="filter_category",
        label="Category",
    )

    class Meta:
        model = RegisteredModel
        fields = ("category",)

    def filter_category(self, queryset, name, value):
        categories = self.categories_for(value)
        if categories is None:
            return queryset
        return queryset.filter(in_categories(categories, prefix=""))

    @staticmethod
    def categories_for(value: str) -> tuple[str, ...] | None:
        """The categories ranked for a valid ``category`` value (None: every category)."""
        if value == EVERY_CATEGORY:
            return None
        if not value:
            return RANKED_CATEGORIES
        return (value,)


class DateOrDateTimeField(forms.Field):
    """A date (``2026-11-01``) or an ISO 8601 date and time (``2026-11-01T09:30:00Z``).

    A date and time without an offset is taken in the site's time zone.
    """

    default_error_messages = {"invalid": "Enter a date (YYYY-MM-DD) or an ISO 8601 date and time."}

    def to_python(self, value):
        text = (value or "").strip()
        if not text:
            return None
        try:
            moment = parse_datetime(text) if "T" in text or " " in text else None
            day = None if moment else parse_date(text)
        except ValueError:
            moment = day = None
        if moment is not None:
            return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        if day is not None:
            return day
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class DateOrDateTimeFilter(django_filters.Filter):
    field_class = DateOrDateTimeField


class ChangeEventFilterSet(BoundedFilterSet):
    """The ``/changes/`` timeline's filters; its feeds and CSV take the same parameters.

    ``experiment`` is an MLflow experiment id, ``model`` a registered model's exact name,
    ``sync`` a sync's number; ``since`` is a date or an ISO date and time (the home page
    links "since your last visit" with the moment), ``until`` a date (inclusive).
    ``run``, ``logged_model`` (MLflow ids) and ``version`` (a number, with ``model``)
    narrow to one entity's own events, as its page's history panel links them.
    Invalid values leave the form invalid: the view names them and ignores them.

    Entities are named by natural key but filtered by row: each name is looked up in a
    scalar subquery, so the events are read through the index that starts with that row
    (newest first), never through a join that could walk every event.
    """

    entity = django_filters.ChoiceFilter(
        field_name="entity_type", choices=ChangeEvent.Entity.choices, label="Entity"
    )
    kind = django_filters.ChoiceFilter(choices=ChangeEvent.Kind.choices, label="Kind")
    experiment = django_filters.CharFilter(method="filter_experiment", label="Experiment ID")
    model = django_filters.CharFilter(method="filter_model", label="Model name")
    version = django_filters.NumberFilter(
        method="filter_version", min_value=1, max_value=2**31 - 1, label="Version"
    )
    run = django_filters.CharFilter(method="filter_run", label="Run ID")
    logged_model = django_filters.CharFilter(method="filter_logged_model", label="Logged model")
    # Bounded: a number beyond the id column's range is refused, not sent to the database
    # (SQLite raises OverflowError on it: a 500); whole numbers only.
    sync = django_filters.NumberFilter(
        field_name="sync_run_id",
        min_value=1,
        max_value=MAX_ROW_ID,
        decimal_places=0,
        label="Sync",
    )
    since = DateOrDateTimeFilter(method="filter_since", label="From")
    until = django_filters.DateFilter(method="filter_until", label="To (date)")

    def valid_values(self) -> dict[str, str]:
        """The filters the request set to valid values, as the request spelled them.

        Refused values (an unknown kind, a date that is no date) are left out, as the
        filter set leaves them out of its query: links built from these (the feed,
        the reader's feed page) filter exactly as the page did.
        """
        if not self.is_bound:
            return {}
        self.form.is_valid()
        values = {}
        for name in self.base_filters:
            raw = self.data.get(name)
            if raw in (None, "") or name in self.form.errors:
                continue
            values[name] = raw
        return values

    class Meta:
        model = ChangeEvent
        fields = (
            "entity",
            "kind",
            "experiment",
            "model",
            "version",
            "run",
            "logged_model",
            "sync",
            "since",
            "until",
        )

    def filter_experiment(self, queryset, name, value):
        rows = Experiment.objects.filter(experiment_id=value).values("pk")[:1]
        return queryset.filter(experiment_id=Subquery(rows))

    def filter_model(self, queryset, name, value):
        rows = RegisteredModel.objects.filter(name=value).values("pk")[:1]
        return queryset.filter(registered_model_id=Subquery(rows))

    def filter_version(self, queryset, name, value):
        # A version number means nothing without its model: ignored without one.
        model = self.form.cleaned_data.get("model")
        if not model:
            return queryset
        rows = ModelVersion.objects.filter(registered_model__name=model, version=int(value))
        return queryset.filter(
            entity_type=ChangeEvent.Entity.MODEL_VERSION,
            object_pk=Subquery(rows.values("pk")[:1]),
        )

    def filter_run(self, queryset, name, value):
        rows = Run.objects.filter(run_id=value).values("pk")[:1]
        return queryset.filter(entity_type=ChangeEvent.Entity.RUN, object_pk=Subquery(rows))

    def filter_logged_model(self, queryset, name, value):
        rows = LoggedModel.objects.filter(model_id=value).values("pk")[:1]
        return queryset.filter(
            entity_type=ChangeEvent.Entity.LOGGED_MODEL, object_pk=Subquery(rows)
        )

    # A date bound becomes a key bound. Events are written in sync order, each stamped
    # with its sync's start, so the timeline's key order is its time order: the events
    # since a moment are those from the first one stamped at or after it. One indexed
    # read (the time index) finds that key; the page then reads a key range of whatever
    # index its other filters lead (``entity_type, -id`` ...), as an unfiltered page
    # does, where a range on the time column would make it test every row's date.
    def filter_since(self, queryset, name, value):
        start = value if isinstance(value, datetime) else start_of_day(value)
        first = first_event_at_or_after(start)
        return queryset.none() if first is None else queryset.filter(pk__gte=first)

    def filter_until(self, queryset, name, value):
        first_after = first_event_at_or_after(start_of_day(value + timedelta(days=1)))
        return queryset if first_after is None else queryset.filter(pk__lt=first_after)


def first_event_at_or_after(moment: datetime) -> int | None:
    """The key of the earliest event stamped at or after ``moment``, if any."""
    events = ChangeEvent.objects.filter(occurred_at__gte=moment).order_by("occurred_at", "pk")
    return events.values_list("pk", flat=True).first()


def start_of_day(day: date) -> datetime:
    """Midnight of ``day`` in the site's time zone, as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min))
