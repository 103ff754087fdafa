"""Kalshi server frames in their real wire format (kalshi-protocol.md §0.1, §2.2, §3), and a
``Link`` that feeds them to the client's sans-I/O core (``engine.live.feed_core``) with no socket:
what the core emits is folded with ``projections.evolve`` as the live driver folds it, and what
it asks to send is kept, decoded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from events.types import EventBase
from events.units import ONE_DOLLAR, format_price, parse_price
from projections import State, evolve, initial_state

if TYPE_CHECKING:  # the builders above the Link need no feed core (tests/sim uses them alone)
    from engine.live.feed_core import FeedCore

A, B, C = "KXHIGHNY-26JUL01-B85.5", "KXHIGHNY-26JUL01-B87.5", "KXHIGHNY-26JUL01-T88"
EVENT = "KXHIGHNY-26JUL01"
T_MS = 1_782_907_200_000  # 2026-07-01T12:00:00Z


def raw(**fields: Any) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def subscribed(cmd_id: int, channel: str, sid: int) -> bytes:
    return raw(id=cmd_id, type="subscribed", msg={"channel": channel, "sid": sid})


def snapshot(sid: int, seq: int, market: str, yes: list[list[str]] | None = None, no: list[list[str]] | None = None,
             cmd_id: int | None = None) -> bytes:
    """A side's key is absent when the side is empty (AsyncAPI orderbookSnapshotPayload)."""
    msg: dict[str, Any] = {"market_ticker": market, "market_id": f"id-{market}"}
    if yes:
        msg["yes_dollars_fp"] = yes
    if no:
        msg["no_dollars_fp"] = no
    head = {"type": "orderbook_snapshot"} | ({"id": cmd_id} if cmd_id else {})
    return raw(**head, sid=sid, seq=seq, msg=msg)


def delta(sid: int, seq: int, market: str, side: str, price: str, count: str, ms: int = T_MS) -> bytes:
    """``ts`` RFC 3339 and ``ts_ms`` an integer, as the real recording has them."""
    s, r = divmod(ms, 1000)
    ts = datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{r:03d}Z"
    return raw(type="orderbook_delta", sid=sid, seq=seq, msg={
        "market_ticker": market, "market_id": f"id-{market}", "price_dollars": price, "delta_fp": count,
        "side": side, "ts": ts, "ts_ms": ms})  # fmt: skip


def trade(sid: int, seq: int, market: str, yes: str, count: str, taker: str, ms: int = T_MS) -> bytes:
    """``ts`` whole seconds and ``ts_ms`` (AsyncAPI tradePayload)."""
    no = format_price(ONE_DOLLAR - parse_price(yes))
    return raw(type="trade", sid=sid, seq=seq, msg={
        "trade_id": f"t-{sid}-{seq}", "market_ticker": market, "yes_price_dollars": yes, "no_price_dollars": no,
        "count_fp": count, "taker_side": taker, "taker_outcome_side": taker,
        "taker_book_side": "bid" if taker == "yes" else "ask", "is_block_trade": False, "ts": ms // 1000,
        "ts_ms": ms})  # fmt: skip


def ok(sid: int, seq: int, cmd_id: int, markets: list[str]) -> bytes:
    """An ``update_subscription`` reply: numbered in the sid's sequence (§0.1)."""
    return raw(id=cmd_id, sid=sid, seq=seq, type="ok", msg={"market_tickers": markets})


def error(code: int, text: str, *, sid: int | None = None, seq: int | None = None, cmd_id: int | None = None) -> bytes:
    f: dict[str, Any] = {"type": "error"}
    if cmd_id is not None:
        f["id"] = cmd_id
    if sid is not None:
        f["sid"] = sid
    if seq is not None:
        f["seq"] = seq
    return raw(**f, msg={"code": code, "msg": text})


FILL = {  # a real demo fill's fields (§0.7): no exchange_index, no client_order_id
    "trade_id": "c3b1e0f4-7a2d-4e9b-8c6a-5d4e3f2a1b09", "order_id": "8f7e6d5c-4b3a-4291-8e7d-6c5b4a392817",
    "market_ticker": A, "is_taker": True, "side": "yes", "action": "buy", "purchased_side": "yes",
    "outcome_side": "yes", "book_side": "bid", "yes_price_dollars": "0.1700", "count_fp": "5.52",
    "fee_cost": "0.054600", "post_position_fp": "5.52", "ts": T_MS // 1000, "ts_ms": T_MS,
}  # fmt: skip
USER_ORDER = {
    "order_id": "8f7e6d5c-4b3a-4291-8e7d-6c5b4a392817", "user_id": "u", "ticker": A, "status": "executed",
    "side": "yes", "is_yes": True, "outcome_side": "yes", "book_side": "bid", "yes_price_dollars": "0.1700",
    "fill_count_fp": "5.52", "remaining_count_fp": "0.00", "initial_count_fp": "5.52",
    "taker_fill_cost_dollars": "0.938400", "maker_fill_cost_dollars": "0.000000",
    "taker_fees_dollars": "0.054600", "maker_fees_dollars": "0.000000", "client_order_id": "",
    "created_time": "2026-07-01T12:00:00Z", "created_ts_ms": T_MS,
}  # fmt: skip
POSITION = {
    "user_id": "u", "market_ticker": A, "position_fp": "5.52", "position_cost_dollars": "0.938400",
    "realized_pnl_dollars": "0.000000", "fees_paid_dollars": "0.054600", "position_fee_cost_dollars": "0.054600",
    "volume_fp": "5.52",
}  # fmt: skip


class Link:
    """One connection of a core, driven by hand: ``feed`` frames, read ``sent`` commands."""

    def __init__(self, core: FeedCore) -> None:
        self.core = core
        self.state: State = initial_state()
        self.events: list[EventBase] = []
        self.sent: list[dict[str, Any]] = []
        self.ts = T_MS * 1_000_000
        self._take(core.connect(self.ts))

    def _take(self, events: list[EventBase]) -> list[EventBase]:
        for e in events:
            evolve(self.state, e)
        self.events += events
        self.sent += [json.loads(c) for c in self.core.commands()]
        return events

    def feed(self, *frames: bytes) -> list[EventBase]:
        out: list[EventBase] = []
        for f in frames:
            self.ts += 1_000_000
            out += self._take(self.core.receive(f, self.ts))
        return out

    def lose(self, kind: str = "disconnect") -> list[EventBase]:
        return self._take(self.core.lost(kind, "close code 1006", self.ts))  # type: ignore[arg-type]

    def reconnect(self) -> list[EventBase]:
        return self._take(self.core.connect(self.ts))

    def stale(self) -> dict[str, bool]:
        return {m: s.stale for m, s in sorted(self.state.markets.items())}

    def commands(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.sent if c["cmd"] == name]
