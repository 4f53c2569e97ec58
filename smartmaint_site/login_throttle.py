"""The two hooks django-axes calls for the login throttle (settings: "Login throttling").

* ``client_ip_address``: the address a lockout is keyed by. ``REMOTE_ADDR``, unless
  ``CATALOG_TRUSTED_PROXY_COUNT`` proxies of ours stand in front: each appends the
  address it received the request from to ``X-Forwarded-For``, so the client is the
  entry that many from the right. Entries further left came from the client and prove
  nothing. (Not django-ipware: its proxy count expects the proxies' own addresses in
  the header, which nginx's ``$proxy_add_x_forwarded_for`` does not add, and it then
  finds no address at all.)
* ``lockout_response``: the login page itself, with the lockout message, as 429 with
  ``Retry-After``, instead of axes' bare text.
"""

from __future__ import annotations

import ipaddress
import math

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip_address(request: HttpRequest) -> str | None:
    """The client's address as this site's proxies saw it (see the module docstring)."""
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.CATALOG_TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [
        entry.strip()
        for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if entry.strip()
    ]
    if len(forwarded) < proxies:
        return remote  # not through all of our proxies: the header is the client's own
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """The login page, saying this user name is locked out from here, and for how long."""
    cool_off = settings.AXES_COOLOFF_TIME
    seconds = math.ceil(cool_off.total_seconds())
    username = request.POST.get("username", "") if request.method == "POST" else ""
    response = render(
        request,
        "registration/login.html",
        {
            "form": AuthenticationForm(request, initial={"username": username}),
            "next": request.POST.get("next", request.GET.get("next", "")),
            "locked_out": True,
            "cooloff_minutes": max(1, math.ceil(seconds / 60)),
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
