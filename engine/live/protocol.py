"""The command side of one feed-server connection (kalshi-protocol.md §2), sans I/O.

``Session.handle`` takes one client text frame and returns what to send back, in order: reply
bytes, and sequenced frames (``Seq``: the subscription, plus the frame split around its sid and
seq) that the connection numbers (data frames also pass its fault injector). A bad command is
answered with Kalshi's numbered error and changes nothing; it never raises.

Commands (§2.1): ``subscribe`` (one ``subscribed`` reply and a new sid per channel, sids from 1
per connection), ``unsubscribe`` (``unsubscribed`` per sid), ``list_subscriptions`` (an ``ok``
with the list and no sid), ``update_subscription`` (``sid`` or ``sids`` naming exactly one
subscription; ``add_markets``/``delete_markets`` answer ``ok`` with the full ticker list,
``get_snapshot`` answers with snapshots carrying the command id).

Numbering (§0.1; AsyncAPI ``okResponsePayload``, ``unsubscribedResponsePayload``,
``errorResponsePayload``): the ``ok`` and ``unsubscribed`` replies and an error scoped to a
subscription (one that names a known sid) take the subscription's next ``seq``, exactly like
its data frames: a real demo recording runs ``ok``=1, snapshot=2, ``ok``=3 ... with no hole.
They are never dropped or reordered by fault injection (replies are not data). An error on a
subscription of an unsequenced channel (``ticker``, private channels) carries its sid only.

Channels: ``orderbook_delta`` (needs a market: code 14; ``use_yes_price``), ``trade`` (optional
market filter) and ``market_lifecycle_v2`` (no filter: every market) carry data. The other
channels of §2.1 are accepted and stay silent; any other name is code 8. Authentication is the
upgrade's business (``engine.live.server``): every accepted connection may use every channel.
``market_id``/``market_ids`` are not supported (code 11). An unfiltered ``trade`` subscription
cannot add or delete markets (code 11); lifecycle subscriptions have no markets (code 13).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from events.codec import DECODE_ERRORS
from events.types import Level

from . import frames as fr

DATA_CHANNELS = frozenset({fr.BOOK, fr.TRADE, fr.LIFECYCLE})
KNOWN_CHANNELS = DATA_CHANNELS | {
    "ticker", "fill", "market_positions", "multivariate_market_lifecycle", "communications",
    "order_group_updates", "user_orders", "cfbenchmarks_value", "cfbenchmarks_value_5hz", "pyth_value",
}  # fmt: skip
UNSEQUENCED = frozenset({"ticker", "fill", "market_positions", "user_orders"})  # §3: no seq on these
ERRORS = {
    1: "Unable to process message", 2: "Params required", 3: "Channels required",
    4: "Subscription IDs required", 5: "Unknown command", 7: "Unknown subscription ID",
    8: "Unknown channel name", 9: "Authentication required", 11: "Invalid parameter",
    12: "Exactly one subscription ID is required", 13: "Unsupported action",
    10: "Channel error", 14: "Market Ticker required", 15: "Action required", 25: "Subscription buffer overflow",
}  # fmt: skip
ACTIONS = ("add_markets", "delete_markets", "get_snapshot")

BookOf = Callable[[str], tuple[list[Level], list[Level]]]
"""(YES levels, NO levels) of a market's current true book; empty for an unknown market."""


class Sub:
    """One subscription: ``markets`` None = every market; ``seq`` = last seq used."""

    __slots__ = ("channel", "markets", "seq", "sid", "use_yes_price")

    def __init__(self, sid: int, channel: str, markets: list[str] | None, use_yes_price: bool) -> None:
        self.sid = sid
        self.channel = channel
        self.markets: dict[str, None] | None = None if markets is None else dict.fromkeys(markets)
        self.use_yes_price = use_yes_price
        self.seq = 0


class Seq(msgspec.Struct, frozen=True):
    """A sequenced frame to number: ``frames.join(head, sub.sid, seq, tail)``; ``reply``: a
    command reply (numbered, never passed through fault injection, sent even after its
    subscription is gone)."""

    sub: Sub
    head: bytes
    tail: bytes
    reply: bool = False


