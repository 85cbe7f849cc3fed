"""Which web pages may open the WebSocket.

Browsers let any page open a WebSocket to any host, cookies and all, and no CORS preflight guards it:
without this check, with no API key set, any site a user visits could drive a server on their machine.
Browsers always send ``Origin``; other clients need not, and are judged by the API key alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from .settings import Settings

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def origin_allowed(connection: HTTPConnection, settings: Settings) -> bool:
    """No ``Origin`` (not a browser), the server's own, a localhost page, or one the settings allow
    (``ws_origins``, ``cors_origins``; ``*``: any)."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    allowed = {*settings.ws_origins, *settings.cors_origins}
    if "*" in allowed or origin in allowed:
        return True
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError:  # not a URL ("null" from a sandboxed page parses, as no host)
        return False
    same = parts.netloc != "" and parts.netloc == connection.headers.get("host")
    return same or host in LOCAL_HOSTS
