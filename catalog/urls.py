"""The catalogue's URLs. Deep links are part of the product: never rename a path."""

from django.urls import path

from catalog.views import home
from catalog.views.artifacts import urlpatterns as artifact_urlpatterns

app_name = "catalog"

urlpatterns = [
    path("", home.HomeView.as_view(), name="home"),
    *artifact_urlpatterns,
]
