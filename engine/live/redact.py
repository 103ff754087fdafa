"""A feed URL as it may be shown: credentials masked before anything is logged, recorded or
printed (STYLE.md rule 5: secrets never in a log line, the tape or a broadcast).

A feed URL can carry credentials two ways: userinfo (``ws://user:password@host/...``, which
websockets sends as HTTP Basic auth) and query parameters (``?apikey=...&token=...``, as some
gateways and proxies take them). ``FeedUrl.shown`` masks the whole userinfo and the value of
every query or fragment parameter whose name looks secret (``SECRET_NAME``), keeping the rest,
so a message still says which feed it means: ``ws://***@127.0.0.1:8765/trade-api/ws/v2?apikey=***``.
``FeedUrl.scrub`` masks the same secret values wherever they occur in a text (an exception's
message, which may quote the URL). The connection itself uses ``FeedUrl.real``.

The store's URLs (``--db``) are masked the same way by ``events.store.open.redact``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

MASK = "***"
SECRET_NAME = re.compile(r"key|token|secret|pass|pwd|auth|sig|cred|session|jwt|bearer|code", re.IGNORECASE)
"""A query parameter whose name contains one of these is a secret (``apikey``, ``api_key``,
``access_token``, ``password``, ``signature``, ``X-Amz-Credential``, ``session_id`` ...)."""


class FeedUrl:
    """A feed URL: ``real`` for connecting, ``shown`` for everything else."""

    __slots__ = ("real", "secrets", "shown")

    def __init__(self, url: str) -> None:
        self.real = url
        found: list[str] = []
        try:
            parts = urlsplit(url)
            netloc = parts.netloc
            if "@" in netloc:
                userinfo, _, hostport = netloc.rpartition("@")
                found += [userinfo, userinfo.partition(":")[2]]  # the user alone is no secret
                netloc = f"{MASK}@{hostport}"
            query, fragment = _mask_params(parts.query, found), _mask_params(parts.fragment, found)
            self.shown = urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
        except ValueError:  # urlsplit refuses some malformed netlocs: show nothing of it
            self.shown = "<unparseable feed URL>"
            found.append(url)
        # each secret as written and decoded, the longest first (a part never unmasks a whole);
        # shorter than 4 characters is no secret worth garbling a message for
        variants = {v for s in found for v in (s, unquote(s)) if len(v) >= 4}
        self.secrets = tuple(sorted(variants, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        """``text`` with the real URL and every secret in it masked."""
        text = text.replace(self.real, self.shown)
        for s in self.secrets:
            text = text.replace(s, MASK)
        return text

    def __repr__(self) -> str:
        return f"FeedUrl({self.shown!r})"

    __str__ = __repr__


def _mask_params(text: str, found: list[str]) -> str:
    """``a=1&apikey=XYZ`` -> ``a=1&apikey=***``; the masked values, as written and decoded, are
    added to ``found``. Everything else is kept as written."""
    if "=" not in text:
        return text
    out = []
    for piece in text.split("&"):
        name, eq, value = piece.partition("=")
        if eq and value and SECRET_NAME.search(unquote_plus(name)):
            found += [value, unquote_plus(value)]
            piece = f"{name}={MASK}"
        out.append(piece)
    return "&".join(out)
