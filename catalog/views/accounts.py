"""Small site-wide views around logging in and out, and the browser's favicon request."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views.generic import RedirectView

LOGGED_OUT_MESSAGE = "You are logged out."


class LogoutWithMessageView(auth_views.LogoutView):
    """Django's logout, then the login page says so.

    The note is a message (``django.contrib.messages``), kept in the browser's cookie for
    the one next page: the login page, which the page cache never stores, so no other
    visitor sees it.
    """

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, LOGGED_OUT_MESSAGE)
        return response


FAVICON_REDIRECT_MAX_AGE_S = 60 * 60 * 24


@login_not_required
def favicon(request):
    """``/favicon.ico``, which browsers ask for on their own: the static icon, no login.

    Before it, every new browser session logged a 404. A temporary redirect kept for a
    day, not a permanent one: in production the static URL carries the file's hash
    (ManifestStaticFilesStorage), and a browser would keep a permanent redirect to an
    old hash after a deploy.
    """
    response = RedirectView.as_view(url=static("catalog/favicon.ico"), permanent=False)(request)
    patch_cache_control(response, max_age=FAVICON_REDIRECT_MAX_AGE_S)
    return response
