"""URLs of registered-model pages, built so that no browser rewrites a model's name.

Model routes take a ``<path:name>`` (older MLflow stores allow "/" in a name), and
``reverse()`` leaves "/", "." and ".." as they are: a model named ``a/../../admin``
got ``/models/a/../../admin/``, which browsers normalise to ``/admin/``. Here the name
is one percent-encoded segment (every character outside RFC 3986's unreserved set,
"/" included, becomes ``%XX``), so no part of it is a "." or ".." segment. A name that
is itself "." or ".." (MLflow refuses those today) would still be one: it is glued to
the preceding segment with an encoded slash instead (``/models%2F../``), as
``catalog.artifact_browser`` does for artifact keys. The server decodes the path before
matching, so the view receives the real name.
"""

from __future__ import annotations

from urllib.parse import quote

from django.urls import reverse

# Unreserved characters survive quote(); the placeholder is replaced after reverse().
_PLACEHOLDER = "__catalog_model_name__"
_DOT_SEGMENTS = (".", "..")


def model_path(name: str) -> str:
    """``name`` as one URL path segment: every character outside A-Z a-z 0-9 - . _ ~ encoded."""
    return quote(str(name), safe="")


def _model_route(view: str, name: str, *args) -> str:
    url = reverse(f"catalog:{view}", args=[_PLACEHOLDER, *args])
    before, _, after = url.partition(_PLACEHOLDER)
    if str(name) in _DOT_SEGMENTS:
        return before.rstrip("/") + "%2F" + model_path(name) + after
    return before + model_path(name) + after


def model_url(name: str) -> str:
    """The page of the registered model ``name``."""
    return _model_route("model_detail", name)


def model_version_url(name: str, version: int) -> str:
    """The page of version ``version`` of the registered model ``name``."""
    return _model_route("model_version_detail", name, int(version))


def model_chart_url(name: str) -> str:
    """The versions chart of the registered model ``name`` (add ``?metric=``)."""
    return _model_route("chart_model_versions", name)
