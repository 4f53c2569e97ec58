"""One POST of a JSON body to a webhook URL, with the standard library.

No redirect is followed (a 3xx is a failed delivery: the receiver must give its final
URL), the wait is bounded by the timeout, and at most ``RESPONSE_MAX_BYTES`` of the
answer are read. Never raises: every outcome, an error included, is a ``PostOutcome``.
Runs on the delivery threads: it touches no database.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass

RESPONSE_MAX_BYTES = 4096
ERROR_MAX_CHARS = 500
USER_AGENT = "SmartMaint-catalogue-webhooks/1"


@dataclass(frozen=True)
class PostOutcome:
    """How one POST went: delivered (a 2xx), or why not."""

    delivered: bool
    status: int | None = None
    error: str = ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_json(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> PostOutcome:
    """POST ``body`` (JSON) to ``url``; a 2xx answer within ``timeout`` is a delivery."""
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked: targets.py
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(RESPONSE_MAX_BYTES)
            return PostOutcome(delivered=True, status=response.status)
    except urllib.error.HTTPError as error:
        with error:
            kind = "a redirect, not followed" if 300 <= error.code < 400 else "refused"
            return PostOutcome(
                delivered=False, status=error.code, error=f"HTTP {error.code}: {kind}"
            )
    except (OSError, http.client.HTTPException, ValueError) as error:
        # URLError and timeouts are OSErrors; a malformed answer an HTTPException.
        reason = getattr(error, "reason", None) or error
        return PostOutcome(delivered=False, error=_cut(f"{type(error).__name__}: {reason}"))


def _cut(text: str) -> str:
    return text if len(text) <= ERROR_MAX_CHARS else text[: ERROR_MAX_CHARS - 1] + "…"
