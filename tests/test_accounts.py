"""Logging out says so on the login page, to that browser only; /favicon.ico needs no login."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from catalog.views.accounts import LOGGED_OUT_MESSAGE

pytestmark = pytest.mark.django_db


def test_after_logging_out_the_login_page_says_so_once(reader_client):
    response = reader_client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    html = response.content.decode()
    assert LOGGED_OUT_MESSAGE in html
    assert 'role="status"' in html
    # Said once: a later visit to the login page is a plain login page.
    assert LOGGED_OUT_MESSAGE not in reader_client.get(reverse("login")).content.decode()
    # Logged out for real: a catalogue page sends the browser to log in.
    assert reader_client.get(reverse("catalog:home"))["Location"].startswith(reverse("login"))


def test_the_message_is_never_shown_to_another_browser(reader_client):
    reader_client.post(reverse("logout"))
    stranger = Client()
    assert LOGGED_OUT_MESSAGE not in stranger.get(reverse("login")).content.decode()
    assert "no-cache" in stranger.get(reverse("login"))["Cache-Control"]
    assert LOGGED_OUT_MESSAGE in reader_client.get(reverse("login")).content.decode()


def test_a_plain_visit_to_the_login_page_says_nothing_about_logging_out(client):
    assert LOGGED_OUT_MESSAGE not in client.get(reverse("login")).content.decode()


def test_favicon_ico_redirects_to_the_static_icon_without_a_login(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert "max-age=86400" in response["Cache-Control"]
    assert response["Location"].endswith("catalog/favicon.ico")
    assert finders.find("catalog/favicon.ico") is not None


def test_the_icons_are_real_files_linked_from_every_page(client, reader_client):
    from PIL import Image

    with Image.open(finders.find("catalog/favicon.ico")) as icon:
        assert icon.format == "ICO"
        assert (32, 32) in icon.info["sizes"]
    with open(finders.find("catalog/favicon.svg"), encoding="utf-8") as svg:
        assert svg.read().startswith("<svg ")
    for page in (client.get(reverse("login")), reader_client.get(reverse("catalog:home"))):
        html = page.content.decode()
        assert 'rel="icon" href="/static/catalog/favicon.svg" type="image/svg+xml"' in html
