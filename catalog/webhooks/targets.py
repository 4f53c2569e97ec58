"""Which webhook URLs the catalogue may POST to.

Staff type the URL in the admin, and the sync POSTs to it from inside the network the
catalogue runs in: a URL pointing back at the catalogue (or at this machine) would make
it call itself. So, unless ``DEBUG``: ``https://`` only, and never a host the
catalogue answers to (``ALLOWED_HOSTS``, the host the admin was reached by) nor a
loopback name or address of this machine. With ``DEBUG`` a developer's receiver on
``http://127.0.0.1:<port>`` is fine, but never the origin serving the admin itself.
The check reads the URL only (no DNS): it is a guard against mistakes by staff, who are
trusted, not against a hostile resolver.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def webhook_url_problem(url: str, *, request_host: str | None = None) -> str | None:
    """Why the catalogue must not POST to ``url``, or None when it may.

    ``request_host`` is the ``Host`` the admin was reached by ("host" or "host:port"),
    when there is a request; the sync, which has none, checks the rest again before
    each send.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "This is not a valid URL."
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("https", "http") or not host:
        return "Only http(s) URLs with a host name can receive webhooks."
    if parts.scheme != "https" and not settings.DEBUG:
        return "Only https:// URLs can receive webhooks (http:// only with DEBUG)."
    if parts.username or parts.password:
        return "Put no user name or password in the URL: the body is signed with the secret."
    if request_host and _same_origin(host, port or _default_port(parts.scheme), request_host):
        return "This is the catalogue's own address: it cannot send webhooks to itself."
    loopback = _is_loopback(host)
    if not settings.DEBUG and (loopback or host in _machine_names()):
        return "This names the machine the catalogue runs on: webhooks go to other hosts."
    own_hosts = [pattern for pattern in settings.ALLOWED_HOSTS if pattern != "*"]
    # ALLOWED_HOSTS spells IPv6 addresses as a Host header does: in brackets.
    as_host_header = f"[{host}]" if ":" in host else host
    if validate_host(as_host_header, own_hosts) and not (settings.DEBUG and loopback):
        return "This is one of the catalogue's own host names (ALLOWED_HOSTS)."
    return None


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _same_origin(host: str, port: int, request_host: str) -> bool:
    request_domain, request_port = split_domain_port(request_host)
    if not request_domain:
        return False
    request_domain = request_domain.strip("[]")
    # The admin's own Host header carries no port when it is the scheme's default.
    return request_domain == host.strip("[]") and int(request_port or port) == port


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    address = mapped or address
    return address.is_loopback or address.is_unspecified


def _machine_names() -> set[str]:
    name = socket.gethostname().lower()
    return {name, name.split(".", 1)[0]} if name else set()