Out = bytes | Seq


class CommandError(Exception):
    """A refused command; ``sub``: the subscription it is scoped to (its error is numbered)."""

    def __init__(self, code: int, detail: str = "", sub: Sub | None = None) -> None:
        super().__init__(f"{ERRORS[code]}: {detail}" if detail else ERRORS[code])
        self.code = code
        self.sub = sub


def error_frame(code: int, text: str, *, cmd_id: int = 0, sub: Sub | None = None) -> Out:
    """An ``error`` frame: numbered in ``sub``'s sequence when scoped to a sequenced subscription."""
    if sub is None:
        return fr.error(code, text, cmd_id=cmd_id)
    if sub.channel in UNSEQUENCED:
        return fr.reply("error", cmd_id=cmd_id, sid=sub.sid, msg={"code": code, "msg": text})
    head, tail = fr.envelope("error", fr.encode_msg({"code": code, "msg": text}), cmd_id=cmd_id)
    return Seq(sub, head, tail, reply=True)


def _tickers(params: dict[str, Any]) -> list[str] | None:
    """``market_ticker`` or ``market_tickers`` (mutually exclusive), deduplicated; None if absent."""
    if "market_id" in params or "market_ids" in params:
        raise CommandError(11, "market_id/market_ids are not supported; use market_ticker(s)")
    one, many = params.get("market_ticker"), params.get("market_tickers")
    if one is not None and many is not None:
        raise CommandError(11, "market_ticker and market_tickers are mutually exclusive")
    if one is not None:
        many = [one]
    if many is None or many == []:
        return None
    if not isinstance(many, list) or not all(isinstance(t, str) and t for t in many):
        raise CommandError(11, "market tickers must be non-empty strings")
    return list(dict.fromkeys(many))


