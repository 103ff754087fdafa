"""Commands: what a policy asks the paper exchange to do (imperative; the results are events).

Prices are in the order's own leg (a NO order's price is a NO price), in $0.0001 units;
counts in 0.01 contract units. Kalshi has no market orders: a marketable order is a limit at a
crossing price, usually ``tif="ioc"``. ``stp`` is Kalshi's ``self_trade_prevention_type``
(``engine.sim.match``).
"""

from __future__ import annotations

import msgspec

from events.types import Action, SelfTradePrevention, Side, TimeInForce


class PlaceOrder(msgspec.Struct, frozen=True, kw_only=True, tag="place", tag_field="cmd", forbid_unknown_fields=True):
    market: str
    action: Action
    side: Side
    price: int
    count: int
    tif: TimeInForce = "gtc"
    post_only: bool = False
    client_order_id: str = ""
    stp: SelfTradePrevention = "taker_at_cross"


class CancelOrder(msgspec.Struct, frozen=True, kw_only=True, tag="cancel", tag_field="cmd", forbid_unknown_fields=True):
    order_id: str


class AmendOrder(msgspec.Struct, frozen=True, kw_only=True, tag="amend", tag_field="cmd", forbid_unknown_fields=True):
    """Kalshi semantics: ``count`` is the new TOTAL (already filled + desired resting) and may
    only shrink the order; ``price`` (own leg) may change. Either may be omitted."""

    order_id: str
    price: int | None = None
    count: int | None = None


Command = PlaceOrder | CancelOrder | AmendOrder


def describe(cmd: Command) -> str:
    """A short, deterministic description for ``ActionTaken.action``."""
    return msgspec.json.encode(cmd).decode()


_command = msgspec.json.Decoder(Command)


def parse_command(text: str) -> Command:
    """The command ``describe`` wrote (``ActionTaken.action``)."""
    return _command.decode(text)
