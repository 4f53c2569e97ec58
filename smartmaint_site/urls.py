"""Top-level URLs: the catalogue, the admin, login/logout, and the browser's favicon."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from catalog.views.accounts import LogoutWithMessageView, favicon

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        login_not_required(auth_views.LoginView.as_view()),
        name="login",
    ),
    path("accounts/logout/", LogoutWithMessageView.as_view(), name="logout"),
    path("favicon.ico", favicon, name="favicon"),
    path("", include("catalog.urls")),
]