class Session:
    """Subscriptions and command handling of one connection."""

    def __init__(self, book_of: BookOf) -> None:
        self.book_of = book_of
        self.subs: dict[int, Sub] = {}
        self.routes: dict[tuple[str, str], tuple[Sub, ...]] = {}
        self._next_sid = 1

    def route(self, key: tuple[str, str]) -> tuple[Sub, ...]:
        """The subscriptions a data frame of (channel, market) goes to; cached in ``routes``."""
        channel, market = key
        subs = tuple(
            s for s in self.subs.values() if s.channel == channel and (s.markets is None or market in s.markets)
        )
        self.routes[key] = subs
        return subs

    def handle(self, data: str | bytes) -> tuple[list[Out], bool]:
        """Outputs for one client frame, and whether it created a subscription."""
        cmd_id = 0
        try:
            obj = msgspec.json.decode(data)
            if not isinstance(obj, dict) or not isinstance(obj.get("id", 0), int) or isinstance(obj.get("id"), bool):
                raise CommandError(1, "a command is a JSON object with an integer id")
            cmd_id = obj.get("id", 0)
            cmd = obj.get("cmd")
            params = obj.get("params")
            if cmd == "list_subscriptions":
                return [self._list(cmd_id)], False
            if cmd not in ("subscribe", "unsubscribe", "update_subscription"):
                raise CommandError(5, repr(cmd))
            if params is None:
                raise CommandError(2)
            if not isinstance(params, dict):
                raise CommandError(11, "params must be an object")
            if cmd == "subscribe":
                return self._subscribe(cmd_id, params), True
            if cmd == "unsubscribe":
                return self._unsubscribe(cmd_id, params), False
            return self._update(cmd_id, params), False
        except CommandError as exc:
            return [error_frame(exc.code, str(exc), cmd_id=cmd_id, sub=exc.sub)], False
        except DECODE_ERRORS:
            return [fr.error(1, ERRORS[1], cmd_id=cmd_id)], False

    # --- commands ------------------------------------------------------------------------

    def _subscribe(self, cmd_id: int, params: dict[str, Any]) -> list[Out]:
        channels = params.get("channels")
        if not channels:
            raise CommandError(3)
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise CommandError(11, "channels must be a list of strings")
        for c in channels:
            if c not in KNOWN_CHANNELS:
                raise CommandError(8, repr(c))
        tickers = _tickers(params)
        if fr.BOOK in channels and tickers is None:
            raise CommandError(14, "orderbook_delta needs market_ticker or market_tickers")
        yes_price = params.get("use_yes_price", False)
        if not isinstance(yes_price, bool):
            raise CommandError(11, "use_yes_price must be a boolean")
        out: list[Out] = []
        for c in channels:
            sub = Sub(self._next_sid, c, None if c == fr.LIFECYCLE else tickers, yes_price and c == fr.BOOK)
            self._next_sid += 1
            self.subs[sub.sid] = sub
            out.append(fr.reply("subscribed", cmd_id=cmd_id, msg={"channel": c, "sid": sub.sid}))
            if c == fr.BOOK:
                out += [self.snapshot(sub, t) for t in tickers or ()]
        self.routes.clear()
        return out

    def _sids(self, params: dict[str, Any], code_if_none: int) -> list[int]:
        sids = params.get("sids")
        if sids is None or sids == []:
            raise CommandError(code_if_none)
        if not isinstance(sids, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in sids):
            raise CommandError(11, "sids must be a list of integers")
        unknown = [s for s in sids if s not in self.subs]
        if unknown:
            raise CommandError(7, ", ".join(map(str, unknown)))
        return list(dict.fromkeys(sids))

    def _unsubscribe(self, cmd_id: int, params: dict[str, Any]) -> list[Out]:
        out: list[Out] = []
        for sid in self._sids(params, 4):
            sub = self.subs.pop(sid)
            head, tail = fr.envelope("unsubscribed", None, cmd_id=cmd_id)
            out.append(Seq(sub, head, tail, reply=True))
        self.routes.clear()
        return out

    def _list(self, cmd_id: int) -> bytes:
        subs = [{"channel": s.channel, "sid": s.sid} for s in self.subs.values()]
        return fr.reply("ok", cmd_id=cmd_id, msg=subs)

    def _update(self, cmd_id: int, params: dict[str, Any]) -> list[Out]:
        if ("sid" in params) == ("sids" in params):
            raise CommandError(12, "give either sid or sids")
        if "sid" in params:
            params = {**params, "sids": [params["sid"]]}
        if not isinstance(params["sids"], list) or len(params["sids"]) != 1:
            raise CommandError(12)
        sub = self.subs[self._sids(params, 12)[0]]
        action = params.get("action")
        if action is None:
            raise CommandError(15, sub=sub)
        if (
            action not in ACTIONS
            or sub.channel == fr.LIFECYCLE
            or (action == "get_snapshot" and sub.channel != fr.BOOK)
        ):
            raise CommandError(13, f"{action!r} on {sub.channel}", sub=sub)
        try:
            tickers = _tickers(params)
        except CommandError as exc:
            raise CommandError(exc.code, str(exc).partition(": ")[2], sub=sub) from None
        if tickers is None:
            raise CommandError(14, sub=sub)
        if action == "get_snapshot":
            return [self.snapshot(sub, t, cmd_id=cmd_id) for t in tickers]
        if sub.markets is None:
            raise CommandError(11, f"sid {sub.sid} covers every market", sub=sub)
        added = [t for t in tickers if t not in sub.markets]
        if action == "add_markets":
            sub.markets.update(dict.fromkeys(added))
        else:
            for t in tickers:
                sub.markets.pop(t, None)
        self.routes.clear()
        head, tail = fr.envelope("ok", fr.encode_msg({"market_tickers": list(sub.markets)}), cmd_id=cmd_id)
        snaps = [self.snapshot(sub, t) for t in added] if action == "add_markets" and sub.channel == fr.BOOK else []
        return [Seq(sub, head, tail, reply=True), *snaps]

    def snapshot(self, sub: Sub, ticker: str, *, cmd_id: int = 0) -> Seq:
        """A snapshot of the true book now, on ``sub`` (its next seq), in ``sub``'s price legs."""
        yes, no = self.book_of(ticker)
        msg = fr.snapshot_msg(ticker, yes, no, use_yes_price=sub.use_yes_price)
        head, tail = fr.envelope("orderbook_snapshot", fr.encode_msg(msg), cmd_id=cmd_id)
        return Seq(sub, head, tail)
