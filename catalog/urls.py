"""The catalogue's URLs. Deep links are part of the product: never rename a path.

Registered model names may hold "/" in MLflow, so model routes take a ``path``; the
version route is listed before the model route so ``.../versions/<n>/`` wins. Links to
them are built by ``catalog.model_urls`` (the name percent-encoded as one segment, "/"
included), never by ``reverse()`` with the raw name: browsers would resolve its "."
and ".." segments away.

HTML pages and the mapping export go through ``cached_page`` (``catalog.pagecache``):
served again while the data version is unchanged. Not ``/healthz`` (it reports the live
database), not the monitoring metrics (read live), not the charts (cached by their
numbers; they answer conditional GETs by the digest of their bytes, see
``catalog.conditional``) nor CSV exports (streamed, skipped by the page cache itself),
nor the change feeds and the reader's feed page (each holds a reader's own key).
"""

from django.urls import path

from catalog.conditional import conditional_by_content
from catalog.pagecache import cached_page
from catalog.views import (
    audit,
    changes,
    charts,
    experiments,
    exports,
    feeds,
    health,
    home,
    models,
    monitoring,
    quality,
    runs,
)
from catalog.views import search as search_views
from catalog.views.artifacts import urlpatterns as artifact_urlpatterns

app_name = "catalog"

urlpatterns = [
    path("", cached_page(home.HomeView.as_view()), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("monitoring/metrics", monitoring.metrics, name="monitoring_metrics"),
    path(
        "experiments/",
        cached_page(experiments.ExperimentListView.as_view()),
        name="experiment_list",
    ),
    path(
        "experiments/<str:experiment_id>/",
        cached_page(experiments.ExperimentDetailView.as_view()),
        name="experiment_detail",
    ),
    path("runs/<str:run_id>/", cached_page(runs.RunDetailView.as_view()), name="run_detail"),
    path(
        "logged-models/<str:model_id>/",
        cached_page(runs.LoggedModelDetailView.as_view()),
        name="logged_model_detail",
    ),
    path("models/", cached_page(models.ModelListView.as_view()), name="model_list"),
    path(
        "models/<path:name>/versions/<int:version>/",
        cached_page(models.ModelVersionDetailView.as_view()),
        name="model_version_detail",
    ),
    path("models/<path:name>/", cached_page(models.ModelDetailView.as_view()), name="model_detail"),
    path("categories/", cached_page(models.CategoryListView.as_view()), name="category_list"),
    path("metrics/", cached_page(quality.MetricsView.as_view()), name="metrics"),
    path("audit/", cached_page(audit.AuditView.as_view()), name="audit"),
    path(
        "audit/orphans/",
        cached_page(audit.OrphanObjectsView.as_view()),
        name="orphan_objects",
    ),
    path(
        "audit/orphans/<int:pk>/download",
        audit.orphan_download,
        name="orphan_download",
    ),
    path("changes/", cached_page(changes.ChangeTimelineView.as_view()), name="changes"),
    path("search/", cached_page(search_views.SearchView.as_view()), name="search"),
    path("export/mapping.md", cached_page(exports.mapping_markdown), name="mapping_export"),
    path(
        "charts/experiments/<str:experiment_id>/runs.png",
        conditional_by_content(charts.experiment_runs_chart),
        name="chart_experiment_runs",
    ),
    path(
        "charts/runs/<str:run_id>/history.png",
        conditional_by_content(charts.run_history_chart),
        name="chart_run_history",
    ),
    path(
        "charts/models/<path:name>/versions.png",
        conditional_by_content(charts.model_versions_chart),
        name="chart_model_versions",
    ),
    path(
        "charts/leaderboard.png",
        conditional_by_content(charts.leaderboard_chart),
        name="chart_leaderboard",
    ),
    path("changes/feed/<str:key>/", feeds.change_feed, name="change_feed"),
    path("account/feed/", feeds.feed_account, name="feed_account"),
    *artifact_urlpatterns,
]
