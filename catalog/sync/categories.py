"""Infer a registered model's category from its tags, flavors and name.

Order of evidence: a ``category`` or ``task`` tag (on the model, then on its latest
version), then the flavors of the latest version's MLmodel, then words in the name.
The admin's ``category_override`` wins over all of it, but that is applied on read
(``RegisteredModel.effective_category``); the sync only writes ``category``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

ANOMALY = "anomaly_detection"
CLASSIFICATION = "classification"
FORECASTING = "forecasting"
PREPROCESSING = "preprocessing"
OTHER = "other"

# Checked in this order: the first rule with a matching word wins.
_WORD_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (ANOMALY, ("anomal", "outlier", "isolation", "oneclass", "novelty", "autoencoder")),
    (
        PREPROCESSING,
        (
            "preprocess",
            "scaler",
            "encoder",
            "transformer",
            "pca",
            "imputer",
            "utility",
            "feature_pipeline",
            "normaliz",
        ),
    ),
    (FORECASTING, ("forecast", "prophet", "arima", "time_series", "timeseries")),
    (
        CLASSIFICATION,
        ("classif", "svc", "randomforest", "random_forest", "logistic", "failure_predict"),
    ),
)
_FORECASTING_FLAVORS = {"prophet", "statsmodels", "pmdarima"}


def infer_category(
    *,
    name: str,
    tags: Mapping[str, str],
    version_tags: Mapping[str, str] | None = None,
    flavors: Iterable[str] = (),
) -> str:
    """The category value (a ``catalog.models.Category`` value) for a registered model."""
    for source in (tags, version_tags or {}):
        for tag in ("category", "task"):
            category = category_from_words(str(source.get(tag, "")))
            if category:
                return category
    if _FORECASTING_FLAVORS.intersection(flavors):
        return FORECASTING
    return category_from_words(name) or OTHER


def category_from_words(text: str) -> str | None:
    """A category named or described by ``text`` ("Anomaly detection", "classifier" ...)."""
    normal = text.strip().lower().replace("-", "_").replace(" ", "_").replace("/", "_")
    if not normal:
        return None
    if normal in {ANOMALY, CLASSIFICATION, FORECASTING, PREPROCESSING, OTHER}:
        return normal
    for category, words in _WORD_RULES:
        if any(word in normal for word in words):
            return category
    return None
