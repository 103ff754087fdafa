"""What paper trading broadcasts to watchers: one JSON message per change, built from the
projections (the same numbers ``replay`` prints), never from a second calculation."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from events.types import Fill, VenueFill
from projections.digest import snapshot
from projections.state import State

_enc = msgspec.json.Encoder(order="sorted")


def state_message(st: State, fills: Sequence[Fill | VenueFill]) -> bytes:
    """``{"type": "state", seq, ts, cash, portfolio_value, positions, stats, open_orders, fills}``;
    money, prices and counts in the integer units of ``events.units``."""
    snap = snapshot(st)
    return _enc.encode({
        "type": "state",
        "session": snap.session,
        "seq": snap.last_seq,
        "ts": snap.ts,
        "cash": snap.cash,
        "portfolio_value": snap.portfolio_value,
        "realized": snap.realized,
        "unrealized": snap.unrealized,
        "fees": snap.fees,
        "positions": snap.positions,
        "open_orders": snap.open_orders,
        "stats": snap.stats,
        "fills": list(fills),
    })
