"""Single sign-on behind an authenticating proxy (``smartmaint_site/remote_user.py``).

The settings module adds the middleware and the backend only when
``CATALOG_REMOTE_USER_HEADER`` is set; these tests set them as it would.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import override_settings

from smartmaint_site.remote_user import EDITORS_GROUP, meta_key

pytestmark = pytest.mark.django_db

HEADER = "X-Forwarded-User"
GROUPS_HEADER = "X-Forwarded-Groups"


def with_remote_user(**extra):
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(
        middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "smartmaint_site.remote_user.ProxyRemoteUserMiddleware",
    )
    backends = list(settings.AUTHENTICATION_BACKENDS)
    backends.insert(1, "smartmaint_site.remote_user.ProxyRemoteUserBackend")
    return override_settings(
        MIDDLEWARE=middleware,
        AUTHENTICATION_BACKENDS=backends,
        CATALOG_REMOTE_USER_HEADER=HEADER,
        **extra,
    )


def test_meta_key_is_djangos_spelling_of_the_header():
    assert meta_key("X-Forwarded-User") == "HTTP_X_FORWARDED_USER"


@with_remote_user()
def test_a_header_from_the_proxy_signs_in_a_new_user(client):
    response = client.get("/", headers={HEADER: "ada.lovelace"})

    assert response.status_code == 200
    user = User.objects.get(username="ada.lovelace")
    assert not user.is_staff and not user.has_usable_password()
    assert b"ada.lovelace" in response.content


@with_remote_user()
def test_without_the_header_the_reader_is_sent_to_sign_in(client):
    response = client.get("/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@with_remote_user()
def test_an_empty_or_absurd_header_signs_nobody_in(client):
    assert client.get("/", headers={HEADER: "   "}).status_code == 302
    assert client.get("/", headers={HEADER: "x" * 5000}).status_code == 302
    assert not User.objects.exists()


@with_remote_user()
def test_when_the_proxy_stops_vouching_the_session_ends(client):
    assert client.get("/", headers={HEADER: "grace"}).status_code == 200

    assert client.get("/").status_code == 302


@with_remote_user()
def test_a_local_account_keeps_working_beside_the_proxy(client, django_user_model):
    django_user_model.objects.create_user("breakglass", password="a-long-passphrase-9")
    user = django_user_model.objects.get(username="breakglass")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")

    assert client.get("/").status_code == 200


@with_remote_user(
    CATALOG_REMOTE_GROUPS_HEADER=GROUPS_HEADER, CATALOG_REMOTE_STAFF_GROUPS=["ml-leads"]
)
def test_staff_and_editing_rights_come_from_the_groups_header(client):
    response = client.get("/admin/", headers={HEADER: "lin", GROUPS_HEADER: "readers, ml-leads"})

    assert response.status_code == 200
    user = User.objects.get(username="lin")
    assert user.is_staff
    assert user.groups.filter(name=EDITORS_GROUP).exists()
    assert user.has_perm("catalog.change_registeredmodel")
    assert not user.has_perm("catalog.delete_registeredmodel")

    client.logout()
    client.get("/", headers={HEADER: "lin", GROUPS_HEADER: "readers"})
    user = User.objects.get(username="lin")
    assert not user.is_staff and not user.groups.exists()


def test_the_header_is_ignored_when_the_feature_is_off(client):
    assert not settings.CATALOG_REMOTE_USER_HEADER

    response = client.get("/", headers={HEADER: "mallory"})

    assert response.status_code == 302
    assert not User.objects.filter(username="mallory").exists()
