"""WSGI entry point: ``gunicorn smartmaint_site.wsgi``."""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmaint_site.settings")

application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (configured by the line above)

if settings.USING_DEV_SECRET_KEY and not settings.ALLOW_DEV_SECRET_KEY:
    # A known key would let anyone forge session cookies: never serve with it.
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. Set it (see .env.example), or set DJANGO_DEBUG=1 "
        "for local development."
    )
