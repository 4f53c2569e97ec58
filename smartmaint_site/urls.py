"""Top-level URLs: the catalogue, the admin, login/logout, and the browser's favicon.

Errors: the 404 page names what was not found and offers a search
(``catalog.views.errors``); 400, 403 and 500 are Django's views with the templates in
``templates/`` (the 400 and 500 pages render without a request, so without the database).
"""

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

handler404 = "catalog.views.errors.page_not_found"
