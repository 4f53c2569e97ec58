"""Reads the CSV exports need beyond what their pages show."""

from __future__ import annotations

from django.db.models import Prefetch

from catalog.models import RegisteredModel

PRESENT_MODELS_ATTR = "present_models"


def present_models_prefetch() -> Prefetch:
    """Each experiment's present registered models (names only, by name), as a prefetch.

    The folder tables show a few "key models" per row from annotations; their export
    lists every one. Added to the export's queryset, this is one more query for all
    rows; the models land in ``experiment.present_models``.
    """
    return Prefetch(
        "registered_models",
        queryset=RegisteredModel.objects.filter(missing_since=None)
        .only("id", "name", "experiment")
        .order_by("name"),
        to_attr=PRESENT_MODELS_ATTR,
    )
