"""The catalogue's URLs. Deep links are part of the product: never rename a path.

Registered model names may hold "/" in MLflow, so model routes take a ``path``; the
version route is listed before the model route so ``.../versions/<n>/`` wins.
"""

from django.urls import path

from catalog.views import audit, charts, experiments, exports, health, home, models, quality, runs
from catalog.views import search as search_views
from catalog.views.artifacts import urlpatterns as artifact_urlpatterns

app_name = "catalog"

urlpatterns = [
    path("", home.HomeView.as_view(), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("experiments/", experiments.ExperimentListView.as_view(), name="experiment_list"),
    path(
        "experiments/<str:experiment_id>/",
        experiments.ExperimentDetailView.as_view(),
        name="experiment_detail",
    ),
    path("runs/<str:run_id>/", runs.RunDetailView.as_view(), name="run_detail"),
    path(
        "logged-models/<str:model_id>/",
        runs.LoggedModelDetailView.as_view(),
        name="logged_model_detail",
    ),
    path("models/", models.ModelListView.as_view(), name="model_list"),
    path(
        "models/<path:name>/versions/<int:version>/",
        models.ModelVersionDetailView.as_view(),
        name="model_version_detail",
    ),
    path("models/<path:name>/", models.ModelDetailView.as_view(), name="model_detail"),
    path("categories/", models.CategoryListView.as_view(), name="category_list"),
    path("metrics/", quality.MetricsView.as_view(), name="metrics"),
    path("audit/", audit.AuditView.as_view(), name="audit"),
    path("search/", search_views.SearchView.as_view(), name="search"),
    path("export/mapping.md", exports.mapping_markdown, name="mapping_export"),
    path(
        "charts/experiments/<str:experiment_id>/runs.png",
        charts.experiment_runs_chart,
        name="chart_experiment_runs",
    ),
    path(
        "charts/runs/<str:run_id>/history.png", charts.run_history_chart, name="chart_run_history"
    ),
    path(
        "charts/models/<path:name>/versions.png",
        charts.model_versions_chart,
        name="chart_model_versions",
    ),
    path("charts/leaderboard.png", charts.leaderboard_chart, name="chart_leaderboard"),
    *artifact_urlpatterns,
]
