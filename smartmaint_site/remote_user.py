"""Single sign-on through an authenticating proxy: Django's remote-user support, configured.

The company's proxy (oauth2-proxy, mod_auth_openidc, nginx ``auth_request`` ...) signs
people in with the identity provider and forwards each request with the user's name in
a header, ``CATALOG_REMOTE_USER_HEADER`` (e.g. ``X-Forwarded-User``), and optionally
their groups in ``CATALOG_REMOTE_GROUPS_HEADER`` (comma- or space-separated).

Trust: a header is text any client can send. This is safe only when the catalogue is
reachable through that proxy alone (bound to 127.0.0.1 or a private network) and the
proxy sets the header on every request, replacing whatever the client sent. Django
reads ``X-Forwarded-User`` as ``HTTP_X_FORWARDED_USER``; a client's ``X_Forwarded_User``
maps to the same name, which is why the proxy must strip both spellings (oauth2-proxy
and nginx drop headers with underscores by default).

Behaviour: a request with the header signs in that user, created at their first visit;
a request without it, from a browser signed in through the header, is signed out (the
proxy no longer vouches for it). Users signed in with a local password keep their
session either way, so break-glass admin accounts still work.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.backends import RemoteUserBackend
from django.contrib.auth.middleware import RemoteUserMiddleware
from django.contrib.auth.models import Group, Permission

# Longer than any real user or group name; a header past it is refused, not cut.
MAX_HEADER_CHARS = 4096
GROUP_SEPARATORS = re.compile(r"[,\s]+")
# What staff from the proxy may do in the admin: view everything mirrored, edit the
# curated fields (descriptions, notes, category overrides). Synced fields are read-only
# in the admin whatever the permission.
EDITORS_GROUP = "Catalogue editors"
EDITED_MODELS = ("experiment", "run", "registeredmodel", "modelversion", "loggedmodel")


def editors_group() -> Group:
    """The group that lets staff edit curated fields, created with its permissions."""
    group, created = Group.objects.get_or_create(name=EDITORS_GROUP)
    if created:
        codenames = [
            f"{action}_{model}" for model in EDITED_MODELS for action in ("view", "change")
        ]
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="catalog", codename__in=codenames)
        )
    return group


def meta_key(header: str) -> str:
    """The ``request.META`` key of an HTTP header: ``X-Forwarded-User`` ->
    ``HTTP_X_FORWARDED_USER``."""
    return "HTTP_" + header.strip().upper().replace("-", "_")


class ProxyRemoteUserMiddleware(RemoteUserMiddleware):
    """Signs in the user named by ``CATALOG_REMOTE_USER_HEADER``."""

    force_logout_if_no_header = True

    def __init__(self, get_response):
        super().__init__(get_response)
        self.header = meta_key(settings.CATALOG_REMOTE_USER_HEADER)

    def process_request(self, request):
        value = request.META.get(self.header, "")
        if len(value) > MAX_HEADER_CHARS or not value.strip():
            # Treated as no header: an empty or absurd name signs nobody in.
            request.META.pop(self.header, None)
        return super().process_request(request)


class ProxyRemoteUserBackend(RemoteUserBackend):
    """Creates users at their first request; staff from the groups header."""

    create_unknown_user = True

    def clean_username(self, username: str) -> str:
        return username.strip()

    def configure_user(self, request, user, created=True):
        """Set ``is_staff`` and the editors group from the groups header, if configured.

        Run at each sign-in through the header (not on every request of a session), so
        a change of groups takes effect at the user's next sign-in.
        """
        if created:
            # Signed in by the proxy only: no password that the login form could check.
            user.set_unusable_password()
            user.save(update_fields=["password"])
        staff_groups = set(settings.CATALOG_REMOTE_STAFF_GROUPS)
        header = settings.CATALOG_REMOTE_GROUPS_HEADER
        if not (header and staff_groups) or request is None:
            return user
        raw = request.META.get(meta_key(header), "")[:MAX_HEADER_CHARS]
        groups = {group for group in GROUP_SEPARATORS.split(raw) if group}
        is_staff = bool(groups & staff_groups)
        if user.is_staff != is_staff:
            user.is_staff = is_staff
            user.save(update_fields=["is_staff"])
        if is_staff:
            user.groups.add(editors_group())
        else:
            user.groups.remove(*Group.objects.filter(name=EDITORS_GROUP))
        return user
