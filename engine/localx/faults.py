"""Seeded venue faults of the local exchange, and the settings in which the venue differs from
a client's own paper model.

Faults (``--venue-faults http429=P,http500=P,timeout_after_accept=P,self_cancel=P,drop_private=N``):

- ``http429`` = P: a REST request is refused before anything is done, 429 with Kalshi's body
  ``{"error":"too many requests"}`` and no ``Retry-After`` (kalshi-protocol.md §0.6);
- ``http500`` = P: a REST request is refused before anything is done, 500 with Kalshi's error
  body (code ``internal_server_error``; the OpenAPI ``ErrorResponse`` shape, §5.4);
- ``timeout_after_accept`` = P: a write request (create, cancel, amend, decrease, batched) IS
  carried out, and then its reply is lost: held ``hang_s`` seconds (default 0), then the
  connection is dropped with no HTTP reply. The client must find out what happened by reading
  (GET /portfolio/orders by client_order_id) — the order exists;
- ``self_cancel`` = P: after every played batch, each resting order is cancelled by the venue
  with probability P, reported on ``user_orders`` with ``last_update_reason``
  ``SelfTradeCancel`` (one of Kalshi's reasons, §3.5);
- ``drop_private`` = N: the N-th private subscription (``fill``, ``user_orders``,
  ``market_positions``; counted over the server) gets Kalshi's terminal error 10 ("Channel
  error", AsyncAPI "Terminal Errors", §0.2) instead of its first frame, and is gone: the client
  must subscribe again and reconcile what it missed over REST.

Draws come from one ``random.Random`` seeded with the server seed: one draw per REST request
(429, then 500, then for a write the timeout) and one per resting order per batch
(``self_cancel``), so a run with the same requests in the same order is reproducible.
"""

from __future__ import annotations

import random

import msgspec

from events.errors import BadInput

from ..live.faults import parse_settings

_FLOATS = ("http429", "http500", "timeout_after_accept", "self_cancel")
_INTS = ("drop_private",)


class VenueFaults(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Probabilities (0..1) and the private-subscription number (0: never); see the module."""

    http429: float = 0.0
    http500: float = 0.0
    timeout_after_accept: float = 0.0
    self_cancel: float = 0.0
    drop_private: int = 0

    def __post_init__(self) -> None:
        for name in _FLOATS:
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise BadInput(f"venue fault {name}={p}: a probability must be between 0 and 1")
        if self.http429 + self.http500 > 1.0:
            raise BadInput("venue faults: http429 + http500 must not exceed 1")
        if self.drop_private < 0:
            raise BadInput(f"venue fault drop_private={self.drop_private}: a subscription number must be >= 0")


def parse_venue_faults(text: str) -> VenueFaults:
    """``"http429=0.1,drop_private=1"`` → ``VenueFaults``; "" means none; a bad item is a
    one-line ``BadInput`` naming it (``engine.live.faults.parse_settings``)."""
    return msgspec.convert(parse_settings(text, "venue faults", _FLOATS, _INTS), VenueFaults)


class VenueDice:
    """The venue's fault decisions, one seeded stream (see the module docstring)."""

    def __init__(self, spec: VenueFaults, seed: int) -> None:
        self.spec = spec
        self.rng = random.Random(f"tradetape-venue:{seed}")
        self.private_subs = 0

    def refuse(self) -> int | None:
        """429 or 500 for this request, or None (one draw, only when either fault is on)."""
        s = self.spec
        if not (s.http429 or s.http500):
            return None
        r = self.rng.random()
        if r < s.http429:
            return 429
        if r < s.http429 + s.http500:
            return 500
        return None

    def lose_reply(self) -> bool:
        return bool(self.spec.timeout_after_accept) and self.rng.random() < self.spec.timeout_after_accept

    def self_cancel(self) -> bool:
        return bool(self.spec.self_cancel) and self.rng.random() < self.spec.self_cancel

    def new_private(self) -> bool:
        """A private subscription is made: whether it is the one to drop."""
        self.private_subs += 1
        return self.private_subs == self.spec.drop_private
