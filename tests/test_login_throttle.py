"""The login throttle (django-axes): lockout by user name and address, its page, clearing it."""

from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "reader-pass-123"  # the ``user`` fixture's
HERE, ELSEWHERE = "192.0.2.10", "192.0.2.99"
LOCKED_MESSAGE = "Too many failed logins for this user name from your address"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every failed login of a known user hashes a password: the default costs ~0.5 s."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(client, username: str, password: str, *, address: str = HERE, **extra):
    return client.post(
        reverse("login"),
        {"username": username, "password": password, "next": "/"},
        REMOTE_ADDR=address,
        **extra,
    )


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, times: int, *, username: str = "reader", address: str = HERE, **extra):
    for _ in range(times):
        log_in(client, username, "wrong", address=address, **extra)
    assert not logged_in(client)


def test_ten_wrong_passwords_then_the_right_one_is_refused_with_the_message(client, user):
    fail(client, 10)
    response = log_in(client, "reader", PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)
    body = response.content.decode()
    assert LOCKED_MESSAGE in body
    assert "locked for 15 minutes" in body
    assert response["Retry-After"] == str(15 * 60)
    # The site's own login page (its form, its stylesheet), under the site's CSP.
    assert 'class="login-form"' in body and 'name="username"' in body and 'value="reader"' in body
    assert not re.search(r"<[^>]*\sstyle=", body)
    assert not re.search(r"<script(?![^>]*\ssrc=)", body)
    assert "style-src 'self'" in response["Content-Security-Policy"]
    # Still locked out for the pages.
    assert client.get(reverse("catalog:home")).status_code == 302


def test_the_lockout_starts_at_the_limit_not_before(client, user):
    fail(client, 4)
    response = log_in(client, "reader", "wrong")  # the fifth
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content.decode()


def test_a_wrong_password_below_the_limit_shows_the_usual_error(client, user):
    response = log_in(client, "reader", "wrong")
    assert response.status_code == 200
    assert LOCKED_MESSAGE not in response.content.decode()


def test_another_user_and_another_address_are_not_locked_out(client, user, staff_user):
    fail(client, 10)
    assert log_in(client, "lead", "lead-pass-123").status_code == 302
    assert logged_in(client)
    client.logout()
    assert log_in(client, "reader", PASSWORD, address=ELSEWHERE).status_code == 302
    assert logged_in(client)


def test_axes_reset_clears_the_lockout(client, user):
    fail(client, 10)
    assert log_in(client, "reader", PASSWORD).status_code == 429
    call_command("axes_reset", verbosity=0)
    assert log_in(client, "reader", PASSWORD).status_code == 302
    assert logged_in(client)


def test_an_admin_deleting_the_access_attempt_clears_the_lockout(client, user, staff_user):
    fail(client, 10)
    attempt = AccessAttempt.objects.get(username="reader", ip_address=HERE)
    assert attempt.failures_since_start >= 5

    admin = client.__class__()
    admin.force_login(staff_user)
    listing = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200 and "reader" in listing.content.decode()
    delete = admin.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )
    assert delete.status_code == 302
    assert not AccessAttempt.objects.exists()

    assert log_in(client, "reader", PASSWORD).status_code == 302
    assert logged_in(client)


def test_a_successful_login_before_the_limit_clears_the_count(client, user):
    fail(client, 4)
    assert log_in(client, "reader", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username="reader").exists()
    client.logout()
    # Four more failures are four, not eight: the right password still works.
    fail(client, 4)
    assert log_in(client, "reader", PASSWORD).status_code == 302
    assert logged_in(client)


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(client, user):
    # A client rotating the header does not escape its lockout.
    for index in range(10):
        log_in(client, "reader", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{index}")
    response = log_in(client, "reader", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.200")
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {HERE}


def test_behind_one_trusted_proxy_the_client_is_the_last_forwarded_address(client, user, settings):
    settings.CATALOG_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    # The client puts its own (forged) entries first; the proxy appends the real one.
    for index in range(10):
        log_in(
            client, "reader", "wrong", address=proxy,
            HTTP_X_FORWARDED_FOR=f"198.51.100.{index}, 203.0.113.7",
        )  # fmt: skip
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    locked = log_in(client, "reader", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert locked.status_code == 429
    # Another client behind the same proxy is not locked out.
    other = log_in(client, "reader", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert other.status_code == 302


def test_client_ip_address_rules(rf, settings):
    from smartmaint_site.login_throttle import client_ip_address

    def address(remote: str, forwarded: str | None = None) -> str | None:
        extra = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
        return client_ip_address(rf.get("/", REMOTE_ADDR=remote, **extra))

    settings.CATALOG_TRUSTED_PROXY_COUNT = 0
    assert address("192.0.2.1", "203.0.113.7") == "192.0.2.1"
    settings.CATALOG_TRUSTED_PROXY_COUNT = 2
    assert address("10.0.0.2", "1.1.1.1, 203.0.113.7, 10.0.0.1") == "203.0.113.7"
    # Fewer entries than our proxies: the request did not come through them all.
    assert address("10.0.0.2", "203.0.113.7") == "10.0.0.2"
    assert address("10.0.0.2", "not-an-address, 10.0.0.1") == "10.0.0.2"
    assert address("10.0.0.2", " 2001:db8::1 , 10.0.0.1") == "2001:db8::1"
