"""Reads of the categories page."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import (
    Case,
    Count,
    IntegerField,
    QuerySet,
    Value,
    When,
)

from catalog.models import (
    Category,
    RegisteredModel,
)
from catalog.selectors.common import (
    effective_category_expression,
)

CATEGORY_MODELS_SHOWN = 50
# What the categories page and its folder links need: no descriptions, tags or JSON.
CATEGORY_MODEL_FIELDS = (
    "name",
    "category",
    "category_override",
    "experiment__experiment_id",
    "experiment__name",
    "experiment__artifact_location",
)


@dataclass
class CategoryGroup:
    value: str
    label: str
    count: int
    models: list[RegisteredModel] = field(default_factory=list)

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.models))


def category_groups() -> list[CategoryGroup]:
    """Present registered models grouped by effective category, as the seed groups them.

    One count query plus one bounded query per category (a fixed, small enum).
    """
    present = RegisteredModel.objects.filter(missing_since=None).annotate(
        effective_category_value=effective_category_expression()
    )
    counts = dict(
        present.values("effective_category_value")
        .annotate(n=Count("id"))
        .values_list("effective_category_value", "n")
    )
    groups = []
    for category in Category:
        if not counts.get(category.value):
            continue
        models = list(
            present.filter(effective_category_value=category.value)
            .select_related("experiment")
            .only(*CATEGORY_MODEL_FIELDS)
            .order_by("name")[:CATEGORY_MODELS_SHOWN]
        )
        groups.append(
            CategoryGroup(
                value=category.value,
                label=category.label,
                count=counts[category.value],
                models=models,
            )
        )
    return groups


def category_model_rows() -> QuerySet[RegisteredModel]:
    """Every present registered model, grouped as the categories page groups them.

    For the page's CSV export: ordered by category (the page's order), then name, with
    ``effective_category_value`` annotated and the experiment joined.
    """
    category_order = Case(
        *(When(effective_category_value=c.value, then=Value(i)) for i, c in enumerate(Category)),
        default=Value(len(Category)),
        output_field=IntegerField(),
    )
    return (
        RegisteredModel.objects.filter(missing_since=None)
        .annotate(effective_category_value=effective_category_expression())
        .select_related("experiment")
        .only(*CATEGORY_MODEL_FIELDS, "latest_version", "aliases")
        .order_by(category_order, "name")
    )
