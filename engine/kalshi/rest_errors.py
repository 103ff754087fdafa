"""What can go wrong on a Kalshi REST call, as one exception family.

Kalshi answers an error with ``{"code", "message", "details", "service"}`` (OpenAPI
``ErrorResponse``; kalshi-protocol.md §5.3) and a 429 with ``{"error": "too many requests"}``
(§0.6). ``venue_error`` maps a status and body to a class. Messages are one line, built only
from the status, Kalshi's code and message and the request's method and path: never a header,
so never the key id or a signature.
"""

from __future__ import annotations

import msgspec

from events.errors import TradetapeError

from .order_wire import ErrorBody

_MAX_TEXT = 200


def _clean(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= _MAX_TEXT else one[: _MAX_TEXT - 1] + "…"


class VenueError(TradetapeError):
    """A Kalshi REST call failed: ``status`` (0 when no HTTP answer came), Kalshi's ``code`` and
    ``message``. Exit code 3: a venue failure stops a live run (kalshi-protocol §5.3)."""

    exit_code = 3

    def __init__(self, status: int, code: str, message: str, *, where: str = "") -> None:
        self.status, self.code, self.message, self.where = status, _clean(code), _clean(message), _clean(where)
        head = f"{self.where}: " if self.where else ""
        super().__init__(f"{head}{status} {self.code or '-'}: {self.message or '-'}")


class VenueRejected(VenueError):
    """A 4xx business error: Kalshi refused the request and changed nothing (e.g.
    ``insufficient_balance``, ``market_closed``, ``invalid_price``, ``post_only_rejected``,
    ``self_trade``; 409 a duplicate client order id, which for a retried create means the first
    try was placed). Source: OpenAPI ``ErrorResponse``; kalshi-protocol §5.3."""


class RateLimited(VenueError):
    """429 after every backoff retry was spent: nothing was done (kalshi-protocol §0.6)."""


class VenueUnavailable(VenueError):
    """A 5xx, or no connection. A read changed nothing. A write answered 5xx may or may not
    have been applied: reconcile by its client order id (kalshi-protocol §5.1)."""


class VenueTimeout(VenueError):
    """The request was sent and no answer came within the timeout: its outcome is UNKNOWN.

    The order may have been placed, cancelled or amended, or not. The caller must reconcile
    (read the order back by its client order id) and may re-send a create only with the SAME
    client order id, never with a new one (kalshi-protocol §0.5: the id deduplicates)."""


def parse_error_body(data: bytes) -> ErrorBody:
    """Kalshi's error body; anything else (HTML from a proxy, empty) is an empty body."""
    try:
        return msgspec.json.decode(data, type=ErrorBody)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
        return ErrorBody()


def venue_error(status: int, data: bytes, where: str) -> VenueError:
    """The exception for an HTTP ``status`` >= 400 with body ``data`` (OpenAPI ``ErrorResponse``;
    kalshi-protocol §0.6 for 429)."""
    body = parse_error_body(data)
    code = body.code or ("too_many_requests" if status == 429 else "")
    message = body.message or body.error or body.details
    cls: type[VenueError]
    if status == 429:
        cls = RateLimited
    elif status >= 500:
        cls = VenueUnavailable
    else:
        cls = VenueRejected
    return cls(status, code, message, where=where)
